package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/ctibridge/ctibridge/internal/datapath"
	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/odata"
	"github.com/ctibridge/ctibridge/internal/phone"
)

var (
	screenPopKeys = []string{"default", "rules"}
	ruleKeys      = []string{"callType", "entity", "query", "map", "addNewRecord"}
	// mapEntryKeys includes "map", ipSCAPE's alias of "path".
	mapEntryKeys = []string{"name", "type", "format", "path", "map"}
)

// Map entry types.
const (
	MapTypeString = "string"
	MapTypePhone  = "phone"
)

var mapTypes = []string{MapTypeString, MapTypePhone}

const ruleExample = `{"entity": "contact", "query": "?$select=fullname&$filter=telephone1 eq '{{telephone1}}'", "map": [...]}`

func (r *reader) screenPop(n *node, path string) {
	obj, ok := r.object(n, path, `{"default": {...}, "rules": [...]}`)
	if !ok {
		return
	}
	keys := r.keys(obj, path, screenPopKeys)
	r.callTypeOwners = map[string]string{}
	defaultPath := joinKey(path, "default")
	if v := keys["default"]; v == nil {
		r.errorf(defaultPath, `add "default": `+ruleExample,
			"missing: a screen pop needs a default rule, used for every call type no rule lists")
	} else {
		r.cfg.ScreenPop.Default = r.rule(v, defaultPath, true)
	}
	if v := keys["rules"]; v != nil {
		rulesPath := joinKey(path, "rules")
		items, ok := r.list(v, rulesPath, `[{"callType": ["inbound"], "entity": ...}]`)
		if !ok {
			return
		}
		for i, item := range items {
			if rule := r.rule(item, joinIndex(rulesPath, i), false); rule != nil {
				r.cfg.ScreenPop.Rules = append(r.cfg.ScreenPop.Rules, rule)
			}
		}
	}
}

// rule reads one screen-pop rule; isDefault is set for screenPop.default,
// which has no callType.
func (r *reader) rule(n *node, path string, isDefault bool) *Rule {
	obj, ok := r.object(n, path, ruleExample)
	if !ok {
		return nil
	}
	keys := r.keys(obj, path, ruleKeys)
	rule := &Rule{JSONPath: path}

	callTypePath := joinKey(path, "callType")
	switch v := keys["callType"]; {
	case isDefault && v != nil:
		r.warnf(callTypePath, "remove callType, or move this rule into screenPop.rules",
			"ignored: the default rule applies to every call type no rule lists")
	case isDefault:
	case v == nil:
		r.errorf(callTypePath, `add "callType": ["inbound"]; valid call types: `+callTypeList(),
			"missing: a rule needs the call types it applies to")
	default:
		rule.CallTypes = r.callTypes(v, callTypePath)
	}

	entityPath := joinKey(path, "entity")
	if v := keys["entity"]; v == nil {
		r.errorf(entityPath, `add "entity": "contact"`, "missing: a rule needs the table it searches")
	} else if s, ok := r.str(v, entityPath); ok {
		rule.Entity = r.checkLogicalName(s, entityPath, "table")
		// A name already reported as malformed is not also reported as
		// missing from entities.
		if isIdentifier(rule.Entity) {
			r.ruleEntities = append(r.ruleEntities, entityReference{path: entityPath, name: rule.Entity})
		}
	}

	queryPath := joinKey(path, "query")
	if v := keys["query"]; v == nil {
		r.errorf(queryPath, `add "query": "?$select=fullname&$filter=telephone1 eq '{{telephone1}}'"`,
			"missing: a rule needs the query that finds the record")
	} else if s, ok := r.str(v, queryPath); ok {
		rule.Query = s
		rule.Template = r.template(s, queryPath)
	}

	mapPath := joinKey(path, "map")
	mapOK := true
	if v := keys["map"]; v != nil {
		rule.Map, mapOK = r.mapEntries(v, mapPath)
	}

	if v := keys["addNewRecord"]; v != nil {
		rule.AddNewRecord, _ = r.boolean(v, joinKey(path, "addNewRecord"))
	}

	if rule.Template != nil && mapOK {
		r.crossCheckMap(rule, queryPath, mapPath)
		r.expandVariants(rule)
	}
	return rule
}

