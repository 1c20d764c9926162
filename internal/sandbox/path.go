package sandbox

import (
	"errors"
	"fmt"
	"strings"
)

// segment is one step of a resource path: a name and, when present, the
// text between its parentheses (contacts(<id>) → "contacts", "<id>").
type segment struct {
	name   string
	key    string
	hasKey bool
}

// splitPath splits a decoded resource path on "/" outside quotes and
// parentheses, so an alternate-key value may contain "/" or ")".
func splitPath(path string) ([]segment, error) {
	var segs []segment
	var cur strings.Builder
	depth := 0
	inQuote := false
	flush := func() error {
		text := cur.String()
		cur.Reset()
		if text == "" {
			return nil
		}
		seg, err := parseSegment(text)
		if err != nil {
			return err
		}
		segs = append(segs, seg)
		return nil
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case inQuote:
			cur.WriteByte(c)
			if c == '\'' {
				if i+1 < len(path) && path[i+1] == '\'' {
					cur.WriteByte('\'')
					i++
				} else {
					inQuote = false
				}
			}
		case c == '\'':
			inQuote = true
			cur.WriteByte(c)
		case c == '(':
			depth++
			cur.WriteByte(c)
		case c == ')':
			depth--
			cur.WriteByte(c)
		case c == '/' && depth == 0:
			if err := flush(); err != nil {
				return nil, err
			}
		default:
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return nil, errors.New("unterminated quoted key value")
	}
	if depth != 0 {
		return nil, errors.New("unbalanced parentheses")
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return segs, nil
}

func parseSegment(text string) (segment, error) {
	open := strings.IndexByte(text, '(')
	if open < 0 {
		return segment{name: text}, nil
	}
	if !strings.HasSuffix(text, ")") {
		return segment{}, fmt.Errorf("segment %q has text after its closing parenthesis", text)
	}
	return segment{name: text[:open], key: text[open+1 : len(text)-1], hasKey: true}, nil
}

// keyValue is one value of a key predicate.
type keyValue struct {
	text   string
	quoted bool
}

// parseKeyPredicate reads name=value pairs: new_key='IX-1',other=5.
func parseKeyPredicate(s string) (map[string]keyValue, error) {
	out := map[string]keyValue{}
	i := 0
	for i < len(s) {
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("expected name=value in %q", s)
		}
		name := strings.TrimSpace(s[i : i+eq])
		if name == "" {
			return nil, fmt.Errorf("missing key name in %q", s)
		}
		i += eq + 1
		for i < len(s) && s[i] == ' ' {
			i++
		}
		var kv keyValue
		if i < len(s) && s[i] == '\'' {
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated string in %q", s)
			}
			kv = keyValue{text: b.String(), quoted: true}
		} else {
			end := strings.IndexByte(s[i:], ',')
			if end < 0 {
				end = len(s) - i
			}
			kv = keyValue{text: strings.TrimSpace(s[i : i+end])}
			i += end
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("key %q appears twice", name)
		}
		out[name] = kv
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i < len(s) {
			if s[i] != ',' {
				return nil, fmt.Errorf("expected ',' after the value of %q", name)
			}
			i++
		}
	}
	if len(out) == 0 {
		return nil, errors.New("empty key")
	}
	return out, nil
}

// apiPrefix is the path of the Web API endpoint.
const apiPrefix = "/api/data/v9.2/"

// splitEntityRef reads a record reference as used in @odata.bind and
// $batch: "/contacts(<id>)", "contacts(<id>)" or an absolute URL ending in
// /api/data/v9.2/contacts(<id>).
func splitEntityRef(ref string) (set, key string, err error) {
	if i := strings.Index(ref, apiPrefix); i >= 0 {
		ref = ref[i+len(apiPrefix):]
	}
	ref = strings.TrimPrefix(ref, "/")
	segs, err := splitPath(ref)
	if err != nil {
		return "", "", err
	}
	if len(segs) != 1 || !segs[0].hasKey {
		return "", "", fmt.Errorf("expected <entityset>(<key>), such as /contacts(00000000-0000-0000-0000-000000000001)")
	}
	return segs[0].name, segs[0].key, nil
}
