package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/phone"
)

// An entities block and a screen pop that are valid, to build cases around
// the one thing each case gets wrong.
const (
	okEntities  = `"entities": {"contact": {"plural": "contacts", "key": "contactid", "query": "fullname,telephone1", "type": "person"}}`
	okDefault   = `"default": {"entity": "contact", "query": "?$filter=telephone1 eq '{{phone}}'", "map": [{"name": "phone", "type": "string", "path": "interaction.activity.customerCli"}]}`
	okScripts   = `"scripts": [{"src": "https://contoso.crm6.dynamics.com/webresources/Widget/msdyn_ciLibrary.js", "dataset": {"crmurl": "https://contoso.crm6.dynamics.com", "cifid": "CIFMainLibrary"}}]`
	okCallerMap = `"map": [{"name": "phone", "type": "string", "path": "interaction.activity.customerCli"}]`
)

// rules wraps screen-pop rules in a config that is otherwise valid.
func rules(list string) string {
	return `{` + okScripts + `, ` + okEntities + `, "screenPop": {` + okDefault + `, "rules": [` + list + `]}}`
}

// defaultRule wraps a default rule in a config that is otherwise valid.
func defaultRule(rule string) string {
	return `{` + okScripts + `, ` + okEntities + `, "screenPop": {"default": ` + rule + `}}`
}

// options wraps config.options in a config that is otherwise valid.
func options(opts string) string {
	return `{` + okScripts + `, ` + okEntities + `, "screenPop": {` + okDefault + `}, "config": {"options": ` + opts + `}}`
}

// entities wraps an entities block in a config that is otherwise valid.
func entities(block string) string {
	return `{` + okScripts + `, "screenPop": {` + okDefault + `}, "entities": ` + block + `}`
}

// scripts wraps a scripts block in a config that is otherwise valid.
func scripts(list string) string {
	return `{"scripts": ` + list + `, ` + okEntities + `, "screenPop": {` + okDefault + `}}`
}