// expandVariants recompiles the rule's template so that the placeholders
// of "format": "variants" entries expand into their writings, reporting at
// each entry's format where its placeholder cannot.
func (r *reader) expandVariants(rule *Rule) {
	var names []string
	for _, e := range rule.Map {
		if e.Type == MapTypePhone && e.Format == phone.FormatVariants {
			names = append(names, e.Name)
		}
	}
	if len(names) == 0 {
		return
	}
	t, err := odata.ParseTemplateVariants(rule.Query, names)
	if err == nil {
		rule.Template = t
		return
	}
	var te *odata.TemplateError
	if !errors.As(err, &te) {
		r.errorf(joinKey(rule.JSONPath, "query"), "", "bad query template: %v", err)
		return
	}
	// The error names the placeholder; report it at that entry's format.
	at := joinKey(rule.JSONPath, "query")
	for _, e := range rule.Map {
		if slices.Contains(names, e.Name) && strings.HasPrefix(rule.Query[te.Offset:], "{{"+e.Name+"}}") {
			at = e.formatPath
		}
	}
	fix := te.Fix
	if fix != "" {
		fix += `, or use a single format such as "local"`
	} else {
		fix = `use a single format such as "local"`
	}
	r.errorf(at, fix, "the query cannot expand this number into its writings: at offset %d%s, %s", te.Offset, near(rule.Query, te.Offset), te.Msg)
	rule.Template = nil
}

func callTypeList() string {
	names := make([]string, len(interaction.CallTypes))
	for i, ct := range interaction.CallTypes {
		names[i] = string(ct)
	}
	return strings.Join(names, ", ")
}

func (r *reader) callTypes(n *node, path string) []string {
	items, ok := r.list(n, path, `["inbound"]`)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		r.errorf(path, `list call types, e.g. ["inbound"]; valid call types: `+callTypeList(), "empty: the rule applies to no call type")
		return nil
	}
	valid := make([]string, len(interaction.CallTypes))
	for i, ct := range interaction.CallTypes {
		valid[i] = string(ct)
	}
	var types []string
	for i, item := range items {
		at := joinIndex(path, i)
		s, ok := r.str(item, at)
		if !ok {
			continue
		}
		switch {
		case s == "default":
			r.errorf(at, "put the default rule in screenPop.default", `"default" is not a call type`)
			continue
		case !slices.Contains(valid, s):
			fix := "valid call types: " + callTypeList()
			if near := suggest(s, valid); near != "" {
				fix = fmt.Sprintf("did you mean %q? %s", near, fix)
			}
			r.errorf(at, fix, "unknown call type %s", quoteShort(s))
			continue
		case slices.Contains(types, s):
			r.warnf(at, "remove the repeat", "call type %q is listed twice in this rule", s)
			continue
		}
		types = append(types, s)
		if owner, taken := r.callTypeOwners[s]; taken {
			r.warnf(at, "remove it from one of the two rules",
				"call type %q is also in %s, which comes first and wins: this rule never applies to %s calls", s, owner, s)
			continue
		}
		r.callTypeOwners[s] = strings.TrimSuffix(path, ".callType")
	}
	return types
}

// template compiles a query template, reporting a TemplateError with its
// offset and a glimpse of the text there.
func (r *reader) template(query, path string) *odata.Template {
	t, err := odata.ParseTemplate(query)
	if err != nil {
		var te *odata.TemplateError
		if errors.As(err, &te) {
			r.errorf(path, te.Fix, "bad query template at offset %d%s: %s", te.Offset, near(query, te.Offset), te.Msg)
		} else {
			r.errorf(path, "", "bad query template: %v", err)
		}
		return nil
	}
	switch search, other := searchParameters(query); {
	case search && !other:
		r.warnf(path, `add a $filter that finds the record, e.g. "?$filter=telephone1 eq '{{telephone1}}'&$search={{telephone1}}"`,
			"the query is only $search: CIF always opens its search page for it, and without $search nothing is left to look the record up with, "+
				"so calls always show the search page, never the record")
	case search:
		r.warnf(path, "",
			"the query has $search: CIF always opens its search page for such a query, even on a single match; "+
				"ctibridge first runs the query without $search and opens the record when exactly one matches, "+
				"so $search only fills in the search page when none or several match")
	}
	return t
}

