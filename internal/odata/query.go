package odata

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Query is a parsed OData query string, as CIF's searchAndOpenRecords and
// the Dataverse Web API take it.
type Query struct {
	// Select lists the columns of $select, spaces trimmed.
	Select []string
	// Filter is the decoded $filter text ("" if none).
	Filter string
	// FilterExpr is Filter parsed; nil if none.
	FilterExpr Expr
	// Search is the decoded $search text ("" if none).
	Search string
	// OrderBy is the decoded $orderby text ("" if none).
	OrderBy string
	// Top is $top; 0 means none.
	Top int
	// Other keeps every other parameter ($expand, $count, aliases, ...),
	// decoded.
	Other url.Values
}

// QueryError is a problem with one parameter of a query string.
type QueryError struct {
	// Param is the parameter's name, e.g. "$filter".
	Param string
	// Err is a *SyntaxError when the problem has an offset (in the decoded
	// value; for a bad percent-escape, in the value as written).
	Err error
}

func (e *QueryError) Error() string { return e.Param + ": " + e.Err.Error() }

func (e *QueryError) Unwrap() error { return e.Err }

// MaxTop is the largest $top: CIF's searchAndOpenRecords and Dataverse
// return at most 5000 rows.
const MaxTop = 5000

// otherSystemOptions are the OData system query options ctibridge does not
// interpret but keeps in Query.Other. Any other name starting with '$' is
// an error, as it is for Dataverse, so a typo such as $fitler is caught
// when the config loads instead of failing every call.
var otherSystemOptions = map[string]bool{
	"$expand": true, "$count": true, "$skip": true, "$skiptoken": true,
	"$apply": true, "$compute": true, "$format": true, "$levels": true,
}

// ParseQuery parses an OData query string. raw may start with '?'.
// Parameters are separated by '&' only (';' is text). Names and values are
// percent-decoded by query-string rules, and '+' decodes to a space: that is
// how Dataverse (ASP.NET) reads a query, and what a hand-written template
// such as "$search=a+b" means. A plus sign itself must therefore be written
// %2B, as OData clients do. A raw '#' (which would end the URL) and raw
// control characters are errors. $select, $filter, $search, $orderby and
// $top may appear once each and are validated; errors are *QueryError
// naming the parameter, e.g. "$filter: offset 12: ...".
func ParseQuery(raw string) (*Query, error) {
	raw = strings.TrimPrefix(raw, "?")
	qb := newQueryBuilder()
	for _, p := range splitQuery(raw) {
		key, serr := decodeComponent(p.key)
		if serr != nil {
			return nil, &QueryError{Param: p.key, Err: serr}
		}
		value, serr := decodeComponent(p.value)
		if serr != nil {
			return nil, &QueryError{Param: key, Err: serr}
		}
		if err := qb.set(key, value); err != nil {
			return nil, &QueryError{Param: key, Err: err}
		}
	}
	return qb.q, nil
}

// queryBuilder assembles a Query parameter by parameter, for ParseQuery and
// for the template compiler, which maps the errors to template offsets.
type queryBuilder struct {
	q    *Query
	seen map[string]bool
}

func newQueryBuilder() *queryBuilder {
	return &queryBuilder{q: &Query{}, seen: map[string]bool{}}
}

