package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/phone"
)

// The warnings every file lacking a block gets.
const (
	noScripts   = `scripts: no scripts: the widget page will not load the CIF library (msdyn_ciLibrary.js) (add "scripts": [{"src": "https://ORG.crm.dynamics.com/webresources/Widget/msdyn_ciLibrary.js", "dataset": {"crmurl": "https://ORG.crm.dynamics.com", "cifid": "CIFMainLibrary"}}])`
	noScreenPop = `screenPop: no screen pop: calls will not open records (add "screenPop": {"default": {"entity": "contact", "query": "...", "map": [...]}})`
	noEntities  = `entities: no entities: activities will not be related to any record (add "entities": {"contact": {"plural": "contacts", "key": "contactid", "query": "fullname,telephone1", "type": "person"}})`
)

// Warnings the reference blocks give.
const (
	scriptsInstance     = `scripts[0].src: contains the placeholder <instance> (replace <instance> with your values before deployment)`
	crmURLInstance      = `scripts[0].dataset.crmurl: contains the placeholder <instance> (replace <instance> with your values before deployment)`
	integrationVersion  = `scripts[1].src: contains the placeholders <version>, <semantic-version> (replace <version>, <semantic-version> with your values before deployment)`
	schemaNameWarning   = `config.options.fields.agentInteractionId: "new_agentInteractionId" is a schema name; the Web API uses lower-case logical names, so "new_agentinteractionid" is used (write "new_agentinteractionid")`
	searchMessage       = `the query has $search: CIF always opens its search page for such a query, even on a single match; ctibridge first runs the query without $search and opens the record when exactly one matches, so $search only fills in the search page when none or several match`
	defaultSearch       = `screenPop.default.query: ` + searchMessage
	previewSearch       = `screenPop.rules[0].query: ` + searchMessage
	mapAlias            = `screenPop.default.map[1].map: "map" is read as "path" (ipSCAPE accepts both) (rename the key to "path")`
	trailingScriptComma = `(top level): trailing comma at line 13, column 4 is not valid JSON (accepted, as the ipSCAPE reference writes one) (remove the comma before '}')`
)

// summary is the part of a Config a test compares: everything but the
// compiled forms, which are checked separately.
type summary struct {
	Scripts     []Script
	Options     Options
	Default     *ruleSummary
	Rules       []ruleSummary
	Entities    []Entity
	Warnings    []string
	EntityOrder []string
}

type ruleSummary struct {
	JSONPath     string
	CallTypes    []string
	Entity       string
	Query        string
	Map          []string // "name type format path"
	AddNewRecord bool
}

func summarize(t *testing.T, cfg *Config) summary {
	t.Helper()
	s := summary{Scripts: cfg.Scripts, Options: cfg.Options, Warnings: problemStrings(cfg.Warnings), EntityOrder: cfg.EntityOrder}
	if cfg.ScreenPop.Default != nil {
		d := summarizeRule(t, cfg.ScreenPop.Default)
		s.Default = &d
	}
	for _, r := range cfg.ScreenPop.Rules {
		s.Rules = append(s.Rules, summarizeRule(t, r))
	}
	for _, name := range cfg.EntityOrder {
		e := *cfg.Entities[name]
		if !strings.Contains(e.JSONPath, "entities."+name) {
			t.Errorf("entity %s: JSONPath %q", name, e.JSONPath)
		}
		e.JSONPath = "" // checked above; the expectations list the rest
		s.Entities = append(s.Entities, e)
	}
	if len(cfg.Entities) != len(cfg.EntityOrder) {
		t.Errorf("Entities has %d entries, EntityOrder %d", len(cfg.Entities), len(cfg.EntityOrder))
	}
	return s
}

