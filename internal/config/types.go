package config

import (
	"github.com/ctibridge/ctibridge/internal/datapath"
	"github.com/ctibridge/ctibridge/internal/odata"
	"github.com/ctibridge/ctibridge/internal/phone"
)

// Config is an ipSCAPE-format configuration after loading and validation.
// Everything the engine needs at event time is compiled here once: paths,
// query templates and phone formats.
type Config struct {
	Scripts   []Script
	Options   Options
	ScreenPop ScreenPop
	// Entities lists the CRM tables activities may be related to, by logical
	// name. EntityOrder keeps the order of the config file.
	Entities    map[string]*Entity
	EntityOrder []string
	// Telephony is the telephony block (a ctibridge extension): where call
	// events come from.
	Telephony Telephony
	// CIF is the cif block (a ctibridge extension): CIF 2.0 sessions,
	// notification and session templates, presence mapping.
	CIF CIF
	// Warnings are problems that did not stop the load, each with its JSON path.
	Warnings []Problem
	// Tenant is what the Dataverse environment's metadata says about the
	// columns the config names; nil until the tenant check has read it.
	Tenant *Tenant
}

// Script is one <script> the widget page loads, with its data-* attributes.
type Script struct {
	Src     string
	Dataset map[string]string
}

// Options is config.options.
type Options struct {
	CompleteActivityRecordOnWrap bool
	CreateTaskOnPreview          bool
	Fields                       Fields
	// PhoneRegion is the ISO 3166 region used to read and format phone
	// numbers written without a country code (ctibridge extension
	// "phoneRegion"); empty means the runtime default.
	PhoneRegion string
}

// Fields names the CRM columns that receive telephony data. Column names are
// Dataverse logical names (lower case); the loader lower-cases them with a
// warning when the config writes a schema name such as new_agentInteractionId.
type Fields struct {
	CallDispositionField string
	AgentInteractionID   string
}

// ScreenPop is the screenPop block: rules by call type and the default.
type ScreenPop struct {
	Default *Rule
	Rules   []*Rule
}

// Rule is one screen-pop rule.
type Rule struct {
	// JSONPath locates the rule in the config, e.g. "screenPop.rules[0]" or
	// "screenPop.default", for messages and decisions.
	JSONPath     string
	CallTypes    []string
	Entity       string
	Query        string
	Template     *odata.Template
	Map          []*MapEntry
	AddNewRecord bool
}

// MapEntry takes one template value from the interaction data.
type MapEntry struct {
	Name string
	// Type is "string" or "phone".
	Type string
	// Format is the phone format (only for Type "phone"). With
	// phone.FormatVariants the rule's Template expands the entry's
	// placeholder into the number's common writings.
	Format phone.Format
	// PathExpr is the path as written; Path is its compiled form.
	PathExpr string
	Path     *datapath.Path
	// formatPath is the JSON path of the entry's format, for messages.
	formatPath string
}

// EntityType says which of the widget's two select boxes lists an entity.
type EntityType string

// Entity types of the reference config.
const (
	EntityPerson       EntityType = "person"
	EntityOrganisation EntityType = "entity"
)

// Entity is one table activities may be related to.
type Entity struct {
	// JSONPath locates the entity's definition, e.g. "config.entities.contact".
	JSONPath    string
	LogicalName string
	Plural      string
	Key         string
	// Columns is the query list split on commas.
	Columns []string
	Type    EntityType
}

// Problem is one validation finding with the JSON path it is about and, where
// one exists, what to do about it.
type Problem struct {
	Path    string
	Message string
	Fix     string
}

func (p Problem) String() string {
	s := p.Path + ": " + p.Message
	if p.Fix != "" {
		s += " (" + p.Fix + ")"
	}
	return s
}
