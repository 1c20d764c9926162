// Package screenpop decides what the agent's screen shows for a telephony
// event: which screen-pop rule applies, which CRM query finds the customer,
// and what a new record would be prefilled with when nothing matches.
//
// It is pure: the decision is a value the widget (through CIF) or the server
// (through the Dataverse client) carries out.
package screenpop

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/odata"
	"github.com/ctibridge/ctibridge/internal/phone"
)

// Decision is what to pop for one event.
type Decision struct {
	// Rule is the JSON path of the rule that applied, e.g. "screenPop.rules[0]".
	Rule     string               `json:"rule"`
	CallType interaction.CallType `json:"callType"`
	// Entity is the logical name searched; EntitySet its Web API plural when
	// the entity is listed in the config's entities.
	Entity    string `json:"entity"`
	EntitySet string `json:"entitySet,omitempty"`
	// Query is the rendered template, exactly what CIF's
	// searchAndOpenRecords takes as queryParameters.
	Query string `json:"query"`
	// LookupQuery is Query without $search. CIF always opens its search page
	// for a query with $search, even on a single match, and the Dataverse
	// Web API has no $search, so the widget and the server count matches with
	// this query first and open a single match directly.
	LookupQuery string `json:"lookupQuery"`
	// SearchText is the decoded $search value, for the search page shown when
	// several records (or none, without addNewRecord) match.
	SearchText string `json:"searchText,omitempty"`
	// Values are the mapped values in map order; they prefill the new-record
	// form when nothing matches and AddNewRecord is set.
	Values       []Value `json:"values"`
	AddNewRecord bool    `json:"addNewRecord"`
	// Skip is set when no mapped value was found in the event (a withheld
	// caller ID, a lead with no phone): searching for empty values would
	// match unrelated records, so nothing is searched.
	Skip bool `json:"skip,omitempty"`
	// Problems lists values that could not be taken from the event; the pop
	// goes on with the values that could.
	Problems []string `json:"problems,omitempty"`
}

// Value is one mapped name and its value.
type Value struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Prefill returns the values as a name → value map, the form parameters of
// CIF's openForm.
func (d *Decision) Prefill() map[string]string {
	m := make(map[string]string, len(d.Values))
	for _, v := range d.Values {
		if v.Value != "" {
			m[v.Name] = v.Value
		}
	}
	return m
}

// MaxValueBytes caps one mapped value. Real values (numbers, names, ids)
// are far shorter; the cap keeps a hostile one from making the query URL
// longer than browsers and Dataverse accept.
const MaxValueBytes = 256