func summarizeRule(t *testing.T, r *Rule) ruleSummary {
	t.Helper()
	if r.Template == nil {
		t.Errorf("%s: query template not compiled", r.JSONPath)
	}
	rs := ruleSummary{JSONPath: r.JSONPath, CallTypes: r.CallTypes, Entity: r.Entity, Query: r.Query, AddNewRecord: r.AddNewRecord}
	for _, m := range r.Map {
		if m.Path == nil {
			t.Errorf("%s: map %q: path not compiled", r.JSONPath, m.Name)
		}
		format := "-"
		if m.Type == MapTypePhone {
			format = formatName(t, m.Format)
		}
		rs.Map = append(rs.Map, strings.Join([]string{m.Name, m.Type, format, m.PathExpr}, " "))
	}
	return rs
}

func formatName(t *testing.T, f phone.Format) string {
	t.Helper()
	for _, name := range phone.FormatNames() {
		if g, err := phone.ParseFormat(name); err == nil && g == f {
			return name
		}
	}
	t.Errorf("phone format %v has no name", f)
	return "?"
}

var (
	referenceScripts = []Script{
		{
			Src:     "https://<instance>.dynamics.com/webresources/Widget/msdyn_ciLibrary.js",
			Dataset: map[string]string{"crmurl": "https://<instance>.dynamics.com", "cifid": "CIFMainLibrary"},
		},
		{Src: "https://developer.onipscape.com/integrations/<version>/dynamics/ips-dynamics-integration.v<semantic-version>.min.js"},
	}
	referenceOptions = Options{
		CompleteActivityRecordOnWrap: true,
		CreateTaskOnPreview:          false,
		Fields:                       Fields{CallDispositionField: "new_wrapcode", AgentInteractionID: "new_agentinteractionid"},
	}
	contact = Entity{LogicalName: "contact", Plural: "contacts", Key: "contactid", Columns: []string{"fullname", "telephone1", "mobilephone", "donotphone"}, Type: EntityPerson}
	account = Entity{LogicalName: "account", Plural: "accounts", Key: "accountid", Columns: []string{"name", "telephone1", "donotphone"}, Type: EntityOrganisation}
	lead    = Entity{LogicalName: "lead", Plural: "leads", Key: "leadid", Columns: []string{"fullname", "telephone1", "donotphone"}, Type: EntityPerson}

	referenceDefault = ruleSummary{
		JSONPath: "screenPop.default",
		Entity:   "contact",
		Query:    "?$select=fullname,telephone1,mobilephone&$filter=telephone1 eq '{{telephone1}}'&$search={{telephone1}} or {{mobilephone}}",
		Map: []string{
			"telephone1 string - interaction.activity.customerCli",
			"mobilephone string - interaction.activity.sourcePhoneNumber",
		},
		AddNewRecord: true,
	}
	referencePreview = ruleSummary{
		JSONPath:     "screenPop.rules[0]",
		CallTypes:    []string{"preview"},
		Entity:       "contact",
		Query:        "?$select=fullname,telephone1,mobilephone&$filter=telephone1 eq '{{telephone1}}'&$search={{telephone1}}",
		Map:          []string{"telephone1 phone local interaction.leadData.phones.index=1[phone]"},
		AddNewRecord: true,
	}
)