func TestParseReportsEveryProblemWithItsPathAndFix(t *testing.T) {
	tests := []struct {
		name         string
		json         string
		wantErrors   []string
		wantWarnings []string
	}{
		// JSON types.
		{
			name:       "a boolean written as a word",
			json:       options(`{"completeActivityRecordOnWrap": "yes"}`),
			wantErrors: []string{`config.options.completeActivityRecordOnWrap: expected true or false, got "yes" (write true or false)`},
		},
		{
			name:         "a new-record form prefilled with a name that is not a column",
			json:         defaultRule(`{"entity": "contact", "addNewRecord": true, "query": "?$filter=telephone1 eq '{{caller}}'", "map": [{"name": "caller", "path": "interaction.activity.customerCli"}]}`),
			wantWarnings: []string{`screenPop.default.map[0].name: "caller" is not a column of contact: the new-record form cannot be prefilled with it (name it after the column it fills (one of fullname, telephone1), or add it to entities.contact.query)`},
		},
		{
			name:       "a boolean in quotes",
			json:       options(`{"createTaskOnPreview": "false"}`),
			wantErrors: []string{`config.options.createTaskOnPreview: expected true or false, got "false" (remove the quotes: write false)`},
		},
		{
			name: "wrong types in rules",
			json: rules(`{"callType": "inbound", "entity": 7, "query": true, "map": {"phone": "interaction.activity.customerCli"}, "addNewRecord": 1}`),
			wantErrors: []string{
				`screenPop.rules[0].callType: expected a list, got "inbound" (write a list: ["inbound"])`,
				`screenPop.rules[0].entity: expected a string, got 7 (put the value in double quotes: "7")`,
				`screenPop.rules[0].query: expected a string, got true (put the value in double quotes: "true")`,
				`screenPop.rules[0].map: expected a list, got an object (write a list: [{"name": "telephone1", "type": "string", "path": "interaction.activity.customerCli"}])`,
				`screenPop.rules[0].addNewRecord: expected true or false, got 1 (write true or false)`,
			},
		},
		{
			name:       "the file is a list",
			json:       `[{"screenPop": {}}]`,
			wantErrors: []string{`(top level): expected an object, got a list (write an object: {"scripts": [...], "config": {...}, "screenPop": {...}, "entities": {...}})`},
		},
		{
			name: "null is not an empty value",
			json: defaultRule(`{"entity": null, "query": "?$select=fullname"}`),
			wantErrors: []string{
				`screenPop.default.entity: expected a string, got null`,
			},
		},

		// Unknown keys.
		{
			name: "near misses get a did-you-mean",
			json: rules(`{"callTypes": ["inbound"], "entity": "contact", "query": "?$select=fullname", "adNewRecord": true}`),
			wantErrors: []string{
				`screenPop.rules[0].callType: missing: a rule needs the call types it applies to (add "callType": ["inbound"]; valid call types: manual, inbound, preview, outbound)`,
			},
			wantWarnings: []string{
				`screenPop.rules[0].callTypes: unknown key "callTypes" is ignored (did you mean "callType"?)`,
				`screenPop.rules[0].adNewRecord: unknown key "adNewRecord" is ignored (did you mean "addNewRecord"?)`,
			},
		},
		{
			name: "keys in the wrong block say where they belong",
			json: `{` + okScripts + `, ` + okEntities + `, "screenPop": {` + okDefault + `}, "options": {}, "config": {"fields": {}, "rules": []}}`,
			wantWarnings: []string{
				`options: unknown key "options" is ignored (it belongs at config.options: move it there)`,
				`config.fields: unknown key "fields" is ignored (it belongs at config.options.fields: move it there)`,
				`config.rules: unknown key "rules" is ignored (it belongs at screenPop.rules: move it there)`,
			},
		},
		{
			name: "a key in the wrong case",
			json: `{` + okScripts + `, ` + okEntities + `, "screenpop": {` + okDefault + `}}`,
			wantWarnings: []string{
				`screenpop: unknown key "screenpop" is ignored (did you mean "screenPop"?)`,
				noScreenPop,
			},
		},
		{
			name: "an unknown key with no near miss lists the known keys",
			json: defaultRule(`{"entity": "contact", "query": "?$select=fullname", "searchType": 1}`),
			wantWarnings: []string{
				`screenPop.default.searchType: unknown key "searchType" is ignored (known keys here: callType, entity, query, map, addNewRecord)`,
			},
		},
		{
			name: "a key written twice",
			json: defaultRule(`{"entity": "contact", "entity": "account", "query": "?$select=fullname"}`),
			wantErrors: []string{
				`screenPop.default.entity: key "entity" appears more than once in the same object (keep one of them)`,
			},
		},

		// Call types.
		{
			name: "unknown call types list the valid ones",
			json: rules(`{"callType": ["Inbound", "transfer", "default"], "entity": "contact", "query": "?$select=fullname"}`),
			wantErrors: []string{
				`screenPop.rules[0].callType[0]: unknown call type "Inbound" (did you mean "inbound"? valid call types: manual, inbound, preview, outbound)`,
				`screenPop.rules[0].callType[1]: unknown call type "transfer" (valid call types: manual, inbound, preview, outbound)`,
				`screenPop.rules[0].callType[2]: "default" is not a call type (put the default rule in screenPop.default)`,
			},
		},
		{
			name: "a call type in two rules: the first wins",
			json: rules(`{"callType": ["inbound", "manual"], "entity": "contact", "query": "?$select=fullname"},
				{"callType": ["outbound", "inbound", "outbound"], "entity": "contact", "query": "?$select=fullname"}`),
			wantWarnings: []string{
				`screenPop.rules[1].callType[1]: call type "inbound" is also in screenPop.rules[0], which comes first and wins: this rule never applies to inbound calls (remove it from one of the two rules)`,
				`screenPop.rules[1].callType[2]: call type "outbound" is listed twice in this rule (remove the repeat)`,
			},
		},
		{
			name: "an empty call type list",
			json: rules(`{"callType": [], "entity": "contact", "query": "?$select=fullname"}`),
			wantErrors: []string{
				`screenPop.rules[0].callType: empty: the rule applies to no call type (list call types, e.g. ["inbound"]; valid call types: manual, inbound, preview, outbound)`,
			},
		},
		{
			name: "callType in the default rule",
			json: defaultRule(`{"callType": ["inbound"], "entity": "contact", "query": "?$select=fullname"}`),
			wantWarnings: []string{
				`screenPop.default.callType: ignored: the default rule applies to every call type no rule lists (remove callType, or move this rule into screenPop.rules)`,
			},
		},

		// Screen pop structure.
		{
			name: "a screen pop without a default",
			json: `{` + okScripts + `, ` + okEntities + `, "screenPop": {"rules": [{"callType": ["inbound"], "entity": "contact", "query": "?$select=fullname"}]}}`,
			wantErrors: []string{
				`screenPop.default: missing: a screen pop needs a default rule, used for every call type no rule lists (add "default": {"entity": "contact", "query": "?$select=fullname&$filter=telephone1 eq '{{telephone1}}'", "map": [...]})`,
			},
		},
		{
			name: "a rule without entity or query",
			json: rules(`{"callType": ["inbound"]}`),
			wantErrors: []string{
				`screenPop.rules[0].entity: missing: a rule needs the table it searches (add "entity": "contact")`,
				`screenPop.rules[0].query: missing: a rule needs the query that finds the record (add "query": "?$select=fullname&$filter=telephone1 eq '{{telephone1}}'")`,
			},
		},
		{
			name: "rules is not a list",
			json: `{` + okScripts + `, ` + okEntities + `, "screenPop": {` + okDefault + `, "rules": {"inbound": {}}}}`,
			wantErrors: []string{
				`screenPop.rules: expected a list, got an object (write a list: [{"callType": ["inbound"], "entity": ...}])`,
			},
		},

		// Placeholders and map entries.
		{
			name: "a placeholder with no map entry",
			json: defaultRule(`{"entity": "contact", "query": "?$filter=telephone1 eq '{{phone}}' or mobilephone eq '{{mobile}}'", ` + okCallerMap + `}`),
			wantErrors: []string{
				`screenPop.default.query: placeholder {{mobile}} has no map entry (add {"name": "mobile", "type": "string", "path": "interaction.activity.customerCli"} to map, or remove {{mobile}})`,
			},
		},
		{
			name: "a placeholder one letter off a map name",
			json: defaultRule(`{"entity": "contact", "query": "?$filter=telephone1 eq '{{phon}}'", ` + okCallerMap + `}`),
			wantErrors: []string{
				`screenPop.default.query: placeholder {{phon}} has no map entry (did you mean {{phone}}? Or add {"name": "phon", "type": "string", "path": "interaction.activity.customerCli"} to map, or remove {{phon}})`,
			},
			wantWarnings: []string{
				`screenPop.default.map[0]: map entry "phone" is not used by the query (use {{phone}} in the query, or remove the entry)`,
			},
		},
		{
			name: "duplicate map names",
			json: defaultRule(`{"entity": "contact", "query": "?$filter=telephone1 eq '{{phone}}'", "map": [
				{"name": "phone", "path": "interaction.activity.customerCli"},
				{"name": "phone", "path": "interaction.activity.sourcePhoneNumber"}]}`),
			wantErrors: []string{
				`screenPop.default.map[1].name: duplicate map name "phone": screenPop.default.map[0] already defines it (rename or remove one of them)`,
			},
		},
		{
			name: "unknown map type",
			json: defaultRule(`{"entity": "contact", "query": "?$filter=telephone1 eq '{{phone}}'", "map": [
				{"name": "phone", "type": "phones", "path": "interaction.activity.customerCli"}]}`),
			wantErrors: []string{
				`screenPop.default.map[0].type: unknown map type "phones" (did you mean "phone"? valid types: string, phone)`,
			},
		},
		{
			name: "unknown phone format lists the valid ones",
			json: defaultRule(`{"entity": "contact", "query": "?$filter=telephone1 eq '{{phone}}'", "map": [
				{"name": "phone", "type": "phone", "format": "E.164", "path": "interaction.activity.customerCli"}]}`),
			wantErrors: []string{
				`screenPop.default.map[0].format: unknown phone format "E.164" (did you mean "e164"? valid formats: local, national, e164, international, digits, variants)`,
			},
		},
		{
			name: "variants where the placeholder is compared with ne",
			json: defaultRule(`{"entity": "contact", "query": "?$filter=statecode eq 0 and telephone1 ne '{{phone}}'", "map": [
				{"name": "phone", "type": "phone", "format": "variants", "path": "interaction.activity.customerCli"}]}`),
			wantErrors: []string{
				`screenPop.default.map[0].format: the query cannot expand this number into its writings: at offset 43 (near "{{phone}}'"), {{phone}} (format variants) is compared with ne: ` +
					`the writings can only be joined for eq (any of them equal), contains, startswith and endswith ` +
					`(write telephone1 eq '{{phone}}' or contains(telephone1,'{{phone}}'), or use a single format such as "local")`,
			},
		},
		{
			name: "variants where the placeholder shares its literal",
			json: defaultRule(`{"entity": "contact", "query": "?$filter=telephone1 eq 'tel:{{phone}}'", "map": [
				{"name": "phone", "type": "phone", "format": "variants", "path": "interaction.activity.customerCli"}]}`),
			wantErrors: []string{
				`screenPop.default.map[0].format: the query cannot expand this number into its writings: at offset 28 (near "{{phone}}'"), {{phone}} (format variants) shares its string literal with other text: ` +
					`each writing must be the whole literal (make the literal '{{phone}}' alone, or use a single format such as "local")`,
			},
		},
		{
			name: "format on a string entry",
			json: defaultRule(`{"entity": "contact", "query": "?$filter=telephone1 eq '{{phone}}'", "map": [
				{"name": "phone", "type": "string", "format": "local", "path": "interaction.activity.customerCli"}]}`),
			wantWarnings: []string{
				`screenPop.default.map[0].format: ignored: format applies only to type phone, and this entry is type string (remove "format", or set "type": "phone")`,
			},
		},
		{
			name: "a map entry without name or path",
			json: defaultRule(`{"entity": "contact", "query": "?$select=fullname", "map": [{"type": "string"}]}`),
			wantErrors: []string{
				`screenPop.default.map[0].name: missing: a map entry needs the placeholder name it fills (add "name": "telephone1", the placeholder {{telephone1}} it fills)`,
				`screenPop.default.map[0].path: missing: a map entry needs the path of the value it takes from the call (add "path": "interaction.activity.customerCli")`,
			},
		},
		{
			name: "path and its map alias disagree",
			json: defaultRule(`{"entity": "contact", "query": "?$filter=telephone1 eq '{{phone}}'", "map": [
				{"name": "phone", "path": "interaction.activity.customerCli", "map": "interaction.activity.sourcePhoneNumber"}]}`),
			wantErrors: []string{
				`screenPop.default.map[0].map: "map" (ipSCAPE's alias of "path") says "interaction.activity.sourcePhoneNumber" but "path" says "interaction.activity.customerCli" (keep only "path")`,
			},
		},
		{
			name: "path and its map alias agree",
			json: defaultRule(`{"entity": "contact", "query": "?$filter=telephone1 eq '{{phone}}'", "map": [
				{"name": "phone", "path": "interaction.activity.customerCli", "map": "interaction.activity.customerCli"}]}`),
			wantWarnings: []string{
				`screenPop.default.map[0].map: "map" repeats "path" (remove "map")`,
			},
		},
		{
			name: "a path that does not parse",
			json: defaultRule(`{"entity": "contact", "query": "?$filter=telephone1 eq '{{phone}}'", "map": [
				{"name": "phone", "path": "interaction.leadData.phones[index=1"}]}`),
			wantErrors: []string{
				`screenPop.default.map[0].path: bad path at offset 35 (at the end): expected "]" to close the "[" at offset 27 (paths look like interaction.activity.customerCli or interaction.leadData.phones.index=1[phone])`,
			},
		},
		{
			name: "a map that is not a list does not also flag every placeholder",
			json: defaultRule(`{"entity": "contact", "query": "?$filter=telephone1 eq '{{phone}}'", "map": "phone"}`),
			wantErrors: []string{
				`screenPop.default.map: expected a list, got "phone" (write a list: [{"name": "telephone1", "type": "string", "path": "interaction.activity.customerCli"}])`,
			},
		},

		// Query templates.
		{
			name: "a placeholder outside a string literal",
			json: defaultRule(`{"entity": "contact", "query": "?$filter=telephone1 eq {{phone}}", ` + okCallerMap + `}`),
			wantErrors: []string{
				`screenPop.default.query: bad query template at offset 23 (near "{{phone}}"): {{phone}} is outside a string literal in $filter (put {{phone}} inside single quotes: telephone1 eq '{{phone}}' (values are always inserted as text))`,
			},
		},
		{
			name: "an unclosed placeholder",
			json: defaultRule(`{"entity": "contact", "query": "?$filter=telephone1 eq '{{phone}' and statecode eq 0", ` + okCallerMap + `}`),
			wantErrors: []string{
				`screenPop.default.query: bad query template at offset 24 (near "{{phone}' and statec..."): unclosed placeholder "{{phone}' and statecode eq 0": no }} (close it: {{phone}})`,
			},
		},
		{
			name: "a query that is only $search",
			json: defaultRule(`{"entity": "contact", "query": "?$search={{phone}}", ` + okCallerMap + `}`),
			wantWarnings: []string{
				`screenPop.default.query: the query is only $search: CIF always opens its search page for it, and without $search nothing is left to look the record up with, so calls always show the search page, never the record (add a $filter that finds the record, e.g. "?$filter=telephone1 eq '{{telephone1}}'&$search={{telephone1}}")`,
			},
		},
		{
			name:         "$search written percent-encoded",
			json:         defaultRule(`{"entity": "contact", "query": "?$filter=telephone1 eq '{{phone}}'&%24search={{phone}}", ` + okCallerMap + `}`),
			wantWarnings: []string{`screenPop.default.query: ` + searchMessage},
		},

		// Entities.
		{
			name: "a rule entity not listed in entities",
			json: rules(`{"callType": ["inbound"], "entity": "incident", "query": "?$select=title"}`),
			wantErrors: []string{
				`screenPop.rules[0].entity: entity "incident" is not listed in entities (add "incident" to entities (with plural, key, query and type), or search a listed entity: contact)`,
			},
		},
		{
			name: "a malformed rule entity is reported once",
			json: rules(`{"callType": ["inbound"], "entity": "my table", "query": "?$select=fullname"}`),
			wantErrors: []string{
				`screenPop.rules[0].entity: "my table" is not a valid table name (a logical name is letters, digits and underscores, starting with a letter or underscore, e.g. contact)`,
			},
		},
		{
			name: "a rule entity with no entities block at all",
			json: `{` + okScripts + `, "screenPop": {` + okDefault + `}}`,
			wantWarnings: []string{
				`screenPop.default.entity: entity "contact" is not described: there is no entities block, so its entity set name and columns are unknown (add "entities": {"contact": {"plural": ..., "key": ..., "query": ..., "type": ...}})`,
				noEntities,
			},
		},
		{
			name: "an entity missing everything",
			json: entities(`{"contact": {}}`),
			wantErrors: []string{
				`entities.contact.plural: missing: the Web API addresses the table by its plural (entity set) name (add "plural": the entity set name, e.g. "contacts")`,
				`entities.contact.key: missing: the table's primary key column is needed to reference its records (add "key": the primary key column, e.g. "contactid")`,
				`entities.contact.query: missing: the comma-separated columns to read for each record (add "query": "fullname,telephone1")`,
				`entities.contact.type: missing: the type says which select box lists the records (write "person" (listed in the people select box) or "entity" (listed in the organisations select box))`,
			},
		},
		{
			name: "bad entity type and columns",
			json: entities(`{"contact": {"plural": "contacts", "key": "contactid", "query": "fullname,,full name, Telephone1,fullname", "type": "people"}}`),
			wantErrors: []string{
				`entities.contact.query: column 2 of "fullname,,full name, Telephone1,fullname" is empty (remove the extra comma)`,
				`entities.contact.query: column 3, "full name", is not a valid column name (a column is a logical name: letters, digits and underscores, starting with a letter or underscore)`,
				`entities.contact.type: unknown entity type "people" (write "person" (listed in the people select box) or "entity" (listed in the organisations select box))`,
			},
			wantWarnings: []string{
				`entities.contact.query: column "Telephone1" is a schema name; the Web API uses lower-case logical names, so "telephone1" is used (write "telephone1")`,
				`entities.contact.query: column "fullname" is listed twice (remove the repeat)`,
			},
		},
		{
			name: "an empty column list",
			json: entities(`{"contact": {"plural": "contacts", "key": "contactid", "query": " ", "type": "person"}}`),
			wantErrors: []string{
				`entities.contact.query: empty column list (list the columns to read, e.g. "fullname,telephone1")`,
			},
		},
		{
			name: "schema names and bad names in entities",
			json: entities(`{"Contact": {"plural": "Contacts", "key": "contact id", "query": "fullname", "type": "person"}}`),
			wantErrors: []string{
				`entities.Contact.key: "contact id" is not a valid column name (a logical name is letters, digits and underscores, starting with a letter or underscore, e.g. telephone1)`,
			},
			wantWarnings: []string{
				`entities.Contact: "Contact" is a schema name; the Web API uses lower-case logical names, so "contact" is used (write "contact")`,
				`entities.Contact.plural: "Contacts" is a schema name; the Web API uses lower-case logical names, so "contacts" is used (write "contacts")`,
			},
		},
		{
			name: "the same entity defined differently in two places",
			json: `{` + okScripts + `, "screenPop": {` + okDefault + `},
				"config": {"options": {"entities": {"contact": {"plural": "contacts", "key": "contactid", "query": "fullname", "type": "person"}}}},
				"entities": {"contact": {"plural": "contact", "key": "contactid", "query": "fullname,telephone1", "type": "person"}}}`,
			wantErrors: []string{
				`entities.contact: entity "contact" conflicts with config.options.entities.contact: plural "contact" here, "contacts" there; query "fullname,telephone1" here, "fullname" there (make the two definitions the same, or keep only one)`,
			},
		},
		{
			name: "entities in all three places, consistent, merge in file order",
			json: `{` + okScripts + `, "screenPop": {` + okDefault + `},
				"entities": {"account": {"plural": "accounts", "key": "accountid", "query": "name", "type": "entity"}},
				"config": {"entities": {"contact": {"plural": "contacts", "key": "contactid", "query": "fullname", "type": "person"}},
				           "options": {"entities": {"contact": {"plural": "contacts", "key": "contactid", "query": "fullname", "type": "person"}}}}}`,
		},

		// Options.
		{
			name:       "an unknown phone region",
			json:       options(`{"phoneRegion": "XX"}`),
			wantErrors: []string{`config.options.phoneRegion: unknown phone region "XX" (write an ISO 3166 two-letter region such as "AU", "GB" or "US")`},
		},
		{
			name: "field names that are not column names",
			json: options(`{"fields": {"callDispositionField": "new wrap code", "agentInteractionId": "", "agentId": "new_agentid"}}`),
			wantErrors: []string{
				`config.options.fields.callDispositionField: "new wrap code" is not a valid column name (a logical name is letters, digits and underscores, starting with a letter or underscore, e.g. telephone1)`,
				`config.options.fields.agentInteractionId: empty column name (write the column's logical name, e.g. telephone1)`,
			},
			wantWarnings: []string{
				`config.options.fields.agentId: unknown key "agentId" is ignored (known keys here: callDispositionField, agentInteractionId)`,
			},
		},

		// Scripts.
		{
			name: "scripts without src, with a relative URL, an ftp URL and a bad dataset",
			json: scripts(`[{"dataset": {"cifid": 1}}, {"src": "/webresources/x.js"}, {"src": "ftp://example.com/x.js"}, {"src": "https://example.com/x.js", "dataset": {"data crm": "x"}}]`),
			wantErrors: []string{
				`scripts[0].src: missing: a script needs the URL it loads from (add "src": "https://...")`,
				`scripts[0].dataset.cifid: expected a string, got 1 (put the value in double quotes: "1")`,
				`scripts[1].src: "/webresources/x.js" is not an absolute http(s) URL (write an absolute URL such as https://ORG.crm.dynamics.com/webresources/Widget/msdyn_ciLibrary.js)`,
				`scripts[2].src: scheme "ftp" is not http or https (use an https URL)`,
				`scripts[3].dataset["data crm"]: "data crm" is not usable as a data-* attribute name (use letters, digits, '-' and '_': the key becomes the attribute data-KEY)`,
			},
		},
		{
			name: "plain http is only for loopback",
			json: scripts(`[{"src": "http://localhost:8080/webresources/Widget/msdyn_ciLibrary.js", "dataset": {"crmurl": "http://localhost:8080", "cifid": "CIFMainLibrary"}}, {"src": "http://example.com/x.js"}]`),
			wantWarnings: []string{
				`scripts[1].src: "http://example.com/x.js" loads a script over plain http; Dynamics pages are https and browsers block mixed content (use https)`,
			},
		},
		{
			name: "the CIF library without its attributes",
			json: scripts(`[{"src": "https://contoso.crm6.dynamics.com/webresources/Widget/msdyn_ciLibrary.js"},
				{"src": "https://contoso.crm6.dynamics.com/webresources/Widget/msdyn_ciLibrary.js", "dataset": {"crmurl": "https://fabrikam.crm.dynamics.com", "cifid": "main"}}]`),
			wantWarnings: []string{
				`scripts[0].dataset.crmurl: missing: msdyn_ciLibrary.js needs data-crmurl, the Dynamics URL it talks to (add "crmurl": "https://ORG.crm.dynamics.com")`,
				`scripts[0].dataset.cifid: missing: msdyn_ciLibrary.js needs data-cifid (add "cifid": "CIFMainLibrary")`,
				`scripts[1].dataset.cifid: msdyn_ciLibrary.js expects data-cifid "CIFMainLibrary", got "main" (write "CIFMainLibrary")`,
				`scripts[1].dataset.crmurl: crmurl "https://fabrikam.crm.dynamics.com" is not the origin the CIF library is loaded from (https://contoso.crm6.dynamics.com) (load msdyn_ciLibrary.js from https://fabrikam.crm.dynamics.com, or set crmurl to https://contoso.crm6.dynamics.com)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotErrors, gotWarnings := parseProblems(t, tt.json)
			if !reflect.DeepEqual(gotErrors, tt.wantErrors) {
				t.Errorf("errors:\n got %s\nwant %s", lines(gotErrors), lines(tt.wantErrors))
			}
			if !reflect.DeepEqual(gotWarnings, tt.wantWarnings) {
				t.Errorf("warnings:\n got %s\nwant %s", lines(gotWarnings), lines(tt.wantWarnings))
			}
		})
	}
}

// parseProblems parses a config and returns its errors and warnings as
// strings; nil when there are none, so cases list only what they expect.
func parseProblems(t *testing.T, config string) (errs, warnings []string) {
	t.Helper()
	cfg, err := Parse([]byte(config))
	if err == nil {
		if cfg == nil {
			t.Fatal("Parse returned neither a config nor an error")
		}
		return nil, nilIfEmpty(problemStrings(cfg.Warnings))
	}
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("Parse error is %T, want *config.Error: %v", err, err)
	}
	if cfg != nil {
		t.Error("Parse returned a config along with errors")
	}
	if len(perr.Problems) == 0 {
		t.Error("Parse returned an *Error with no problems")
	}
	if got, want := err.Error(), strings.Join(problemStrings(perr.Problems), "\n"); got != want {
		t.Errorf("Error() = %q, want the problems one per line: %q", got, want)
	}
	return problemStrings(perr.Problems), nilIfEmpty(problemStrings(perr.Warnings))
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func lines(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return "\n  " + strings.Join(s, "\n  ")
}

func TestLoadReportsAllProblemsOfABadFileAtOnce(t *testing.T) {
	tests := []struct {
		name         string
		file         string
		wantErrors   []string
		wantWarnings []string
	}{
		{
			name: "problems in every block",
			file: "testdata/many-problems.json",
			wantErrors: []string{
				`scripts[0].src: scheme "ftp" is not http or https (use an https URL)`,
				`config.options.completeActivityRecordOnWrap: expected true or false, got "yes" (write true or false)`,
				`config.options.fields.callDispositionField: "new wrapcode" is not a valid column name (a logical name is letters, digits and underscores, starting with a letter or underscore, e.g. telephone1)`,
				`config.options.phoneRegion: unknown phone region "Australia" (write an ISO 3166 two-letter region such as "AU", "GB" or "US")`,
				`screenPop.default: missing: a screen pop needs a default rule, used for every call type no rule lists (add "default": {"entity": "contact", "query": "?$select=fullname&$filter=telephone1 eq '{{telephone1}}'", "map": [...]})`,
				`screenPop.rules[0].callType: missing: a rule needs the call types it applies to (add "callType": ["inbound"]; valid call types: manual, inbound, preview, outbound)`,
				`screenPop.rules[0].map[0].format: unknown phone format "E.164" (did you mean "e164"? valid formats: local, national, e164, international, digits, variants)`,
				`screenPop.rules[0].map[1].type: unknown map type "text" (valid types: string, phone)`,
				`screenPop.rules[0].map[1].path: bad path at offset 12 (near ".activity"): expected a key, index or selector, found '.' (paths look like interaction.activity.customerCli or interaction.leadData.phones.index=1[phone])`,
				`screenPop.rules[0].map[1].name: duplicate map name "phone": screenPop.rules[0].map[0] already defines it (rename or remove one of them)`,
				`screenPop.rules[0].query: placeholder {{mobile}} has no map entry (add {"name": "mobile", "type": "string", "path": "interaction.activity.customerCli"} to map, or remove {{mobile}})`,
				`screenPop.rules[1].callType[1]: unknown call type "transfer" (valid call types: manual, inbound, preview, outbound)`,
				`screenPop.rules[1].query: bad query template at offset 9 (near "{{phone}}"): {{phone}} is in $select, where placeholders are not allowed (write the column names literally; to match on {{phone}} use $filter, e.g. telephone1 eq '{{phone}}')`,
				`entities.contact.query: column 2 of "fullname,,telephone1" is empty (remove the extra comma)`,
				`entities.contact.type: unknown entity type "people" (write "person" (listed in the people select box) or "entity" (listed in the organisations select box))`,
				`screenPop.rules[0].entity: entity "incident" is not listed in entities (add "incident" to entities (with plural, key, query and type), or search a listed entity: contact)`,
			},
			wantWarnings: []string{
				`screenPop.rules: trailing comma at line 29, column 8 is not valid JSON (accepted, as the ipSCAPE reference writes one) (remove the comma before ']')`,
				`config.options.createTaskOnPreveiw: unknown key "createTaskOnPreveiw" is ignored (did you mean "createTaskOnPreview"?)`,
				`screenPop.rules[0].callTypes: unknown key "callTypes" is ignored (did you mean "callType"?)`,
				`screenPop.rules[1].adNewRecord: unknown key "adNewRecord" is ignored (did you mean "addNewRecord"?)`,
			},
		},
		{
			name: "malformed JSON keeps the warnings found before it",
			file: "testdata/malformed.json",
			wantErrors: []string{
				`screenPop.default: invalid JSON at line 9, column 7: expected ',' or '}' after the value of "query", got '"' (add a comma between members, or close the object with })`,
			},
			wantWarnings: []string{
				`scripts: trailing comma at line 3, column 88 is not valid JSON (accepted, as the ipSCAPE reference writes one) (remove the comma before ']')`,
			},
		},
		{
			name: "entities defined differently in three places",
			file: "testdata/conflicting-entities.json",
			wantErrors: []string{
				`config.entities.account: entity "account" conflicts with config.options.entities.account: type "person" here, "entity" there (make the two definitions the same, or keep only one)`,
				`entities.account: entity "account" conflicts with config.options.entities.account: plural "account" here, "accounts" there (make the two definitions the same, or keep only one)`,
			},
			wantWarnings: []string{noScripts, noScreenPop},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			gotErrors, gotWarnings := parseProblems(t, string(data))
			if !reflect.DeepEqual(gotErrors, tt.wantErrors) {
				t.Errorf("errors:\n got %s\nwant %s", lines(gotErrors), lines(tt.wantErrors))
			}
			if !reflect.DeepEqual(gotWarnings, tt.wantWarnings) {
				t.Errorf("warnings:\n got %s\nwant %s", lines(gotWarnings), lines(tt.wantWarnings))
			}
		})
	}
}

func TestParseStoresNamesAsTheWebAPIWantsThem(t *testing.T) {
	cfg, err := Parse([]byte(`{` + okScripts + `,
		"config": {"options": {"phoneRegion": "au", "fields": {"agentInteractionId": "new_AgentInteractionId"}}},
		"entities": {"Contact": {"plural": "Contacts", "key": "ContactId", "query": " FullName , telephone1", "type": "person"}},
		"screenPop": {"default": {"entity": "Contact", "query": "?$filter=telephone1 eq '{{phone}}'",
			"map": [{"name": "phone", "type": "phone", "path": "interaction.activity.customerCli"}]}}}`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{name: "phone region in upper case", got: cfg.Options.PhoneRegion, want: "AU"},
		{name: "field column lower-cased", got: cfg.Options.Fields.AgentInteractionID, want: "new_agentinteractionid"},
		{name: "entity names lower-cased", got: cfg.EntityOrder, want: []string{"contact"}},
		{name: "entity set and key lower-cased", got: [2]string{cfg.Entities["contact"].Plural, cfg.Entities["contact"].Key}, want: [2]string{"contacts", "contactid"}},
		{name: "columns trimmed and lower-cased", got: cfg.Entities["contact"].Columns, want: []string{"fullname", "telephone1"}},
		{name: "rule entity lower-cased", got: cfg.ScreenPop.Default.Entity, want: "contact"},
		{name: "a phone entry without format is local", got: cfg.ScreenPop.Default.Map[0].Format, want: phone.FormatLocal},
		{name: "a missing addNewRecord is false", got: cfg.ScreenPop.Default.AddNewRecord, want: false},
		{name: "the map entry path is compiled", got: cfg.ScreenPop.Default.Map[0].Path.String(), want: "interaction.activity.customerCli"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestParseDefaultsAMapEntryTypeToString(t *testing.T) {
	cfg, err := Parse([]byte(defaultRule(`{"entity": "contact", "query": "?$filter=telephone1 eq '{{phone}}'", "map": [{"name": "phone", "path": "interaction.activity.customerCli"}]}`)))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := cfg.ScreenPop.Default.Map[0].Type; got != MapTypeString {
		t.Errorf("type of an entry without one: got %q, want %q", got, MapTypeString)
	}
}
