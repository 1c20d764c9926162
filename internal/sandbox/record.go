package sandbox

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// lookupRef is the value of a lookup column: the id of a row and the
// logical name of its table.
type lookupRef struct {
	ID     string
	Entity string
}

// record is one stored row by column name. Values are string (text,
// datetime, guid), bool, int64, float64, lookupRef, or nil for null.
type record map[string]any

func (r record) id(t *table) string {
	s, _ := r[t.key].(string)
	return s
}

func (r record) version() int64 {
	v, _ := r["versionnumber"].(int64)
	return v
}

func (r record) etag() string { return fmt.Sprintf(`W/"%d"`, r.version()) }

func (r record) int(name string) int64 {
	v, _ := r[name].(int64)
	return v
}

// selectSQL is the column list that loads whole records of t.
func selectSQL(t *table, alias string) string {
	cols := t.sqlColumns()
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = alias + "." + quoteIdent(c)
	}
	return strings.Join(parts, ", ")
}

// scanRecords reads every row of rows as a record of t; rows must come
// from a statement built with selectSQL.
func scanRecords(t *table, rows *sql.Rows) ([]record, error) {
	defer rows.Close()
	n := len(t.sqlColumns())
	var out []record
	for rows.Next() {
		raw := make([]any, n)
		ptrs := make([]any, n)
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		rec := record{}
		i := 0
		for _, c := range t.columns {
			v := raw[i]
			i++
			if c.kind == kindLookup {
				typ := raw[i]
				i++
				id := asString(v)
				if id == "" {
					rec[c.name] = nil
				} else {
					rec[c.name] = lookupRef{ID: id, Entity: asString(typ)}
				}
				continue
			}
			rec[c.name] = fromSQL(c, v)
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return ""
}

func fromSQL(c *column, v any) any {
	if v == nil {
		return nil
	}
	switch c.kind {
	case kindBool:
		i, _ := v.(int64)
		return i != 0
	case kindInt, kindBigInt, kindPicklist, kindState, kindStatus:
		switch x := v.(type) {
		case int64:
			return x
		case float64:
			return int64(x)
		}
		return nil
	case kindDecimal:
		switch x := v.(type) {
		case float64:
			return x
		case int64:
			return float64(x)
		}
		return nil
	}
	return asString(v)
}

// toSQL converts a record value to the value bound for column c (the id
// part for lookups).
func toSQL(c *column, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	case lookupRef:
		return x.ID
	}
	return v
}

// bindRef is an @odata.bind target before it is checked to exist.
type bindRef struct {
	nav    string
	target *table
	// id is the primary key; keyCol and keyValue address the row by
	// alternate key instead.
	id       string
	keyCol   *column
	keyValue string
	null     bool
}

// partyInput is one element of a deep-inserted activity party array.
type partyInput struct {
	party       bindRef
	mask        int64
	addressused any
}

// change is a parsed create or update payload.
type change struct {
	values       map[string]any
	binds        map[string]bindRef // by lookup column name
	state        *int64
	status       *int64
	parties      []partyInput
	partiesGiven bool
	// keys lists the payload's property names, for the closed-activity rule.
	keys []string
}

// refResolver turns an @odata.bind value into a table and key; batch
// change sets resolve $n references through it.
type refResolver func(ref string) (string, bool)

// parsePayload reads a JSON entity payload for t. creating selects
// IsValidForCreate rules, otherwise IsValidForUpdate.
func (s *Sandbox) parsePayload(t *table, body []byte, creating bool, resolve refResolver) (*change, error) {
	obj, err := decodeObject(body)
	if err != nil {
		return nil, errPayload(t, "%s", err)
	}
	return s.parseObject(t, obj, creating, resolve)
}

func decodeObject(body []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("The request body is empty; send a JSON object with the columns to write.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("Invalid JSON in the request body: %v", err)
	}
	if obj == nil {
		return nil, fmt.Errorf("The request body must be a JSON object, not null.")
	}
	if dec.More() {
		return nil, fmt.Errorf("Invalid JSON in the request body: unexpected data after the object.")
	}
	return obj, nil
}

func (s *Sandbox) parseObject(t *table, obj map[string]any, creating bool, resolve refResolver) (*change, error) {
	ch := &change{values: map[string]any{}, binds: map[string]bindRef{}}
	for _, key := range sortedKeys(obj) {
		value := obj[key]
		ch.keys = append(ch.keys, key)
		if strings.HasPrefix(key, "@") {
			if key == "@odata.type" {
				typ, _ := value.(string)
				typ = strings.TrimPrefix(typ, "#")
				if typ != t.qualifiedType() {
					return nil, errPayload(t, "A type named '%s' could not be resolved by the model; this entity set takes '%s'.", typ, t.qualifiedType())
				}
			}
			// Other instance annotations (@odata.etag, @odata.context of a
			// record read back) are ignored, as the OData reader does.
			continue
		}
		name, annotation, annotated := strings.Cut(key, "@")
		if annotated {
			if annotation != "odata.bind" {
				continue
			}
			nav, ok := t.navs[name]
			if !ok {
				if _, coll := t.collections[name]; coll {
					return nil, errPayload(t, "Binding the collection-valued navigation property '%s' is not supported; send the related records as an array in '%s' instead.", name, name)
				}
				return nil, errPayload(t, "An undeclared property '%s' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.", name)
			}
			if nav.col.system || (creating && !nav.col.creatable) || (!creating && !nav.col.updatable) {
				continue
			}
			ref, err := s.parseBind(t, name, nav, value, resolve)
			if err != nil {
				return nil, err
			}
			ch.binds[nav.col.name] = ref
			continue
		}
		if coll, ok := t.collections[name]; ok {
			parties, err := s.parseParties(t, coll, value, resolve)
			if err != nil {
				return nil, err
			}
			ch.parties = parties
			ch.partiesGiven = true
			continue
		}
		if _, ok := t.navs[name]; ok {
			return nil, errPayload(t, "The sandbox does not deep-insert through the single-valued navigation property '%s'; create the related record first and set '%s@odata.bind'.", name, name)
		}
		c := t.column(name)
		if c == nil || (c.kind == kindLookup && name != c.jsonName()) {
			return nil, errPayload(t, "The property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", name, t.qualifiedType())
		}
		if c.kind == kindLookup {
			return nil, newError(400, codeQuery, "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.")
		}
		v, err := convertValue(t, c, value)
		if err != nil {
			return nil, err
		}
		switch {
		case c.kind == kindState:
			if creating {
				continue // statecode is not valid for create
			}
			if v == nil {
				return nil, errPayload(t, "The property 'statecode' cannot be null.")
			}
			st := v.(int64)
			ch.state = &st
		case c.kind == kindStatus:
			if v == nil {
				return nil, errPayload(t, "The property 'statuscode' cannot be null.")
			}
			st := v.(int64)
			ch.status = &st
		case c.system:
			continue
		case creating && !c.creatable, !creating && !c.updatable:
			continue
		default:
			ch.values[c.name] = v
		}
	}
	return ch, nil
}

// parseBind reads "/contacts(<id>)", "contacts(<id>)", an absolute URL,
// "/phonecalls(key='v')" or a batch "$n" reference.
func (s *Sandbox) parseBind(t *table, navName string, nav navTarget, value any, resolve refResolver) (bindRef, error) {
	if value == nil {
		return bindRef{nav: navName, target: s.sch().table(nav.target), null: true}, nil
	}
	text, ok := value.(string)
	if !ok {
		return bindRef{}, errPayload(t, "The value of '%s@odata.bind' must be a string such as \"/%s(<id>)\".", navName, s.sch().table(nav.target).set)
	}
	ref := text
	if strings.HasPrefix(ref, "$") && resolve != nil {
		resolved, ok := resolve(ref)
		if !ok {
			return bindRef{}, newError(400, codeQuery, "Content-ID Reference: '%s' does not exist in the batch context.", ref)
		}
		ref = resolved
	}
	set, key, err := splitEntityRef(ref)
	if err != nil {
		return bindRef{}, errPayload(t, "The value '%s' of '%s@odata.bind' is not a record URL: %v", text, navName, err)
	}
	target := s.sch().bySet[set]
	if target == nil {
		return bindRef{}, errSegmentNotFound(set)
	}
	if target.logical != nav.target {
		return bindRef{}, errPayload(t, "The navigation property '%s' binds a %s, but '%s' is a %s; use %s_%s@odata.bind or a /%s(<id>) URL.", navName, nav.target, text, target.logical, strings.TrimSuffix(navName, "_"+nav.target), target.logical, s.sch().table(nav.target).set)
	}
	br := bindRef{nav: navName, target: target}
	if err := s.resolveKey(target, key, &br); err != nil {
		return bindRef{}, err
	}
	return br, nil
}

// resolveKey reads the text between the parentheses of a record URL.
// unaddressableKeyChars are the characters an alternate key value cannot
// hold and still address a record.
const unaddressableKeyChars = `/#<>*%&:\?+`

func (s *Sandbox) resolveKey(t *table, key string, br *bindRef) error {
	if id, ok := parseGUID(key); ok {
		br.id = id
		return nil
	}
	pairs, err := parseKeyPredicate(key)
	if err != nil {
		return errQuery("Bad key '%s' for %s: %v", key, t.set, err)
	}
	if len(pairs) == 1 {
		for name, value := range pairs {
			if name == t.key {
				id, ok := parseGUID(value.text)
				if !ok || value.quoted {
					return errQuery("The key '%s' of %s must be a GUID.", value.text, t.set)
				}
				br.id = id
				return nil
			}
			if t.altKey != nil && name == t.altKey.name && value.quoted {
				if strings.ContainsAny(value.text, unaddressableKeyChars) {
					// Microsoft's "Define alternate keys using Power Apps":
					// GET and PATCH by such a key value do not work, encoded
					// or not. The status and message are the sandbox's own.
					return newError(400, codeQuery, "The alternate key value '%s' of %s contains one of the characters / # < > * %% & : \\ ? +, which Dataverse cannot address by key; address the record by its id.", value.text, t.altKey.name)
				}
				br.keyCol = t.altKey
				br.keyValue = value.text
				return nil
			}
		}
	}
	return newError(400, codeQuery, "The key '%s' does not match an alternate key defined for the %s entity.", key, t.logical)
}

// parseParties reads a deep-inserted activity party array.
func (s *Sandbox) parseParties(t *table, coll *collectionNav, value any, resolve refResolver) ([]partyInput, error) {
	items, ok := value.([]any)
	if !ok {
		return nil, errPayload(t, "'%s' must be an array of activity party objects.", coll.name)
	}
	pt := s.sch().table(coll.child)
	var out []partyInput
	for i, item := range items {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, errPayload(t, "%s[%d] must be an object with partyid_<table>@odata.bind and participationtypemask.", coll.name, i)
		}
		var p partyInput
		bound := false
		for _, key := range sortedKeys(obj) {
			v := obj[key]
			switch {
			case strings.HasSuffix(key, "@odata.bind"):
				navName := strings.TrimSuffix(key, "@odata.bind")
				nav, ok := pt.navs[navName]
				if !ok || nav.col.name != "partyid" {
					return nil, errPayload(t, "%s[%d]: '%s' is not a party binding; use partyid_contact, partyid_account, partyid_lead or partyid_systemuser.", coll.name, i, navName)
				}
				if bound {
					return nil, errPayload(t, "%s[%d] binds more than one party; send one object per party.", coll.name, i)
				}
				ref, err := s.parseBind(pt, navName, nav, v, resolve)
				if err != nil {
					return nil, err
				}
				if ref.null {
					return nil, errPayload(t, "%s[%d]: the party binding cannot be null.", coll.name, i)
				}
				p.party = ref
				bound = true
			case key == "participationtypemask":
				mv, err := convertValue(pt, pt.column("participationtypemask"), v)
				if err != nil {
					return nil, err
				}
				if mv == nil {
					return nil, errPayload(t, "%s[%d]: participationtypemask cannot be null.", coll.name, i)
				}
				p.mask = mv.(int64)
			case key == "addressused":
				av, err := convertValue(pt, pt.column("addressused"), v)
				if err != nil {
					return nil, err
				}
				p.addressused = av
			case strings.HasPrefix(key, "@"):
			default:
				return nil, errPayload(t, "The property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", key, pt.qualifiedType())
			}
		}
		if !bound {
			return nil, errPayload(t, "%s[%d] has no party: add partyid_contact@odata.bind (or _account, _lead, _systemuser).", coll.name, i)
		}
		if p.mask == 0 {
			return nil, errPayload(t, "%s[%d] has no participationtypemask (1 sender, 2 to, ...).", coll.name, i)
		}
		out = append(out, p)
	}
	return out, nil
}