// set adds one decoded parameter. Problems located in value are
// *SyntaxError with an offset into value.
func (qb *queryBuilder) set(key, value string) error {
	if key == "" {
		return fmt.Errorf("a parameter has no name (check for a stray '=' or '&')")
	}
	q := qb.q
	switch key {
	case "$select", "$filter", "$search", "$orderby", "$top":
		if qb.seen[key] {
			return fmt.Errorf("given more than once: keep one")
		}
		qb.seen[key] = true
		if value == "" {
			return fmt.Errorf("empty: give a value or remove the parameter")
		}
	}
	switch key {
	case "$select":
		cols, err := parseSelect(value)
		if err != nil {
			return err
		}
		q.Select = cols
	case "$filter":
		e, err := ParseFilter(value)
		if err != nil {
			return err
		}
		q.Filter, q.FilterExpr = value, e
	case "$search":
		if err := checkSearch(value); err != nil {
			return err
		}
		q.Search = value
	case "$orderby":
		if err := checkOrderBy(value); err != nil {
			return err
		}
		q.OrderBy = value
	case "$top":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > MaxTop || value[0] == '+' {
			return &SyntaxError{Input: value, Offset: 0, Msg: fmt.Sprintf("must be a whole number from 1 to %d, found %q", MaxTop, value)}
		}
		q.Top = n
	default:
		if isUnknownSystemOption(key) {
			return fmt.Errorf("unknown system query option: ctibridge knows $select, $filter, $search, $orderby, $top, $expand, $count, $skip, $skiptoken, $apply, $compute, $format and $levels (names are case-sensitive)")
		}
		if q.Other == nil {
			q.Other = url.Values{}
		}
		q.Other[key] = append(q.Other[key], value)
	}
	return nil
}

// isUnknownSystemOption reports a name that starts with '$' but is no
// system query option ctibridge knows.
func isUnknownSystemOption(key string) bool {
	switch key {
	case "$select", "$filter", "$search", "$orderby", "$top":
		return false
	}
	return strings.HasPrefix(key, "$") && !otherSystemOptions[key]
}

// rawParam is one "key=value" of a query string, not decoded, with the
// offsets of its key and value in the text it was split from.
type rawParam struct {
	key, value         string
	keyStart, valStart int
}

// splitQuery splits a query string (without '?') on '&', skipping empty
// parts as url.ParseQuery does.
func splitQuery(s string) []rawParam {
	var params []rawParam
	start := 0
	for start <= len(s) {
		end := strings.IndexByte(s[start:], '&')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		if part := s[start:end]; part != "" {
			p := rawParam{key: part, keyStart: start, valStart: end}
			if eq := strings.IndexByte(part, '='); eq >= 0 {
				p.key, p.value, p.valStart = part[:eq], part[eq+1:], start+eq+1
			}
			params = append(params, p)
		}
		start = end + 1
	}
	return params
}

// decodeComponent percent-decodes one name or value of a query string:
// "%XX" is a byte and '+' is a space. It returns s itself, without
// allocating, when there is nothing to decode. Problems are reported with
// their offset in s.
func decodeComponent(s string) (string, *SyntaxError) {
	plain := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%' || c == '+':
			plain = false
		case c == '#':
			return "", &SyntaxError{Input: s, Offset: i, Msg: "a raw # would end the URL here: write %23"}
		case c < 0x20 || c == 0x7f:
			return "", &SyntaxError{Input: s, Offset: i, Msg: fmt.Sprintf("control character 0x%02x must be percent-encoded (%%%02X)", c, c)}
		}
	}
	if plain {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b.WriteByte(' ')
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", &SyntaxError{Input: s, Offset: i, Msg: "a % must start a two-hex-digit escape such as %25 (which is % itself)"}
			}
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// decodedOffsets maps each byte of decodeComponent(s) (and the end) to its
// offset in s, so errors found in decoded text point into the text as
// written. s must decode without error.
func decodedOffsets(s string) []int {
	offsets := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); i++ {
		offsets = append(offsets, i)
		if s[i] == '%' {
			i += 2
		}
	}
	return append(offsets, len(s))
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// parseSelect splits a $select list and checks each column name.
func parseSelect(value string) ([]string, error) {
	var cols []string
	for start := 0; start <= len(value); {
		end := strings.IndexByte(value[start:], ',')
		if end < 0 {
			end = len(value)
		} else {
			end += start
		}
		col := strings.Trim(value[start:end], " \t")
		if col == "" {
			return nil, &SyntaxError{Input: value, Offset: start, Msg: "empty column name in the list (check for a doubled or trailing comma)"}
		}
		if col != "*" && !isPropertyPath(col) {
			return nil, &SyntaxError{Input: value, Offset: start + strings.Index(value[start:end], col), Msg: fmt.Sprintf("%q is not a column name (letters, digits and _, paths joined with /)", col)}
		}
		cols = append(cols, col)
		start = end + 1
	}
	return cols, nil
}