func TestLoadReadsEveryReferenceBlockUnchanged(t *testing.T) {
	tests := []struct {
		name string
		file string
		want summary
	}{
		{
			name: "scripts block alone, with its trailing comma",
			file: "../../testdata/reference/scripts.json",
			want: summary{
				Scripts:  referenceScripts,
				Warnings: []string{trailingScriptComma, scriptsInstance, crmURLInstance, integrationVersion, noScreenPop, noEntities},
			},
		},
		{
			name: "options block alone, entities under config.options",
			file: "../../testdata/reference/options.json",
			want: summary{
				Options:     referenceOptions,
				Entities:    []Entity{contact, account},
				EntityOrder: []string{"contact", "account"},
				Warnings:    []string{schemaNameWarning, noScripts, noScreenPop},
			},
		},
		{
			name: "screen pop block alone, with the map alias",
			file: "../../testdata/reference/screenpop.json",
			want: summary{
				Default: &referenceDefault,
				Rules:   []ruleSummary{referencePreview},
				Warnings: []string{
					defaultSearch, mapAlias, previewSearch,
					`screenPop.default.entity: entity "contact" is not described: there is no entities block, so its entity set name and columns are unknown (add "entities": {"contact": {"plural": ..., "key": ..., "query": ..., "type": ...}})`,
					`screenPop.rules[0].entity: entity "contact" is not described: there is no entities block, so its entity set name and columns are unknown (add "entities": {"contact": {"plural": ..., "key": ..., "query": ..., "type": ...}})`,
					noScripts, noEntities,
				},
			},
		},
		{
			name: "entities block alone at the top level",
			file: "../../testdata/reference/entities.json",
			want: summary{
				Entities:    []Entity{contact, account, lead},
				EntityOrder: []string{"contact", "account", "lead"},
				Warnings:    []string{noScripts, noScreenPop},
			},
		},
		{
			name: "all blocks in one file, entities in two places merged",
			file: "../../testdata/reference/full.json",
			want: summary{
				Scripts:     referenceScripts,
				Options:     referenceOptions,
				Default:     &referenceDefault,
				Rules:       []ruleSummary{referencePreview},
				Entities:    []Entity{contact, account, lead},
				EntityOrder: []string{"contact", "account", "lead"},
				Warnings:    []string{scriptsInstance, crmURLInstance, integrationVersion, schemaNameWarning, defaultSearch, mapAlias, previewSearch},
			},
		},
		{
			name: "demo sample",
			file: "../../testdata/sample.json",
			want: summary{
				Scripts: []Script{{
					Src:     "https://contoso.crm6.dynamics.com/webresources/Widget/msdyn_ciLibrary.js",
					Dataset: map[string]string{"crmurl": "https://contoso.crm6.dynamics.com", "cifid": "CIFMainLibrary"},
				}},
				Options: Options{
					CompleteActivityRecordOnWrap: true,
					Fields:                       referenceOptions.Fields,
					PhoneRegion:                  "AU",
				},
				Default: &referenceDefault,
				Rules: []ruleSummary{
					referencePreview,
					{
						JSONPath:     "screenPop.rules[1]",
						CallTypes:    []string{"inbound"},
						Entity:       "contact",
						Query:        "?$select=fullname,telephone1,mobilephone&$filter=telephone1 eq '{{telephone1}}' or mobilephone eq '{{telephone1}}'",
						Map:          []string{"telephone1 phone local interaction.activity.customerCli"},
						AddNewRecord: true,
					},
					{
						JSONPath:  "screenPop.rules[2]",
						CallTypes: []string{"outbound"},
						Entity:    "lead",
						Query:     "?$select=fullname,telephone1&$filter=telephone1 eq '{{telephone1}}'",
						Map:       []string{"telephone1 phone local interaction.activity.customerCli"},
					},
					{
						JSONPath:  "screenPop.rules[3]",
						CallTypes: []string{"manual"},
						Entity:    "account",
						Query:     "?$select=name,telephone1&$filter=telephone1 eq '{{telephone1}}'",
						Map:       []string{"telephone1 phone local interaction.activity.customerCli"},
					},
				},
				Entities:    []Entity{contact, account, lead},
				EntityOrder: []string{"contact", "account", "lead"},
				Warnings:    []string{schemaNameWarning, defaultSearch, mapAlias, previewSearch},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(tt.file)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got := summarize(t, cfg)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("config:\n got %s\nwant %s", dump(got), dump(tt.want))
			}
		})
	}
}

func TestLoadReportsAnUnreadableFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.json"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: got %v, want an error wrapping os.ErrNotExist", err)
	}
}

func dump(s summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n  scripts %+v\n  options %+v\n", s.Scripts, s.Options)
	if s.Default != nil {
		fmt.Fprintf(&b, "  default %+v\n", *s.Default)
	}
	for _, r := range s.Rules {
		fmt.Fprintf(&b, "  rule %+v\n", r)
	}
	fmt.Fprintf(&b, "  entities %+v order %v\n", s.Entities, s.EntityOrder)
	for _, w := range s.Warnings {
		fmt.Fprintf(&b, "  warning %s\n", w)
	}
	return b.String()
}
