package sandbox

import (
	"net/url"
	"strings"
)

// parseQueryString splits a raw query string into its options the way an
// OData service reads it: only '&' separates options, the first '=' ends a
// name, and names and values are percent-decoded once, with '+' as a
// space (the form encoding browsers and Dataverse both apply, which is why
// a literal '+' is sent as %2B).
//
// url.ParseQuery is not used because it refuses ';' and Request.URL.Query
// then drops the whole parameter silently: "$filter=lastname eq 'a;b'"
// became no filter at all, and "$expand=x($select=a;$top=1)" no expansion.
// In OData ';' is data: a character in a literal and the separator of
// options inside $expand.
func parseQueryString(raw string) (url.Values, error) {
	values := url.Values{}
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return nil, errBadEscape(rawName, err)
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, errBadEscape(rawValue, err)
		}
		values[name] = append(values[name], value)
	}
	return values, nil
}

func errBadEscape(text string, err error) *apiError {
	// err reads `invalid URL escape "%zz"`, naming the bad sequence.
	return errQuery("The query string is not valid: %v in '%s'. Percent-encode '%%' as %%25.", err, text)
}
