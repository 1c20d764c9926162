package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// The metadata endpoints follow Microsoft Learn's "Use the Web API with
// table definitions", "Query table definitions using the Web API",
// "Retrieve table definitions by name or MetadataId", "Create and update
// column definitions using the Web API" and "Work with alternate keys":
//
//	GET  EntityDefinitions[(LogicalName='x')]
//	GET  EntityDefinitions(LogicalName='x')/Attributes[(LogicalName='y')][/Microsoft.Dynamics.CRM.<Type>AttributeMetadata]
//	GET  EntityDefinitions(LogicalName='x')/Keys
//	GET  EntityDefinitions(LogicalName='x')/ManyToOneRelationships
//	POST EntityDefinitions(LogicalName='x')/Attributes   (String, Memo, Integer, Picklist columns)
//	POST EntityDefinitions(LogicalName='x')/Keys         (one single-column key per table)
//
// $select (top-level properties) and, on a Picklist cast, $expand=OptionSet
// are supported; other query options are refused.

const crmNS = "Microsoft.Dynamics.CRM."

// metadataID is a stable GUID for a definition, from its name.
func metadataID(parts ...string) string {
	sum := sha256.Sum256([]byte("sandbox-metadata/" + strings.Join(parts, "/")))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// attributeType is Dataverse's AttributeType and the metadata type name
// of a column.
func attributeType(t *table, c *column) (attrType, odataType string) {
	switch c.kind {
	case kindString:
		return "String", "StringAttributeMetadata"
	case kindMemo:
		return "Memo", "MemoAttributeMetadata"
	case kindBool:
		return "Boolean", "BooleanAttributeMetadata"
	case kindInt:
		return "Integer", "IntegerAttributeMetadata"
	case kindBigInt:
		return "BigInt", "BigIntAttributeMetadata"
	case kindDecimal:
		return "Decimal", "DecimalAttributeMetadata"
	case kindDateTime:
		return "DateTime", "DateTimeAttributeMetadata"
	case kindGUID:
		return "Uniqueidentifier", "UniqueIdentifierAttributeMetadata"
	case kindPicklist:
		return "Picklist", "PicklistAttributeMetadata"
	case kindState:
		return "State", "StateAttributeMetadata"
	case kindStatus:
		return "Status", "StatusAttributeMetadata"
	case kindLookup:
		switch {
		case slices.Contains(t.partyLists, c):
			return "PartyList", "LookupAttributeMetadata"
		case c.name == "ownerid":
			return "Owner", "LookupAttributeMetadata"
		}
		return "Lookup", "LookupAttributeMetadata"
	}
	return "Virtual", "AttributeMetadata"
}

func (t *table) metadataColumns() []*column {
	out := make([]*column, 0, len(t.columns)+len(t.partyLists))
	out = append(out, t.columns...)
	return append(out, t.partyLists...)
}

func (t *table) metadataColumn(name string) *column {
	for _, c := range t.metadataColumns() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (s *Sandbox) entityDefinition(t *table) orderedObject {
	return orderedObject{
		{"MetadataId", metadataID(t.logical)},
		{"LogicalName", t.logical},
		{"SchemaName", t.logical},
		{"EntitySetName", t.set},
		{"PrimaryIdAttribute", t.key},
		{"PrimaryNameAttribute", t.primaryName},
		{"IsActivity", t.activity},
		{"IsCustomEntity", false},
	}
}

func (s *Sandbox) attributeDefinition(t *table, c *column) orderedObject {
	attrType, odataType := attributeType(t, c)
	obj := orderedObject{
		{"@odata.type", "#" + crmNS + odataType},
		{"MetadataId", metadataID(t.logical, c.name)},
		{"LogicalName", c.name},
		{"SchemaName", c.name},
		{"EntityLogicalName", t.logical},
		{"AttributeType", attrType},
		{"AttributeTypeName", orderedObject{{"Value", attrType + "Type"}}},
		{"IsCustomAttribute", c.custom},
		{"IsValidForCreate", c.creatable || c.name == t.key},
		{"IsValidForUpdate", c.updatable},
		{"IsValidForRead", true},
		{"IsPrimaryId", c.name == t.key},
	}
	switch c.kind {
	case kindString, kindMemo:
		obj = append(obj, field{"MaxLength", c.maxLen})
	case kindInt:
		obj = append(obj, field{"MinValue", c.minInt}, field{"MaxValue", c.maxInt})
	case kindLookup:
		targets := make([]string, 0, len(c.nav))
		for target := range c.nav {
			targets = append(targets, target)
		}
		slices.Sort(targets)
		obj = append(obj, field{"Targets", targets})
	}
	return obj
}

// optionSet is a choice column's OptionSet, labels in English (1033).
func optionSet(t *table, c *column) orderedObject {
	values := make([]int64, 0, len(c.options))
	for v := range c.options {
		values = append(values, v)
	}
	slices.Sort(values)
	options := make([]orderedObject, 0, len(values))
	for _, v := range values {
		label := orderedObject{{"Label", c.options[v]}, {"LanguageCode", 1033}}
		options = append(options, orderedObject{
			{"Value", v},
			{"Label", orderedObject{{"LocalizedLabels", []orderedObject{label}}, {"UserLocalizedLabel", label}}},
		})
	}
	return orderedObject{
		{"MetadataId", metadataID(t.logical, c.name, "optionset")},
		{"Name", t.logical + "_" + c.name},
		{"IsGlobal", false},
		{"OptionSetType", "Picklist"},
		{"Options", options},
	}
}

func (s *Sandbox) keyDefinition(t *table) orderedObject {
	return orderedObject{
		{"@odata.type", "#" + crmNS + "EntityKeyMetadata"},
		{"MetadataId", metadataID(t.logical, "key", t.altKey.name)},
		{"LogicalName", t.altKeyName()},
		{"SchemaName", t.altKeyName()},
		{"EntityLogicalName", t.logical},
		{"KeyAttributes", []string{t.altKey.name}},
		// Dataverse builds a key's index in a system job (Pending, then
		// Active); the sandbox's is ready at once.
		{"EntityKeyIndexStatus", "Active"},
	}
}

func (t *table) altKeyName() string { return t.altKey.name + "_key" }

// manyToOne lists a table's many-to-one relationships: one per lookup
// column and target.
func (s *Sandbox) manyToOne(t *table) []orderedObject {
	var out []orderedObject
	for _, c := range t.columns {
		if c.kind != kindLookup {
			continue
		}
		for _, target := range sortedKeys(c.nav) {
			ref := s.sch().table(target)
			refAttr := ""
			if ref != nil {
				refAttr = ref.key
			}
			out = append(out, orderedObject{
				{"@odata.type", "#" + crmNS + "OneToManyRelationshipMetadata"},
				{"MetadataId", metadataID(t.logical, c.name, target)},
				{"SchemaName", target + "_" + t.logical + "_" + c.name},
				{"ReferencedEntity", target},
				{"ReferencedAttribute", refAttr},
				{"ReferencingEntity", t.logical},
				{"ReferencingAttribute", c.name},
				{"ReferencingEntityNavigationPropertyName", c.nav[target]},
			})
		}
	}
	return out
}

// metadataRefused is what Dataverse answers a caller whose role lacks the
// privilege to read table definitions (Options.RefuseMetadata).
func metadataRefused(callerID string) *apiError {
	return newError(http.StatusForbidden, "0x80040220",
		"Principal user (Id=%s, type=8) is missing prvReadEntity privilege on OTC=9800 for entity 'entity'.", callerID)
}

// serveMetadata answers the EntityDefinitions paths.
func (s *Sandbox) serveMetadata(ctx context.Context, req *apiRequest, segs []segment) (*apiResponse, error) {
	if s.opts.RefuseMetadata {
		return nil, metadataRefused(req.callerID)
	}
	for name := range req.query {
		if name != "$select" && name != "$expand" {
			return nil, errQuery("The sandbox's metadata endpoints take $select and $expand only, not %s.", name)
		}
	}
	sch := s.sch()
	first := segs[0]
	if !first.hasKey {
		if len(segs) != 1 {
			return nil, errSegmentNotFound(segs[1].name)
		}
		if req.method != http.MethodGet {
			return nil, errMethodNotAllowed(req.method)
		}
		var values []orderedObject
		for _, t := range sch.tables {
			values = append(values, selectProperties(s.entityDefinition(t), req))
		}
		return metadataList(req, "EntityDefinitions", values)
	}
	t, err := s.definitionTable(sch, first.key)
	if err != nil {
		return nil, err
	}
	if len(segs) == 1 {
		if req.method != http.MethodGet {
			return nil, errMethodNotAllowed(req.method)
		}
		return metadataEntity(req, "EntityDefinitions/$entity", selectProperties(s.entityDefinition(t), req))
	}
	nav := segs[1]
	switch nav.name {
	case "Attributes":
		return s.serveAttributes(ctx, req, t, segs[1:])
	case "Keys":
		if len(segs) != 2 || nav.hasKey {
			return nil, errSegmentNotFound(segs[len(segs)-1].name)
		}
		switch req.method {
		case http.MethodGet:
			var values []orderedObject
			if t.altKey != nil {
				values = append(values, selectProperties(s.keyDefinition(t), req))
			}
			return metadataList(req, "EntityDefinitions("+metadataID(t.logical)+")/Keys", values)
		case http.MethodPost:
			return s.createKey(ctx, req, t)
		}
		return nil, errMethodNotAllowed(req.method)
	case "ManyToOneRelationships":
		if len(segs) != 2 || nav.hasKey || req.method != http.MethodGet {
			return nil, errSegmentNotFound(segs[len(segs)-1].name)
		}
		var values []orderedObject
		for _, r := range s.manyToOne(t) {
			values = append(values, selectProperties(r, req))
		}
		return metadataList(req, "EntityDefinitions("+metadataID(t.logical)+")/ManyToOneRelationships", values)
	}
	return nil, errSegmentNotFound(nav.name)
}

// definitionTable resolves LogicalName='x' (or a MetadataId).
func (s *Sandbox) definitionTable(sch *schema, key string) (*table, error) {
	name := ""
	if pairs, err := parseKeyPredicate(key); err == nil {
		if v, ok := pairs["LogicalName"]; ok && len(pairs) == 1 && v.quoted {
			name = v.text
		}
	}
	if id, ok := parseGUID(key); ok {
		for _, t := range sch.tables {
			if metadataID(t.logical) == id {
				return t, nil
			}
		}
		return nil, newError(http.StatusNotFound, codeObjectDoesNotExist, "Could not find entity with MetadataId '%s'.", id)
	}
	if name == "" {
		return nil, errQuery("Bad key '%s' for EntityDefinitions; use LogicalName='<logical name>'.", key)
	}
	if t := sch.table(name); t != nil {
		return t, nil
	}
	return nil, newError(http.StatusNotFound, codeObjectDoesNotExist, "Could not find an entity with name %s.", name)
}

func (s *Sandbox) serveAttributes(ctx context.Context, req *apiRequest, t *table, segs []segment) (*apiResponse, error) {
	attrs := segs[0]
	rest := segs[1:]
	cast := ""
	if len(rest) > 0 && strings.HasPrefix(rest[0].name, crmNS) && !rest[0].hasKey {
		cast = strings.TrimPrefix(rest[0].name, crmNS)
		rest = rest[1:]
	}
	if len(rest) > 0 {
		return nil, errSegmentNotFound(rest[0].name)
	}
	matches := func(c *column) bool {
		if cast == "" {
			return true
		}
		_, odataType := attributeType(t, c)
		return odataType == cast
	}
	expandOptions := false
	if e := req.query.Get("$expand"); e != "" {
		if cast != "PicklistAttributeMetadata" || !strings.HasPrefix(strings.TrimSpace(e), "OptionSet") {
			return nil, errQuery("Could not find a property named '%s' on type '%sAttributeMetadata'; cast to Microsoft.Dynamics.CRM.PicklistAttributeMetadata to expand OptionSet.", strings.TrimSpace(e), crmNS)
		}
		expandOptions = true
	}
	render := func(c *column) orderedObject {
		obj := selectProperties(s.attributeDefinition(t, c), req)
		if expandOptions {
			obj = append(obj, field{"OptionSet", optionSet(t, c)})
		}
		return obj
	}
	if !attrs.hasKey {
		switch req.method {
		case http.MethodGet:
			var values []orderedObject
			for _, c := range t.metadataColumns() {
				if matches(c) {
					values = append(values, render(c))
				}
			}
			return metadataList(req, "EntityDefinitions("+metadataID(t.logical)+")/Attributes", values)
		case http.MethodPost:
			if cast != "" {
				return nil, errMethodNotAllowed(req.method)
			}
			return s.createAttribute(ctx, req, t)
		}
		return nil, errMethodNotAllowed(req.method)
	}
	if req.method != http.MethodGet {
		return nil, errMethodNotAllowed(req.method)
	}
	pairs, err := parseKeyPredicate(attrs.key)
	v, ok := pairs["LogicalName"]
	if err != nil || !ok || len(pairs) != 1 || !v.quoted {
		return nil, errQuery("Bad key '%s' for Attributes; use LogicalName='<logical name>'.", attrs.key)
	}
	c := t.metadataColumn(v.text)
	if c == nil {
		return nil, newError(http.StatusNotFound, codeObjectDoesNotExist, "Could not find attribute with name %s on entity %s.", v.text, t.logical)
	}
	if !matches(c) {
		// A cast to a type the attribute is not: OData finds nothing.
		return nil, errSegmentNotFound(crmNS + cast)
	}
	return metadataEntity(req, "EntityDefinitions("+metadataID(t.logical)+")/Attributes/$entity", render(c))
}

// selectProperties keeps the $select-ed properties, and always
// @odata.type and MetadataId, as Dataverse does.
func selectProperties(obj orderedObject, req *apiRequest) orderedObject {
	sel := req.query.Get("$select")
	if sel == "" {
		return obj
	}
	want := map[string]bool{"@odata.type": true, "MetadataId": true}
	for _, name := range strings.Split(sel, ",") {
		want[strings.TrimSpace(name)] = true
	}
	var out orderedObject
	for _, f := range obj {
		if want[f.key] {
			out = append(out, f)
		}
	}
	return out
}

func metadataList(req *apiRequest, context string, values []orderedObject) (*apiResponse, error) {
	if values == nil {
		values = []orderedObject{}
	}
	return jsonResponse(http.StatusOK, orderedObject{{"@odata.context", req.base + "$metadata#" + context}, {"value", values}})
}

func metadataEntity(req *apiRequest, context string, obj orderedObject) (*apiResponse, error) {
	return jsonResponse(http.StatusOK, append(orderedObject{{"@odata.context", req.base + "$metadata#" + context}}, obj...))
}

var schemaNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]{1,90}$`)

// createAttribute adds a column (POST .../Attributes).
func (s *Sandbox) createAttribute(ctx context.Context, req *apiRequest, t *table) (*apiResponse, error) {
	var body struct {
		Type       string `json:"@odata.type"`
		SchemaName string
		MaxLength  int
		OptionSet  *struct {
			Options []struct {
				Value int64
				Label struct {
					LocalizedLabels []struct{ Label string }
				}
			}
		}
	}
	if err := json.Unmarshal(req.body, &body); err != nil {
		return nil, newError(http.StatusBadRequest, codePayload, "The attribute definition is not valid JSON: %v", err)
	}
	if !schemaNamePattern.MatchString(body.SchemaName) {
		return nil, newError(http.StatusBadRequest, codeInvalidArgument, "SchemaName '%s' is not valid: it must start with a customization prefix and an underscore, such as new_WrapCode.", body.SchemaName)
	}
	col := extraColumn{name: strings.ToLower(body.SchemaName)}
	switch strings.TrimPrefix(strings.TrimPrefix(body.Type, "#"), crmNS) {
	case "StringAttributeMetadata":
		col.kind, col.maxLen = kindString, body.MaxLength
		if col.maxLen <= 0 || col.maxLen > 4000 {
			return nil, newError(http.StatusBadRequest, codeInvalidArgument, "MaxLength %d of a string column must be from 1 to 4000.", body.MaxLength)
		}
	case "MemoAttributeMetadata":
		col.kind, col.maxLen = kindMemo, body.MaxLength
		if col.maxLen <= 0 || col.maxLen > 1048576 {
			return nil, newError(http.StatusBadRequest, codeInvalidArgument, "MaxLength %d of a multiline text column must be from 1 to 1048576.", body.MaxLength)
		}
	case "IntegerAttributeMetadata":
		col.kind = kindInt
	case "PicklistAttributeMetadata":
		col.kind = kindPicklist
		col.options = map[int64]string{}
		if body.OptionSet != nil {
			for _, o := range body.OptionSet.Options {
				label := ""
				if len(o.Label.LocalizedLabels) > 0 {
					label = o.Label.LocalizedLabels[0].Label
				}
				col.options[o.Value] = label
			}
		}
		if len(col.options) == 0 {
			return nil, newError(http.StatusBadRequest, codeInvalidArgument, "A choice column needs an OptionSet with Options.")
		}
	default:
		return nil, newError(http.StatusBadRequest, codeInvalidArgument, "The sandbox creates String, Memo, Integer and Picklist columns, not '%s'.", body.Type)
	}
	if t.metadataColumn(col.name) != nil {
		return nil, newError(http.StatusBadRequest, codeDuplicateRecord, "An attribute with the name %s already exists on entity %s.", col.name, t.logical)
	}
	if err := s.addMetadata(ctx, addedColumn{table: t.logical, col: col}); err != nil {
		return nil, err
	}
	resp := newResponse(http.StatusNoContent)
	resp.header.Set("OData-EntityId", req.base+"EntityDefinitions("+metadataID(t.logical)+")/Attributes("+metadataID(t.logical, col.name)+")")
	return resp, nil
}

// createKey adds an alternate key (POST .../Keys).
func (s *Sandbox) createKey(ctx context.Context, req *apiRequest, t *table) (*apiResponse, error) {
	var body struct {
		SchemaName    string
		KeyAttributes []string
	}
	if err := json.Unmarshal(req.body, &body); err != nil {
		return nil, newError(http.StatusBadRequest, codePayload, "The key definition is not valid JSON: %v", err)
	}
	if len(body.KeyAttributes) != 1 {
		return nil, newError(http.StatusBadRequest, codeInvalidArgument, "The sandbox supports alternate keys of one column; KeyAttributes has %d.", len(body.KeyAttributes))
	}
	name := strings.ToLower(body.KeyAttributes[0])
	c := t.column(name)
	if c == nil || c.kind != kindString {
		return nil, newError(http.StatusBadRequest, codeInvalidArgument, "Key attribute %s must be a text column of %s.", name, t.logical)
	}
	if t.altKey != nil {
		if t.altKey.name == name {
			return nil, newError(http.StatusBadRequest, codeDuplicateRecord, "An alternate key on %s already exists for entity %s.", name, t.logical)
		}
		return nil, newError(http.StatusBadRequest, codeInvalidArgument, "The sandbox supports one alternate key per table; %s has one on %s.", t.logical, t.altKey.name)
	}
	if err := s.addMetadata(ctx, addedColumn{table: t.logical, col: extraColumn{name: name}, key: true}); err != nil {
		return nil, err
	}
	resp := newResponse(http.StatusNoContent)
	resp.header.Set("OData-EntityId", req.base+"EntityDefinitions("+metadataID(t.logical)+")/Keys("+metadataID(t.logical, "key", name)+")")
	return resp, nil
}

// metadataTableDDL keeps the columns and keys the metadata API added, so a
// sandbox file keeps them across restarts.
const metadataTableDDL = `CREATE TABLE IF NOT EXISTS "_sandbox_metadata" (seq INTEGER PRIMARY KEY, spec TEXT NOT NULL)`

type addedSpec struct {
	Table   string           `json:"table"`
	Name    string           `json:"name"`
	Kind    int              `json:"kind"`
	MaxLen  int              `json:"maxLength,omitempty"`
	Options map[int64]string `json:"options,omitempty"`
	Key     bool             `json:"key,omitempty"`
}

func (s *Sandbox) loadAddedMetadata(ctx context.Context) error {
	if _, err := s.writer.ExecContext(ctx, metadataTableDDL); err != nil {
		return fmt.Errorf("sandbox: creating the metadata table: %w", err)
	}
	rows, err := s.writer.QueryContext(ctx, `SELECT spec FROM "_sandbox_metadata" ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("sandbox: reading added metadata: %w", err)
	}
	defer rows.Close()
	var added []addedColumn
	for rows.Next() {
		var text string
		var spec addedSpec
		if err := rows.Scan(&text); err != nil {
			return fmt.Errorf("sandbox: reading added metadata: %w", err)
		}
		if err := json.Unmarshal([]byte(text), &spec); err != nil {
			return fmt.Errorf("sandbox: added metadata %q: %w", text, err)
		}
		added = append(added, addedColumn{table: spec.Table, key: spec.Key,
			col: extraColumn{name: spec.Name, kind: kind(spec.Kind), maxLen: spec.MaxLen, options: spec.Options}})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(added) == 0 {
		return nil
	}
	sch, err := newSchema(s.opts.ExtraColumns, s.opts.AlternateKey, added, s.opts.PhoneCallPartyTargets)
	if err != nil {
		return fmt.Errorf("sandbox: added metadata: %w", err)
	}
	s.added = added
	s.schema.Store(sch)
	return nil
}

