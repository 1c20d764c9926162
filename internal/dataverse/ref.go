package dataverse

import (
	"fmt"
	"strings"
)

// Ref addresses one record: by primary key (ID) or by an alternate key
// (KeyColumn and KeyValue). Exactly one of the two forms must be set.
type Ref struct {
	// EntitySet is the Web API collection name, e.g. "contacts", "phonecalls".
	EntitySet string
	// ID is the record's primary key, a GUID.
	ID string
	// KeyColumn and KeyValue name a single-column alternate key, e.g.
	// new_agentinteractionid = "IX-1". The value is sent as an OData string
	// literal.
	KeyColumn, KeyValue string
}

// ByID is a Ref to the record with primary key id.
func ByID(entitySet, id string) Ref { return Ref{EntitySet: entitySet, ID: id} }

// ByKey is a Ref to the record whose alternate key column has value.
func ByKey(entitySet, column, value string) Ref {
	return Ref{EntitySet: entitySet, KeyColumn: column, KeyValue: value}
}

// String renders the reference as it reads in the Web API, unescaped, for
// messages: contacts(<id>) or phonecalls(new_agentinteractionid='IX-1').
func (r Ref) String() string {
	if r.ID != "" {
		return r.EntitySet + "(" + r.ID + ")"
	}
	return r.EntitySet + "(" + r.KeyColumn + "=" + quoteLiteral(r.KeyValue) + ")"
}

// path validates the reference and renders its URL path segment, escaped for
// the wire, relative to the Web API root.
func (r Ref) path() (string, error) {
	if err := checkIdentifier("EntitySet", r.EntitySet); err != nil {
		return "", err
	}
	hasID := r.ID != ""
	hasKey := r.KeyColumn != "" || r.KeyValue != ""
	switch {
	case hasID && hasKey:
		return "", fmt.Errorf("Ref %s: set either ID or KeyColumn/KeyValue, not both", r.EntitySet)
	case hasID:
		id, err := normalizeGUID("ID", r.ID)
		if err != nil {
			return "", err
		}
		return r.EntitySet + "(" + id + ")", nil
	case hasKey:
		if err := checkIdentifier("KeyColumn", r.KeyColumn); err != nil {
			return "", err
		}
		if r.KeyValue == "" {
			return "", fmt.Errorf("KeyValue: empty value for alternate key %s.%s", r.EntitySet, r.KeyColumn)
		}
		if strings.ContainsAny(r.KeyValue, UnaddressableKeyChars) {
			return "", fmt.Errorf("KeyValue: %q holds one of %s, which Dataverse cannot address as an alternate key value, encoded or not (Microsoft: Define alternate keys using Power Apps); address the record by its id", r.KeyValue, UnaddressableKeyChars)
		}
		return r.EntitySet + "(" + r.KeyColumn + "=" + escapeKeyLiteral(r.KeyValue) + ")", nil
	default:
		return "", fmt.Errorf("Ref %s: no record given: set ID, or KeyColumn and KeyValue", r.EntitySet)
	}
}

// Bind renders the value of a single-valued navigation property binding,
// e.g. "regardingobjectid_contact_phonecall@odata.bind": Bind("contacts", id) gives
// "/contacts(<id>)". It does not validate; Dataverse rejects a bad binding
// with 400.
func Bind(entitySet, id string) string {
	return "/" + entitySet + "(" + strings.Trim(id, "{}") + ")"
}

// quoteLiteral renders s as an OData string literal: single quotes around,
// an embedded quote doubled.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// escapeKeyLiteral renders an alternate-key value for a URL path: the OData
// literal, then percent-encoded so that nothing in the value (a slash, a
// question mark, a percent sign, a plus) can change how the path is read.
// The quotes stay readable: a single quote is legal in a path segment.
// UnaddressableKeyChars are the characters that make an alternate key value
// unusable in a URL: "If the data within a column that is used in an
// alternate key contains one of the following characters / # < > * % & : \\
// ? + then GET or PATCH actions won't work" (Define alternate keys using
// Power Apps, learn.microsoft.com).
const UnaddressableKeyChars = `/#<>*%&:\?+`

func escapeKeyLiteral(s string) string {
	lit := quoteLiteral(s)
	var b strings.Builder
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		if isUnreserved(c) || c == '\'' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// checkIdentifier accepts Dataverse logical and entity set names: a letter
// or underscore, then letters, digits and underscores. Anything else could
// change the meaning of the URL the name is pasted into.
func checkIdentifier(field, s string) error {
	if s == "" {
		return fmt.Errorf("%s: empty; give the Web API name, e.g. contacts", field)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_'
		if letter || (i > 0 && '0' <= c && c <= '9') {
			continue
		}
		return fmt.Errorf("%s: %q is not a Dataverse name (letters, digits and underscores, not starting with a digit)", field, s)
	}
	return nil
}

// normalizeGUID accepts a GUID with or without braces (CIF's getEnvironment
// gives "{...}") and returns it bare and lower case.
func normalizeGUID(field, s string) (string, error) {
	g := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}"))
	if !isGUID(g) {
		return "", fmt.Errorf("%s: %q is not a GUID (expected 8-4-4-4-12 hex digits)", field, s)
	}
	return g, nil
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// idFromEntityID takes the GUID out of an OData-EntityId header value such as
// https://org.crm.dynamics.com/api/data/v9.2/contacts(00000000-0000-0000-0000-000000000001).
func idFromEntityID(v string) (string, error) {
	open := strings.LastIndexByte(v, '(')
	if open < 0 || !strings.HasSuffix(v, ")") {
		return "", fmt.Errorf("OData-EntityId %q does not end in (<id>)", v)
	}
	id := v[open+1 : len(v)-1]
	if !isGUID(id) {
		return "", fmt.Errorf("OData-EntityId %q does not hold a GUID", v)
	}
	return strings.ToLower(id), nil
}
