package config

import (
	"fmt"
	"slices"
	"strings"
)

var entityKeys = []string{"plural", "key", "query", "type"}

var entityTypes = []string{string(EntityPerson), string(EntityOrganisation)}

// definedEntity is one entity as read from one entities block.
type definedEntity struct {
	path   string
	entity *Entity
	// complete is false when the definition had errors; such an entity is
	// still known by name (so rules naming it do not get a second, misleading
	// "not listed" error) but is not compared with other definitions.
	complete bool
}

// mergeEntities reads every entities block (top level, config.entities,
// config.options.entities) in file order and merges them: a name defined
// in two places must be defined the same way.
func (r *reader) mergeEntities() {
	slices.SortStableFunc(r.entityBlocks, func(a, b entityBlock) int { return a.node.offset - b.node.offset })
	defined := map[string]definedEntity{}
	for _, block := range r.entityBlocks {
		for _, d := range r.entityBlock(block.node, block.path) {
			name := d.entity.LogicalName
			prev, seen := defined[name]
			if !seen {
				defined[name] = d
				d.entity.JSONPath = d.path
				r.cfg.Entities[name] = d.entity
				r.cfg.EntityOrder = append(r.cfg.EntityOrder, name)
				continue
			}
			if !prev.complete || !d.complete {
				continue
			}
			if diff := entityDifference(d.entity, prev.entity); diff != "" {
				r.errorf(d.path, "make the two definitions the same, or keep only one",
					"entity %q conflicts with %s: %s", name, prev.path, diff)
			}
		}
	}
}

// entityDifference describes how a (here) differs from b (there), or "".
func entityDifference(a, b *Entity) string {
	var diffs []string
	if a.Plural != b.Plural {
		diffs = append(diffs, fmt.Sprintf("plural %q here, %q there", a.Plural, b.Plural))
	}
	if a.Key != b.Key {
		diffs = append(diffs, fmt.Sprintf("key %q here, %q there", a.Key, b.Key))
	}
	if !slices.Equal(a.Columns, b.Columns) {
		diffs = append(diffs, fmt.Sprintf("query %q here, %q there", strings.Join(a.Columns, ","), strings.Join(b.Columns, ",")))
	}
	if a.Type != b.Type {
		diffs = append(diffs, fmt.Sprintf("type %q here, %q there", a.Type, b.Type))
	}
	return strings.Join(diffs, "; ")
}

const entityExample = `{"plural": "contacts", "key": "contactid", "query": "fullname,telephone1", "type": "person"}`

// entityBlock reads one entities object.
func (r *reader) entityBlock(n *node, path string) []definedEntity {
	obj, ok := r.object(n, path, `{"contact": `+entityExample+`}`)
	if !ok {
		return nil
	}
	var out []definedEntity
	names := map[string]bool{}
	for _, m := range obj.members {
		at := joinKey(path, m.key)
		if names[m.key] {
			r.errorf(at, "keep one of them", "key %q appears more than once in the same object", m.key)
			continue
		}
		names[m.key] = true
		errorsBefore := len(r.errors)
		name := r.checkLogicalName(m.key, at, "table")
		if name == "" {
			continue
		}
		e := r.entity(m.value, at, name)
		if e == nil {
			continue
		}
		out = append(out, definedEntity{path: at, entity: e, complete: len(r.errors) == errorsBefore})
	}
	return out
}

func (r *reader) entity(n *node, path, name string) *Entity {
	obj, ok := r.object(n, path, entityExample)
	if !ok {
		return &Entity{LogicalName: name}
	}
	keys := r.keys(obj, path, entityKeys)
	e := &Entity{LogicalName: name}

	pluralPath := joinKey(path, "plural")
	if v := keys["plural"]; v == nil {
		r.errorf(pluralPath, fmt.Sprintf(`add "plural": the entity set name, e.g. %q`, name+"s"),
			"missing: the Web API addresses the table by its plural (entity set) name")
	} else {
		e.Plural = r.logicalName(v, pluralPath, "entity set")
	}

	keyPath := joinKey(path, "key")
	if v := keys["key"]; v == nil {
		r.errorf(keyPath, fmt.Sprintf(`add "key": the primary key column, e.g. %q`, name+"id"),
			"missing: the table's primary key column is needed to reference its records")
	} else {
		e.Key = r.logicalName(v, keyPath, "column")
	}

	queryPath := joinKey(path, "query")
	if v := keys["query"]; v == nil {
		r.errorf(queryPath, `add "query": "fullname,telephone1"`, "missing: the comma-separated columns to read for each record")
	} else if s, ok := r.str(v, queryPath); ok {
		e.Columns = r.columns(s, queryPath)
	}

	typePath := joinKey(path, "type")
	typeFix := `write "person" (listed in the people select box) or "entity" (listed in the organisations select box)`
	if v := keys["type"]; v == nil {
		r.errorf(typePath, typeFix, "missing: the type says which select box lists the records")
	} else if s, ok := r.str(v, typePath); ok {
		if slices.Contains(entityTypes, s) {
			e.Type = EntityType(s)
		} else {
			r.errorf(typePath, typeFix, "unknown entity type %s", quoteShort(s))
		}
	}
	return e
}

