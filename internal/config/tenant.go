package config

import (
	"strconv"
	"strings"
)

// Tenant is what a Dataverse environment's metadata says about the columns
// and relationships the config uses, read by the tenant check at start and
// on reload (internal/tenant). A nil *Tenant means the metadata was not read
// (no --dynamics-url, or the read was refused); the planner then writes what
// suits Dataverse's defaults: the wrap code as text, and parties only of the
// tables every environment accepts.
type Tenant struct {
	// Disposition is options.fields.callDispositionField's type on phonecall.
	Disposition *Column
	// PhoneCallPartyTargets are the tables a phone call's from and to
	// accept (the party list columns' Targets), by logical name.
	PhoneCallPartyTargets []string
}

// ColumnKind is a column's Dataverse AttributeType, as far as ctibridge
// writes it differently.
type ColumnKind string

// Column kinds.
const (
	ColumnText   ColumnKind = "text"   // String, Memo
	ColumnWhole  ColumnKind = "whole"  // Integer
	ColumnChoice ColumnKind = "choice" // Picklist
	ColumnOther  ColumnKind = "other"  // anything ctibridge cannot write a wrap code to
)

// Column is one column's type and, for a choice, its options.
type Column struct {
	LogicalName string
	Kind        ColumnKind
	// AttributeType is Dataverse's name for the type (String, Picklist...),
	// for messages.
	AttributeType string
	Options       []Option
}

// Option is one option of a choice column.
type Option struct {
	Value int64
	Label string
}

// DefaultPartyTargets are the tables every environment's phone call from
// and to accept: the PhoneCall table reference lists account, contact and
// systemuser (lead only where Dynamics 365 Sales adds it).
var DefaultPartyTargets = []string{"account", "contact", "systemuser"}

// PartyTarget reports whether a phone call's parties may be records of the
// table logicalName in this environment.
func (t *Tenant) PartyTarget(logicalName string) bool {
	targets := DefaultPartyTargets
	if t != nil && t.PhoneCallPartyTargets != nil {
		targets = t.PhoneCallPartyTargets
	}
	for _, x := range targets {
		if strings.EqualFold(x, logicalName) {
			return true
		}
	}
	return false
}

// DispositionValue is what to write to the disposition column for a wrap
// code (and its label, when known): the code as text for a text column
// (or when the type is unknown), as an integer for a whole-number column,
// and the matching option's value for a choice. ok is false when the column
// cannot take the code: the write then leaves the column out rather than
// have Dataverse refuse the whole wrap-up (and the completion with it).
func (c *Column) DispositionValue(code, label string) (value any, ok bool) {
	if c == nil {
		return code, true
	}
	switch c.Kind {
	case ColumnText:
		return code, true
	case ColumnWhole:
		n, err := strconv.ParseInt(strings.TrimSpace(code), 10, 32)
		if err != nil {
			return nil, false
		}
		return float64(n), true
	case ColumnChoice:
		if o, found := c.Option(code, label); found {
			return float64(o.Value), true
		}
	}
	return nil, false
}

// Option finds the option of a choice column a wrap code stands for: the
// option whose value is the code, else the one whose label is the code's
// label or the code itself (ignoring case).
func (c *Column) Option(code, label string) (Option, bool) {
	if n, err := strconv.ParseInt(strings.TrimSpace(code), 10, 64); err == nil {
		for _, o := range c.Options {
			if o.Value == n {
				return o, true
			}
		}
	}
	for _, want := range []string{label, code} {
		want = strings.TrimSpace(want)
		if want == "" {
			continue
		}
		for _, o := range c.Options {
			if strings.EqualFold(strings.TrimSpace(o.Label), want) {
				return o, true
			}
		}
	}
	return Option{}, false
}