// isPropertyPath reports a column name or navigation path such as
// parentcustomerid_account/name.
func isPropertyPath(s string) bool {
	tok, msg := lexFilter(s, 0)
	return msg == "" && tok.kind == tokIdent && tok.start == 0 && tok.end == len(s) && !isFilterKeyword(s)
}

// checkOrderBy checks "column [asc|desc], ...".
func checkOrderBy(value string) error {
	for start := 0; start <= len(value); {
		end := strings.IndexByte(value[start:], ',')
		if end < 0 {
			end = len(value)
		} else {
			end += start
		}
		item := value[start:end]
		fields := strings.Fields(item)
		bad := len(fields) == 0 || len(fields) > 2 || !isPropertyPath(fields[0]) ||
			len(fields) == 2 && fields[1] != "asc" && fields[1] != "desc"
		if bad {
			return &SyntaxError{Input: value, Offset: start, Msg: fmt.Sprintf("%q is not \"column\", \"column asc\" or \"column desc\"", strings.TrimSpace(item))}
		}
		start = end + 1
	}
	return nil
}

// Encode writes the query string, starting with '?', with parameters in a
// stable order: $select, $filter, $orderby, $top, $search, then the others
// by name. Filter is written as is; when it is empty and FilterExpr is set,
// FormatFilter(FilterExpr) is written. Values are percent-encoded so that
// ParseQuery reads them back exactly: spaces as %20 and '+' as %2B, with
// letters, digits, - . _ ~ and the OData punctuation ' ( ) , / : * kept
// for readability. An empty query encodes as "".
func (q *Query) Encode() string {
	var b strings.Builder
	add := func(key, value string) {
		if b.Len() == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		writeEscaped(&b, key, true)
		b.WriteByte('=')
		writeEscaped(&b, value, false)
	}
	if len(q.Select) > 0 {
		add("$select", strings.Join(q.Select, ","))
	}
	if filter := q.Filter; filter != "" || q.FilterExpr != nil {
		if filter == "" {
			filter = FormatFilter(q.FilterExpr)
		}
		add("$filter", filter)
	}
	if q.OrderBy != "" {
		add("$orderby", q.OrderBy)
	}
	if q.Top > 0 {
		add("$top", strconv.Itoa(q.Top))
	}
	if q.Search != "" {
		add("$search", q.Search)
	}
	keys := make([]string, 0, len(q.Other))
	for k := range q.Other {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range q.Other[k] {
			add(k, v)
		}
	}
	return b.String()
}

// WithoutSearch returns a copy of q without $search: the query the
// Dataverse Web API accepts, as /api/data has no $search.
func (q *Query) WithoutSearch() *Query {
	c := *q
	c.Search = ""
	c.Select = slices.Clone(q.Select)
	if q.Other != nil {
		c.Other = make(url.Values, len(q.Other))
		for k, v := range q.Other {
			c.Other[k] = slices.Clone(v)
		}
	}
	return &c
}

// isUnreserved reports RFC 3986's unreserved characters, which never need
// percent-encoding.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

const upperHex = "0123456789ABCDEF"

func writePercent(b *strings.Builder, c byte) {
	b.WriteByte('%')
	b.WriteByte(upperHex[c>>4])
	b.WriteByte(upperHex[c&15])
}

// writeEscaped percent-encodes a parameter name (key) or value for Encode.
func writeEscaped(b *strings.Builder, s string, key bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		keep := isUnreserved(c)
		if key {
			keep = keep || c == '$' || c == '@'
		} else {
			keep = keep || strings.IndexByte("'(),/:*", c) >= 0
		}
		if keep {
			b.WriteByte(c)
		} else {
			writePercent(b, c)
		}
	}
}
