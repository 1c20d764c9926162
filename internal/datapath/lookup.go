package datapath

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// NotFoundError reports a path that does not resolve in a document: Segment
// is the step as written that could not be followed, Reason says why.
type NotFoundError struct {
	Path    string
	Segment string
	Reason  string
}

func (e *NotFoundError) Error() string {
	return "path " + strconv.Quote(e.Path) + " at " + strconv.Quote(e.Segment) + ": " + e.Reason
}

// Lookup resolves the path in doc, a decoded JSON document: map[string]any,
// []any, string, float64 or json.Number, bool and nil. Errors are
// *NotFoundError. A JSON null at the end of the path is found (nil, nil);
// a null in the middle is an error, as nothing can be read from it.
func (p *Path) Lookup(doc any) (any, error) {
	cur := doc
	for i := range p.steps {
		s := &p.steps[i]
		switch s.kind {
		case stepKey:
			obj, ok := cur.(map[string]any)
			if !ok {
				return nil, p.notFound(s, "expected an object, found "+describe(cur))
			}
			v, ok := obj[s.key]
			if !ok {
				return nil, p.notFound(s, missingKey(s.key, obj))
			}
			cur = v
		case stepKeyOrIndex:
			switch c := cur.(type) {
			case []any:
				if s.index < 0 || s.index >= len(c) {
					return nil, p.notFound(s, "index "+s.key+" out of range ("+countElements(len(c))+")")
				}
				cur = c[s.index]
			case map[string]any:
				v, ok := c[s.key]
				if !ok {
					return nil, p.notFound(s, missingKey(s.key, c))
				}
				cur = v
			default:
				return nil, p.notFound(s, "expected an array or an object, found "+describe(cur))
			}
		case stepSelect:
			arr, ok := cur.([]any)
			if !ok {
				return nil, p.notFound(s, "expected an array to select from, found "+describe(cur))
			}
			found := false
			for _, el := range arr {
				obj, ok := el.(map[string]any)
				if !ok {
					continue
				}
				if v, ok := obj[s.key]; ok && s.matches(v) {
					cur, found = obj, true
					break
				}
			}
			if !found {
				return nil, p.notFound(s, "no element with "+s.key+"="+s.value+" ("+countElements(len(arr))+")")
			}
		}
	}
	return cur, nil
}

// LookupString resolves the path and returns the value as text: a string as
// is, a number in plain decimal (1, 61299990000, 1.5: no exponent, no
// trailing .0), a boolean as true or false, and null as "" without error.
// An object or array is an error, as it has no single text. Errors are
// *NotFoundError.
func (p *Path) LookupString(doc any) (string, error) {
	v, err := p.Lookup(doc)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case nil:
		return "", nil
	case bool:
		if v {
			return "true", nil
		}
		return "false", nil
	case float64:
		return formatFloat(v), nil
	case json.Number:
		return formatNumber(v), nil
	default:
		last := &p.steps[len(p.steps)-1]
		return "", p.notFound(last, "expected text, a number, a boolean or null, found "+describe(v))
	}
}

// matches compares an element's field to the selector value as a JSON
// scalar; see the package documentation.
func (s *step) matches(v any) bool {
	switch v := v.(type) {
	case string:
		return v == s.value
	case float64:
		return s.valueIsNumber && v == s.number
	case json.Number:
		if !s.valueIsNumber {
			return false
		}
		f, err := strconv.ParseFloat(string(v), 64)
		return err == nil && f == s.number
	case bool:
		return (v && s.value == "true") || (!v && s.value == "false")
	case nil:
		return s.value == "null"
	}
	return false
}

func (p *Path) notFound(s *step, reason string) *NotFoundError {
	return &NotFoundError{Path: p.expr, Segment: s.src, Reason: reason}
}

// missingKey names the keys the object does have, since a missing key in a
// config path is most often a misspelling of one of them.
func missingKey(key string, obj map[string]any) string {
	const maxListed = 12
	reason := "no key " + strconv.Quote(key)
	if len(obj) == 0 {
		return reason + " (the object is empty)"
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	more := ""
	if len(keys) > maxListed {
		more = fmt.Sprintf(", and %d more", len(keys)-maxListed)
		keys = keys[:maxListed]
	}
	return reason + " (keys: " + strings.Join(keys, ", ") + more + ")"
}

func countElements(n int) string {
	if n == 1 {
		return "the array has 1 element"
	}
	return "the array has " + strconv.Itoa(n) + " elements"
}

func describe(v any) string {
	switch v := v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		return fmt.Sprintf("a value of Go type %T", v)
	}
}

// formatFloat writes a JSON number without exponent, so that phone numbers
// and ids decoded as float64 read as they were sent: 61299990000, not
// 6.129999e+10. Integers have no fraction; others the shortest decimal that
// reads back to the same float64.
func formatFloat(f float64) string {
	if f == 0 {
		return "0" // also for -0, which JSON can carry but no one means
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// formatNumber keeps a json.Number that is already a plain integer as sent,
// which also keeps integers beyond float64 precision exact; any other
// spelling (1.0, 6.1e10) is normalised like a float64.
func formatNumber(n json.Number) string {
	s := string(n)
	digits := s
	if strings.HasPrefix(digits, "-") {
		digits = digits[1:]
	}
	if isDigits(digits) && (len(digits) == 1 || digits[0] != '0') && s != "-0" {
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// Not a number after all (json.Number can hold anything when built
		// by hand); its text is the most faithful answer.
		return s
	}
	return formatFloat(f)
}