// addMetadata records a new column or key, rebuilds the schema with it,
// and migrates the database.
func (s *Sandbox) addMetadata(ctx context.Context, a addedColumn) error {
	s.schemaMu.Lock()
	defer s.schemaMu.Unlock()
	added := append(slices.Clone(s.added), a)
	sch, err := newSchema(s.opts.ExtraColumns, s.opts.AlternateKey, added, s.opts.PhoneCallPartyTargets)
	if err != nil {
		return newError(http.StatusBadRequest, codeInvalidArgument, "%v", err)
	}
	spec, _ := json.Marshal(addedSpec{Table: a.table, Name: a.col.name, Kind: int(a.col.kind), MaxLen: a.col.maxLen, Options: a.col.options, Key: a.key})
	old := s.sch()
	s.schema.Store(sch)
	if err := s.migrate(ctx); err != nil {
		s.schema.Store(old)
		if a.key && strings.Contains(err.Error(), "UNIQUE") {
			return newError(http.StatusBadRequest, codeDuplicateRecord, "The alternate key cannot be created: rows of %s repeat a value of %s.", a.table, a.col.name)
		}
		return err
	}
	if _, err := s.writer.ExecContext(ctx, `INSERT INTO "_sandbox_metadata" (spec) VALUES (?)`, string(spec)); err != nil {
		return fmt.Errorf("sandbox: recording added metadata: %w", err)
	}
	s.added = added
	for _, q := range s.writerStatements() {
		if _, err := s.writerStmts.get(ctx, q); err != nil {
			return fmt.Errorf("sandbox: preparing %q: %w", q, err)
		}
	}
	return nil
}