// convertValue checks a JSON value against column c and returns the value
// to store.
func convertValue(t *table, c *column, value any) (any, error) {
	if value == nil {
		return nil, nil
	}
	mismatch := func() error {
		return errPayload(t, "Cannot convert the literal '%v' to the expected type '%s'.", value, c.kind.edmType())
	}
	switch c.kind {
	case kindString, kindMemo:
		s, ok := value.(string)
		if !ok {
			return nil, mismatch()
		}
		if c.maxLen > 0 && len([]rune(s)) > c.maxLen {
			return nil, errTooLong(t, c)
		}
		if s == "" {
			// Dataverse stores an empty string as null.
			return nil, nil
		}
		return s, nil
	case kindBool:
		b, ok := value.(bool)
		if !ok {
			return nil, mismatch()
		}
		return b, nil
	case kindInt, kindBigInt, kindPicklist, kindState, kindStatus:
		n, ok := value.(json.Number)
		if !ok {
			return nil, mismatch()
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return nil, mismatch()
		}
		if c.kind != kindBigInt && (i < math.MinInt32 || i > math.MaxInt32) {
			return nil, mismatch()
		}
		if c.kind == kindInt && (i < c.minInt || i > c.maxInt) {
			return nil, newError(400, codeValidation, "A validation error occurred.  The value %d of '%s' on record of type '%s' is outside the valid range. Accepted Values: %d to %d.", i, c.name, t.logical, c.minInt, c.maxInt)
		}
		if c.kind == kindPicklist && c.options != nil {
			if _, ok := c.options[i]; !ok {
				return nil, newError(400, codeValidation, "A validation error occurred.  The value %d of '%s' on record of type '%s' is outside the valid range.", i, c.name, t.logical)
			}
		}
		return i, nil
	case kindDecimal:
		n, ok := value.(json.Number)
		if !ok {
			return nil, mismatch()
		}
		f, err := n.Float64()
		if err != nil {
			return nil, mismatch()
		}
		return f, nil
	case kindDateTime:
		s, ok := value.(string)
		if !ok {
			return nil, mismatch()
		}
		ts, ok := normalizeDateTime(s)
		if !ok {
			return nil, errPayload(t, "Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'.", s)
		}
		return ts, nil
	case kindGUID:
		s, ok := value.(string)
		if !ok {
			return nil, mismatch()
		}
		g, ok := parseGUID(s)
		if !ok {
			return nil, errPayload(t, "Cannot convert the literal '%s' to the expected type 'Edm.Guid'.", s)
		}
		return g, nil
	}
	return nil, mismatch()
}