// columns splits an entity's query, a comma-separated column list. Spaces
// around names are allowed, as people write "fullname, telephone1".
func (r *reader) columns(list, path string) []string {
	if strings.TrimSpace(list) == "" {
		r.errorf(path, `list the columns to read, e.g. "fullname,telephone1"`, "empty column list")
		return nil
	}
	parts := strings.Split(list, ",")
	columns := make([]string, 0, len(parts))
	for i, part := range parts {
		name := strings.TrimSpace(part)
		switch {
		case name == "":
			r.errorf(path, "remove the extra comma", "column %d of %q is empty", i+1, list)
			continue
		case !isIdentifier(name):
			r.errorf(path, "a column is a logical name: letters, digits and underscores, starting with a letter or underscore",
				"column %d, %s, is not a valid column name", i+1, quoteShort(name))
			continue
		}
		lower := strings.ToLower(name)
		if lower != name {
			r.warnf(path, fmt.Sprintf("write %q", lower),
				"column %q is a schema name; the Web API uses lower-case logical names, so %q is used", name, lower)
		}
		if slices.Contains(columns, lower) {
			r.warnf(path, "remove the repeat", "column %q is listed twice", lower)
			continue
		}
		columns = append(columns, lower)
	}
	return columns
}

// checkRuleEntities checks that every table a rule searches is listed in
// entities. Without any entities block this is only a warning: CIF can
// search a table by logical name alone, but ctibridge then knows neither
// its entity set nor its columns.
func (r *reader) checkRuleEntities() {
	listed := strings.Join(r.cfg.EntityOrder, ", ")
	for _, ref := range r.ruleEntities {
		if _, ok := r.cfg.Entities[ref.name]; ok {
			continue
		}
		if len(r.entityBlocks) == 0 {
			r.warnf(ref.path, fmt.Sprintf(`add "entities": {%q: {"plural": ..., "key": ..., "query": ..., "type": ...}}`, ref.name),
				"entity %q is not described: there is no entities block, so its entity set name and columns are unknown", ref.name)
			continue
		}
		fix := fmt.Sprintf("add %q to entities (with plural, key, query and type)", ref.name)
		if listed != "" {
			fix += ", or search a listed entity: " + listed
		}
		r.errorf(ref.path, fix, "entity %q is not listed in entities", ref.name)
	}
	r.checkPrefillColumns()
}

// checkPrefillColumns warns when a rule that opens a new-record form maps a
// value under a name that is not a column of its entity: mapped names are
// the form's prefill, and CIF's openForm refuses unknown fields.
func (r *reader) checkPrefillColumns() {
	rules := r.cfg.ScreenPop.Rules
	if r.cfg.ScreenPop.Default != nil {
		rules = append([]*Rule{r.cfg.ScreenPop.Default}, rules...)
	}
	for _, rule := range rules {
		ent := r.cfg.Entities[rule.Entity]
		if !rule.AddNewRecord || ent == nil {
			continue
		}
		for i, m := range rule.Map {
			if !slices.Contains(ent.Columns, strings.ToLower(m.Name)) {
				r.warnf(fmt.Sprintf("%s.map[%d].name", rule.JSONPath, i),
					fmt.Sprintf("name it after the column it fills (one of %s), or add it to entities.%s.query", strings.Join(ent.Columns, ", "), rule.Entity),
					"%q is not a column of %s: the new-record form cannot be prefilled with it", m.Name, rule.Entity)
			}
		}
	}
}
