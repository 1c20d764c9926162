package dataverse

import (
	"fmt"
	"strings"
)

// encodeQuery turns an OData query string as the engine and config authors
// write it ("?$select=fullname&$filter=telephone1 eq '0299990000'", raw
// spaces and all) into a correctly encoded one for the wire.
//
// It splits on '&' and on the first '=' of each option, decodes each part
// and re-encodes it. Decoding follows query-string rules, as Dataverse
// (ASP.NET) and package odata read a query: "%XX" is a byte and '+' is a
// space, so a literal plus must be written %2B, as the template compiler
// does. A '%' that starts no valid escape, a raw '#' (which would end the
// URL) and raw control characters are rejected rather than guessed at.
// Options keep their order.
//
// Unlike odata.ParseQuery, this checks no grammar: the client carries any
// query Dataverse accepts (date literals, $apply, query functions) and
// leaves judging it to Dataverse.
//
// $search is dropped: it is not a system query option of /api/data (CIF
// uses it only for its search page) and Dataverse would reject the request.
// The second result reports whether that happened. An option given twice is
// rejected, as Dataverse would reject it, but without a round trip.
func encodeQuery(raw string) (encoded string, droppedSearch bool, err error) {
	raw = strings.TrimPrefix(raw, "?")
	if raw == "" {
		return "", false, nil
	}
	var b strings.Builder
	seen := map[string]bool{}
	for option := range strings.SplitSeq(raw, "&") {
		if option == "" {
			continue
		}
		rawKey, rawValue, hasValue := strings.Cut(option, "=")
		key, err := percentDecode(rawKey)
		if err != nil {
			return "", false, fmt.Errorf("query option %q: %w", option, err)
		}
		value, err := percentDecode(rawValue)
		if err != nil {
			return "", false, fmt.Errorf("query option %q: %w", option, err)
		}
		if key == "" {
			return "", false, fmt.Errorf("query option %q: no name before '='", option)
		}
		if strings.EqualFold(key, "$search") {
			droppedSearch = true
			continue
		}
		if seen[key] {
			return "", false, fmt.Errorf("query option %s is given more than once", key)
		}
		seen[key] = true
		if b.Len() == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(percentEncodeQueryPart(key))
		if hasValue {
			b.WriteByte('=')
			b.WriteString(percentEncodeQueryPart(value))
		}
	}
	return b.String(), droppedSearch, nil
}

// percentDecode decodes one query-string name or value: %XX is a byte and
// '+' a space.
func percentDecode(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b.WriteByte(' ')
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				end := min(i+3, len(s))
				return "", fmt.Errorf("%q at byte %d is not a percent escape (write %%25 for a literal %%)", s[i:end], i)
			}
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		case c == '#':
			return "", fmt.Errorf("a raw # at byte %d would end the URL: write %%23", i)
		case c < 0x20 || c == 0x7f:
			return "", fmt.Errorf("control character 0x%02x at byte %d must be percent-encoded", c, i)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// percentEncodeQueryPart escapes everything that could end or split a query
// option ('&', '=', '#', '+', '%', space) or is not plain ASCII, and keeps
// the characters OData queries are made of readable: $ ' ( ) , / : @ ! *.
func percentEncodeQueryPart(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || strings.IndexByte("$'(),/:@!*", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