// near quotes the text at offset, so a deployer finds an offset in a long
// query without counting.
func near(s string, offset int) string {
	if offset < 0 || offset > len(s) {
		return ""
	}
	rest := s[offset:]
	if rest == "" {
		return " (at the end)"
	}
	const glimpse = 20
	if len(rest) > glimpse {
		cut := glimpse
		for cut < len(rest) && !isRuneStart(rest[cut]) {
			cut++
		}
		rest = rest[:cut] + "..."
	}
	return fmt.Sprintf(" (near %q)", rest)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// searchParameters reports whether a query template has a $search
// parameter (written $search or %24search), and whether it has any other.
func searchParameters(query string) (search, other bool) {
	body := strings.TrimPrefix(query, "?")
	for part := range strings.SplitSeq(body, "&") {
		if part == "" {
			continue
		}
		key, _, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if key == "$search" {
			search = true
		} else {
			other = true
		}
	}
	return search, other
}

// mapEntries reads a rule's map; ok is false when the map is not a list,
// so the placeholder cross-check does not report every placeholder as
// unmapped on top of that.
func (r *reader) mapEntries(n *node, path string) ([]*MapEntry, bool) {
	items, ok := r.list(n, path, `[{"name": "telephone1", "type": "string", "path": "interaction.activity.customerCli"}]`)
	if !ok {
		return nil, false
	}
	entries := make([]*MapEntry, 0, len(items))
	firstByName := map[string]int{}
	allRead := true
	for i, item := range items {
		at := joinIndex(path, i)
		e := r.mapEntry(item, at)
		if e == nil {
			allRead = false
			continue
		}
		if e.Name != "" {
			if first, dup := firstByName[e.Name]; dup {
				r.errorf(joinKey(at, "name"), "rename or remove one of them",
					"duplicate map name %q: %s already defines it", e.Name, joinIndex(path, first))
			} else {
				firstByName[e.Name] = i
			}
		}
		entries = append(entries, e)
	}
	return entries, allRead
}

func (r *reader) mapEntry(n *node, path string) *MapEntry {
	obj, ok := r.object(n, path, `{"name": "telephone1", "type": "string", "path": "interaction.activity.customerCli"}`)
	if !ok {
		return nil
	}
	keys := r.keys(obj, path, mapEntryKeys)
	// A phone value without a format is written the way the reference's
	// example formats it: local.
	e := &MapEntry{Type: MapTypeString, Format: phone.FormatLocal}

	namePath := joinKey(path, "name")
	if v := keys["name"]; v == nil {
		r.errorf(namePath, `add "name": "telephone1", the placeholder {{telephone1}} it fills`, "missing: a map entry needs the placeholder name it fills")
	} else if s, ok := r.str(v, namePath); ok {
		if strings.TrimSpace(s) == "" {
			r.errorf(namePath, "write the placeholder name, e.g. \"telephone1\" for {{telephone1}}", "empty map name")
		}
		e.Name = s
	}

	typePath := joinKey(path, "type")
	typeOK := true
	if v := keys["type"]; v != nil {
		if s, ok := r.str(v, typePath); !ok {
			typeOK = false
		} else if !slices.Contains(mapTypes, s) {
			typeOK = false
			fix := "valid types: " + strings.Join(mapTypes, ", ")
			if near := suggest(s, mapTypes); near != "" {
				fix = fmt.Sprintf("did you mean %q? %s", near, fix)
			}
			r.errorf(typePath, fix, "unknown map type %s", quoteShort(s))
		} else {
			e.Type = s
		}
	}

	formatPath := joinKey(path, "format")
	e.formatPath = formatPath
	if v := keys["format"]; v != nil {
		if s, ok := r.str(v, formatPath); ok && typeOK {
			if e.Type != MapTypePhone {
				r.warnf(formatPath, `remove "format", or set "type": "phone"`, "ignored: format applies only to type phone, and this entry is type %s", e.Type)
			} else if f, err := phone.ParseFormat(s); err != nil {
				fix := "valid formats: " + strings.Join(phone.FormatNames(), ", ")
				if near := suggest(s, phone.FormatNames()); near != "" {
					fix = fmt.Sprintf("did you mean %q? %s", near, fix)
				}
				r.errorf(formatPath, fix, "unknown phone format %s", quoteShort(s))
			} else {
				e.Format = f
			}
		}
	}

	r.mapPath(e, keys, path)
	return e
}

// mapPath reads the entry's path, or ipSCAPE's "map" written in its place
// (the reference's second default map entry does this).
func (r *reader) mapPath(e *MapEntry, keys map[string]*node, path string) {
	pathPath, aliasPath := joinKey(path, "path"), joinKey(path, "map")
	pathNode, aliasNode := keys["path"], keys["map"]
	var expr string
	var at string
	switch {
	case pathNode == nil && aliasNode == nil:
		r.errorf(pathPath, `add "path": "interaction.activity.customerCli"`, "missing: a map entry needs the path of the value it takes from the call")
		return
	case pathNode != nil:
		s, ok := r.str(pathNode, pathPath)
		if !ok {
			return
		}
		expr, at = s, pathPath
		if aliasNode != nil {
			alias, ok := r.str(aliasNode, aliasPath)
			switch {
			case !ok:
			case alias == s:
				r.warnf(aliasPath, `remove "map"`, `"map" repeats "path"`)
			default:
				r.errorf(aliasPath, `keep only "path"`, `"map" (ipSCAPE's alias of "path") says %s but "path" says %s`, quoteShort(alias), quoteShort(s))
			}
		}
	default:
		s, ok := r.str(aliasNode, aliasPath)
		if !ok {
			return
		}
		expr, at = s, aliasPath
		r.warnf(aliasPath, `rename the key to "path"`, `"map" is read as "path" (ipSCAPE accepts both)`)
	}
	e.PathExpr = expr
	p, err := datapath.Parse(expr)
	if err != nil {
		var se *datapath.SyntaxError
		if errors.As(err, &se) {
			r.errorf(at, "paths look like interaction.activity.customerCli or interaction.leadData.phones.index=1[phone]",
				"bad path at offset %d%s: %s", se.Offset, near(expr, se.Offset), se.Msg)
		} else {
			r.errorf(at, "", "bad path: %v", err)
		}
		return
	}
	e.Path = p
}

// crossCheckMap matches the template's placeholders with the map entries.
func (r *reader) crossCheckMap(rule *Rule, queryPath, mapPath string) {
	names := make([]string, 0, len(rule.Map))
	for _, e := range rule.Map {
		names = append(names, e.Name)
	}
	used := rule.Template.Names()
	for _, name := range used {
		if slices.Contains(names, name) {
			continue
		}
		fix := fmt.Sprintf(`add {"name": %q, "type": "string", "path": "interaction.activity.customerCli"} to map, or remove {{%s}}`, name, name)
		if s := suggest(name, names); s != "" {
			fix = fmt.Sprintf("did you mean {{%s}}? Or %s", s, fix)
		}
		r.errorf(queryPath, fix, "placeholder {{%s}} has no map entry", name)
	}
	for i, e := range rule.Map {
		if e.Name == "" || slices.Contains(used, e.Name) || slices.Index(names, e.Name) != i {
			continue
		}
		r.warnf(joinIndex(mapPath, i), fmt.Sprintf("use {{%s}} in the query, or remove the entry", e.Name),
			"map entry %q is not used by the query", e.Name)
	}
}