func truncateUTF8(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Engine makes screen-pop decisions for one loaded config.
type Engine struct {
	cfg    *config.Config
	phones *phone.Formatter
}

// New returns an Engine for cfg. Phone values are read in the config's
// phoneRegion, or defaultRegion when the config sets none.
func New(cfg *config.Config, defaultRegion string) (*Engine, error) {
	region := cfg.Options.PhoneRegion
	if region == "" {
		region = defaultRegion
	}
	phones, err := phone.NewFormatter(region)
	if err != nil {
		return nil, fmt.Errorf("phone region: %w", err)
	}
	return &Engine{cfg: cfg, phones: phones}, nil
}

// Phones returns the engine's phone formatter (the config's region).
func (e *Engine) Phones() *phone.Formatter { return e.phones }

// Config returns the config the engine decides with.
func (e *Engine) Config() *config.Config { return e.cfg }

// Rule returns the rule for a call type: the first rule whose callType lists
// it, else the default (nil when the config has no screen pop).
func (e *Engine) Rule(callType interaction.CallType) *config.Rule {
	for _, r := range e.cfg.ScreenPop.Rules {
		for _, ct := range r.CallTypes {
			if ct == string(callType) {
				return r
			}
		}
	}
	return e.cfg.ScreenPop.Default
}

// Decide returns the screen pop for ev, or nil when the config has no
// screen pop at all.
func (e *Engine) Decide(ev *interaction.Event) (*Decision, error) {
	rule := e.Rule(ev.Interaction.CallType)
	if rule == nil {
		return nil, nil
	}
	d := &Decision{
		Rule:         rule.JSONPath,
		CallType:     ev.Interaction.CallType,
		Entity:       rule.Entity,
		AddNewRecord: rule.AddNewRecord,
		Values:       make([]Value, len(rule.Map)),
	}
	if ent := e.cfg.Entities[rule.Entity]; ent != nil {
		d.EntitySet = ent.Plural
	}
	found := false
	// writings holds each variants entry's writings, by map index.
	var writings [][]string
	for i, m := range rule.Map {
		v, err := m.Path.LookupString(ev.Document)
		if err != nil {
			d.Problems = append(d.Problems, fmt.Sprintf("%s.map[%d] (%s): %v", rule.JSONPath, i, m.Name, err))
		}
		switch {
		case v == "" || m.Type != config.MapTypePhone:
		case m.Format == phone.FormatVariants:
			if writings == nil {
				writings = make([][]string, len(rule.Map))
			}
			// The first writing is the local format, the value a new
			// record is prefilled with.
			writings[i] = e.phones.Variants(v)
			v = ""
			if len(writings[i]) > 0 {
				v = writings[i][0]
			}
		default:
			v = e.phones.Format(v, m.Format)
		}
		if len(v) > MaxValueBytes {
			// A caller ID is attacker-controlled: a huge one must not make a
			// query URL that CIF, the browser or Dataverse would refuse.
			v = truncateUTF8(v, MaxValueBytes)
			d.Problems = append(d.Problems, fmt.Sprintf("%s.map[%d] (%s): value longer than %d bytes was cut", rule.JSONPath, i, m.Name, MaxValueBytes))
		}
		if v != "" {
			found = true
		}
		d.Values[i] = Value{Name: m.Name, Value: v}
	}
	d.Skip = !found
	var query string
	var err error
	if writings == nil {
		query, err = rule.Template.Render(d.lookup)
	} else {
		query, err = e.renderVariants(rule, d, writings)
	}
	if err != nil {
		return nil, fmt.Errorf("%s.query: %w", rule.JSONPath, err)
	}
	d.Query = query
	d.LookupQuery, d.SearchText = splitSearch(query)
	return d, nil
}

// renderVariants renders a rule whose phone values expand into their
// writings, noting in the decision when some had to be left out to keep
// the query under odata.MaxQueryBytes.
func (e *Engine) renderVariants(rule *config.Rule, d *Decision, writings [][]string) (string, error) {
	of := func(name string) []string {
		for i, m := range rule.Map {
			if m.Name == name {
				return writings[i]
			}
		}
		return nil
	}
	query, kept, err := rule.Template.RenderVariants(d.lookup, of, odata.MaxQueryBytes)
	if err != nil {
		return "", err
	}
	for i, ws := range writings {
		if len(ws) > kept {
			d.Problems = append(d.Problems, fmt.Sprintf("%s.map[%d] (%s): searched %d of the number's %d writings, to keep the query under %d bytes",
				rule.JSONPath, i, rule.Map[i].Name, kept, len(ws), odata.MaxQueryBytes))
		}
	}
	return query, nil
}

func (d *Decision) lookup(name string) string {
	for _, v := range d.Values {
		if v.Name == name {
			return v.Value
		}
	}
	return ""
}

// splitSearch removes the $search parameter from a rendered query and
// returns the query without it and the decoded search text. Rendered values
// are percent-encoded, so '&' only ever separates parameters. A query that
// is nothing but $search has no lookup: lookup is then "".
func splitSearch(query string) (lookup, search string) {
	if !strings.Contains(query, "$search=") {
		return query, ""
	}
	body, hadQ := strings.CutPrefix(query, "?")
	kept := make([]string, 0, 4)
	for part := range strings.SplitSeq(body, "&") {
		if rest, ok := strings.CutPrefix(part, "$search="); ok {
			search = decodeQueryValue(rest)
			continue
		}
		if part != "" {
			kept = append(kept, part)
		}
	}
	if len(kept) == 0 {
		return "", search
	}
	lookup = strings.Join(kept, "&")
	if hadQ {
		lookup = "?" + lookup
	}
	return lookup, search
}

// decodeQueryValue undoes the percent-encoding of a query-string value; a
// malformed escape is left as written rather than losing the search text.
func decodeQueryValue(s string) string {
	if v, err := url.QueryUnescape(s); err == nil {
		return v
	}
	return s
}
