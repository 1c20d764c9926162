package odata

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Context is where a placeholder sits in a template, which decides how its
// value is escaped.
type Context int

// Placeholder contexts.
const (
	// ContextStringLiteral is inside a '...' string literal in $filter.
	ContextStringLiteral Context = iota + 1
	// ContextSearch is a whole term of $search.
	ContextSearch
)

func (c Context) String() string {
	switch c {
	case ContextStringLiteral:
		return "$filter string literal"
	case ContextSearch:
		return "$search term"
	}
	return fmt.Sprintf("Context(%d)", int(c))
}

// Placeholder is one {{name}} of a template.
type Placeholder struct {
	Name    string
	Context Context
	// Offset is the byte offset of "{{" in the template source.
	Offset int
}

// TemplateError is a problem in a query template.
type TemplateError struct {
	// Offset is the byte offset of the problem in the template as given.
	Offset int
	// Msg says what is wrong.
	Msg string
	// Fix says what to write instead; may be empty.
	Fix string
}

func (e *TemplateError) Error() string {
	s := fmt.Sprintf("offset %d: %s", e.Offset, e.Msg)
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

// Template is a compiled query template such as
//
//	?$select=fullname,telephone1&$filter=telephone1 eq '{{telephone1}}'&$search={{telephone1}}
//
// A placeholder {{name}} may only be a value: inside a string literal of
// $filter, or a whole term of $search. Render escapes each value for its
// context so that it stays one literal (see Render), then proves it. A
// Template is immutable and safe for concurrent use.
type Template struct {
	source       string
	placeholders []Placeholder
	names        []string
	// segments is the template text around the placeholders, as written:
	// len(placeholders)+1 pieces.
	segments []string
	// question tells whether the source starts with '?'.
	question bool
	// shape is the structure every rendering must have, one entry per
	// parameter.
	shape []paramShape
	// sites says, per placeholder, whether and how it expands into
	// variants (ParseTemplateVariants); nil when none does.
	sites []variantSite
}

type paramKind uint8

const (
	paramFixed  paramKind = iota // no placeholder: must come out byte for byte
	paramFilter                  // $filter with placeholders
	paramSearch                  // $search with placeholders
)

// paramShape is one parameter of the template's structure.
type paramShape struct {
	kind paramKind
	// raw is the whole "key=value" for a fixed parameter, and "key=" for a
	// filter or search parameter.
	raw string
	// tokens is the token sequence of a filter or search value.
	tokens []shapeToken
	// groups are the runs of tokens that repeat once per variant, in
	// order (see variants.go).
	groups []shapeGroup
}

// shapeToken is a token the rendered $filter or $search must have.
type shapeToken struct {
	kind uint8 // a filterTokenKind or searchTokenKind
	// hole marks a token a value goes into: a string literal holding a
	// placeholder (in $filter) or a placeholder term (in $search). Its text
	// is not compared; every other token's text is.
	hole bool
	text string
}

// span is a placeholder's position in the source.
type span struct {
	name       string
	start, end int
}

// neutralFill replaces each placeholder when the compiler checks the
// template: "xxx..." keeps every offset, is a word in $search and text in a
// string literal, and is not a hex digit, so a '%' just before a
// placeholder cannot combine with a value into an escape.
const neutralFill = 'x'

// ParseTemplate compiles a query template. The template must be a valid
// query once its placeholders are replaced by a neutral value, and each
// placeholder must sit inside a $filter string literal or be a whole
// $search term; placeholders anywhere else, and unclosed or empty ones, are
// errors. In $filter string literals of a template a raw '+' is an error,
// because a query string reads it as a space: write %2B. Errors are
// *TemplateError with an offset into query.
func ParseTemplate(query string) (*Template, error) {
	spans, terr := scanPlaceholders(query)
	if terr != nil {
		return nil, terr
	}
	t := &Template{source: query, question: strings.HasPrefix(query, "?")}
	base := 0
	if t.question {
		base = 1
	}
	neutral := []byte(query)
	for _, s := range spans {
		for i := s.start; i < s.end; i++ {
			neutral[i] = neutralFill
		}
	}
	body, neutralBody := query[base:], string(neutral[base:])

	qb := newQueryBuilder()
	next := 0 // the first span not yet assigned to a parameter
	for _, p := range splitQuery(body) {
		keyStart, valStart := base+p.keyStart, base+p.valStart
		end := valStart + len(p.value)
		var mine []span
		for next < len(spans) && spans[next].start < end {
			mine = append(mine, spans[next])
			next++
		}
		key, serr := decodeComponent(p.key)
		if serr != nil {
			return nil, &TemplateError{Offset: keyStart + serr.Offset, Msg: "parameter name: " + serr.Msg}
		}
		if len(mine) > 0 && mine[0].start < valStart {
			return nil, &TemplateError{Offset: mine[0].start, Msg: fmt.Sprintf("{{%s}} is in a parameter name", mine[0].name),
				Fix: "placeholders can only be values in $filter string literals or $search terms"}
		}
		rawValue := neutralBody[p.valStart : p.valStart+len(p.value)]
		value, serr := decodeComponent(rawValue)
		if serr != nil {
			return nil, &TemplateError{Offset: valStart + serr.Offset, Msg: key + ": " + serr.Msg}
		}
		pv := paramValue{decoded: value, raw: rawValue, start: valStart, offsets: decodedOffsets(rawValue), spans: mine}

		shape := paramShape{kind: paramFixed, raw: body[p.keyStart : p.valStart+len(p.value)]}
		var ctx Context
		var tokens []shapeToken
		var err *TemplateError
		switch {
		case isUnknownSystemOption(key):
			// A misspelt option name, which qb.set reports better than
			// "placeholders are not allowed".
		case key == "$filter":
			// Checked even without placeholders, for the raw '+' rule.
			ctx = ContextStringLiteral
			tokens, err = pv.compileFilter()
		case key == "$search":
			ctx = ContextSearch
			tokens, err = pv.compileSearch()
		case len(mine) > 0:
			err = placeholderNotAllowed(key, mine[0])
		}
		if len(mine) > 0 && ctx != 0 {
			shape = paramShape{kind: paramFilter, raw: body[p.keyStart:p.valStart], tokens: tokens}
			if ctx == ContextSearch {
				shape.kind = paramSearch
			}
		}
		if err != nil {
			return nil, err
		}
		if err := qb.set(key, value); err != nil {
			terr := &TemplateError{Offset: keyStart, Msg: key + ": " + err.Error()}
			if se, ok := err.(*SyntaxError); ok {
				terr.Offset, terr.Msg = pv.sourceOffset(se.Offset), key+": "+se.Msg
			}
			return nil, terr
		}
		if len(mine) > 0 && shape.kind == paramFixed {
			return nil, placeholderNotAllowed(key, mine[0])
		}
		for _, s := range mine {
			t.placeholders = append(t.placeholders, Placeholder{Name: s.name, Context: ctx, Offset: s.start})
		}
		t.shape = append(t.shape, shape)
	}

	last := 0
	for _, s := range spans {
		t.segments = append(t.segments, query[last:s.start])
		last = s.end
		if !slices.Contains(t.names, s.name) {
			t.names = append(t.names, s.name)
		}
	}
	t.segments = append(t.segments, query[last:])
	return t, nil
}

// placeholderNotAllowed reports a placeholder in a parameter that takes no
// values, saying what to do instead.
func placeholderNotAllowed(key string, s span) *TemplateError {
	return &TemplateError{Offset: s.start,
		Msg: fmt.Sprintf("{{%s}} is in %s, where placeholders are not allowed", s.name, key),
		Fix: fixForFixedParam(key, s.name)}
}

func fixForFixedParam(key, name string) string {
	switch key {
	case "$select", "$orderby":
		return "write the column names literally; to match on {{" + name + "}} use $filter, e.g. telephone1 eq '{{" + name + "}}'"
	case "$top":
		return "write a fixed number of rows, e.g. $top=5"
	}
	return "placeholders can only be values in $filter string literals, e.g. telephone1 eq '{{" + name + "}}', or $search terms"
}

// scanPlaceholders finds every {{name}} in the template and checks that no
// "{{" or "}}" is left unpaired.
func scanPlaceholders(s string) ([]span, *TemplateError) {
	var spans []span
	for i := 0; i < len(s); {
		open := strings.Index(s[i:], "{{")
		if close := strings.Index(s[i:], "}}"); close >= 0 && (open < 0 || close < open) {
			return nil, &TemplateError{Offset: i + close, Msg: "}} without a matching {{",
				Fix: "a placeholder is written {{name}}; for literal braces write %7D%7D"}
		}
		if open < 0 {
			break
		}
		start := i + open
		j := start + 2
		for j < len(s) && isPlaceholderNameChar(s[j]) {
			j++
		}
		switch {
		case strings.HasPrefix(s[j:], "}}") && j == start+2:
			return nil, &TemplateError{Offset: start, Msg: "empty placeholder {{}}",
				Fix: "name the value to insert, e.g. {{telephone1}}, or write literal braces as %7B%7B%7D%7D"}
		case strings.HasPrefix(s[j:], "}}"):
			spans = append(spans, span{name: s[start+2 : j], start: start, end: j + 2})
			i = j + 2
		case j == len(s) || !strings.Contains(s[j:], "}}"):
			return nil, &TemplateError{Offset: start, Msg: fmt.Sprintf("unclosed placeholder %.40q: no }}", s[start:]),
				Fix: "close it: {{" + s[start+2:j] + "}}"}
		default:
			return nil, &TemplateError{Offset: j, Msg: fmt.Sprintf("%s is not allowed in a placeholder name", quoteCharAt(s, j)),
				Fix: "placeholder names use letters, digits, _, . and -, e.g. {{telephone1}}"}
		}
	}
	return spans, nil
}

func isPlaceholderNameChar(c byte) bool {
	return isIdentChar(c) || c == '.' || c == '-'
}

// paramValue is the value of one template parameter during compilation.
type paramValue struct {
	decoded string // percent-decoded, placeholders filled with neutralFill
	raw     string // as written, placeholders filled with neutralFill
	start   int    // offset of raw in the template source
	offsets []int  // decodedOffsets(raw)
	spans   []span // the placeholders in this value, in order
}

// sourceOffset maps an offset in the decoded value to one in the template.
func (pv paramValue) sourceOffset(decoded int) int {
	return pv.start + pv.offsets[min(decoded, len(pv.offsets)-1)]
}

// decodedSpan returns where a placeholder sits in the decoded value.
// Placeholders hold no '%' or '+', so they decode to themselves.
func (pv paramValue) decodedSpan(s span) (start, end int) {
	i := sort.SearchInts(pv.offsets, s.start-pv.start)
	return i, i + s.end - s.start
}

// compileFilter checks the placeholders of a $filter value and returns the
// token sequence every rendering must have.
func (pv paramValue) compileFilter() ([]shapeToken, *TemplateError) {
	value := pv.decoded
	// A quote outside a string literal always opens one: no other token
	// contains a quote. So this scan finds the lexer's string literals even
	// where the rest of the filter has errors that ParseFilter reports later.
	type literal struct{ start, end int }
	var literals []literal
	unterminated := -1
	for i := 0; i < len(value); i++ {
		if value[i] != '\'' {
			continue
		}
		tok, msg := lexFilter(value, i)
		if msg != "" {
			unterminated = i
			break
		}
		literals = append(literals, literal{tok.start, tok.end})
		i = tok.end - 1
	}
	for _, s := range pv.spans {
		ds, de := pv.decodedSpan(s)
		if unterminated >= 0 && ds > unterminated {
			break
		}
		inside := false
		for _, l := range literals {
			inside = inside || l.start < ds && de < l.end
		}
		if !inside {
			return nil, &TemplateError{Offset: s.start,
				Msg: fmt.Sprintf("{{%s}} is outside a string literal in $filter", s.name),
				Fix: fmt.Sprintf("put {{%s}} inside single quotes: telephone1 eq '{{%s}}' (values are always inserted as text)", s.name, s.name)}
		}
	}
	if unterminated >= 0 {
		return nil, &TemplateError{Offset: pv.sourceOffset(unterminated), Msg: "$filter: unterminated string literal: this ' is never closed",
			Fix: "close the literal with '; a quote inside text is written ''"}
	}
	for _, l := range literals {
		for i := l.start; i < l.end; i++ {
			if pv.raw[pv.offsets[i]] == '+' {
				return nil, &TemplateError{Offset: pv.sourceOffset(i), Msg: "$filter: a raw + in a query string is read as a space",
					Fix: "write %2B for a plus sign, or %20 for a space"}
			}
		}
	}
	var tokens []shapeToken
	for i := 0; ; {
		tok, msg := lexFilter(value, i)
		if msg != "" {
			return nil, &TemplateError{Offset: pv.sourceOffset(tok.start), Msg: "$filter: " + msg}
		}
		if tok.kind == tokEOF {
			return tokens, nil
		}
		st := shapeToken{kind: uint8(tok.kind), text: value[tok.start:tok.end]}
		for _, s := range pv.spans {
			ds, _ := pv.decodedSpan(s)
			st.hole = st.hole || tok.kind == tokString && tok.start < ds && ds < tok.end
		}
		tokens = append(tokens, st)
		i = tok.end
	}
}

// compileSearch checks that each placeholder of a $search value is a whole
// term and returns the token sequence every rendering must have.
func (pv paramValue) compileSearch() ([]shapeToken, *TemplateError) {
	value, mine := pv.decoded, pv.spans
	if serr := checkSearch(value); serr != nil {
		return nil, &TemplateError{Offset: pv.sourceOffset(serr.Offset), Msg: "$search: " + serr.Msg}
	}
	var tokens []shapeToken
	k := 0 // the next placeholder
	for i := 0; ; {
		tok, _ := lexSearch(value, i)
		if tok.kind == searchEOF {
			return tokens, nil
		}
		st := shapeToken{kind: uint8(tok.kind), text: value[tok.start:tok.end]}
		for k < len(mine) {
			ds, de := pv.decodedSpan(mine[k])
			if ds >= tok.end {
				break
			}
			switch {
			case tok.kind == searchWord && tok.start == ds && tok.end == de:
				st.hole = true
			case tok.kind == searchPhrase:
				return nil, &TemplateError{Offset: mine[k].start,
					Msg: fmt.Sprintf("{{%s}} is inside a quoted phrase in $search", mine[k].name),
					Fix: fmt.Sprintf("remove the quotes around {{%s}}: ctibridge quotes a value itself when it needs quoting", mine[k].name)}
			default:
				return nil, &TemplateError{Offset: mine[k].start,
					Msg: fmt.Sprintf("{{%s}} is not a whole term in $search", mine[k].name),
					Fix: fmt.Sprintf("separate {{%s}} from other text with a space, e.g. $search={{%s}} or ...", mine[k].name, mine[k].name)}
			}
			k++
		}
		tokens = append(tokens, st)
		i = tok.end
	}
}

// Source returns the template as written.
func (t *Template) Source() string { return t.source }

// Placeholders returns the placeholders in order of appearance.
func (t *Template) Placeholders() []Placeholder { return slices.Clone(t.placeholders) }

// Names returns each placeholder name once, in order of first appearance.
func (t *Template) Names() []string { return slices.Clone(t.names) }

// Render fills the template with values, calling value once per
// placeholder occurrence. The template's own text is kept as written (CIF
// takes the query string as given); only values are escaped, by context:
//
// In a $filter string literal, single quotes are doubled, then every byte
// other than A-Z a-z 0-9 - . _ ~ and the (doubled) quote is percent-encoded
// as %XX, UTF-8 for non-ASCII. So after query-string decoding the literal
// holds exactly the value, and nothing in it can end the literal, the
// parameter (&) or the URL (#), or turn into a space (+).
//
// In $search a value is always exactly one term. A value of only ASCII
// letters and digits that is not AND, OR or NOT (in any case) is written as
// it is, e.g. 0299990000. Anything else becomes a phrase: in double quotes,
// with " and \ escaped by a backslash, and percent-encoded as above, e.g.
// "+61 2 9999" is written %22%2B61%202%209999%22. Inside a phrase the
// search operators (+ | - * ( ) ~ AND OR NOT && ||) are plain text.
//
// Invalid UTF-8 in a value is replaced by U+FFFD, byte by byte; an empty
// value becomes an empty literal (” or "").
//
// Before returning, Render re-reads its output as Dataverse would
// (split on &, percent-decode, lex) and checks that it has the template's
// parameters, the template's $filter tokens (same operators, properties,
// functions, parentheses and literal kinds; each placeholder's literal one
// string literal) and the template's $search operators, with each value one
// term. The filter parser's decisions depend only on the kinds and texts of
// those tokens, never on a literal's contents, so equal tokens mean an equal
// syntax tree. A mismatch cannot happen with the escaping above; if it ever
// did, Render returns an error rather than a query.
func (t *Template) Render(value func(name string) string) (string, error) {
	var b strings.Builder
	b.Grow(len(t.source) + 8*len(t.placeholders))
	b.WriteString(t.segments[0])
	for i, ph := range t.placeholders {
		v := value(ph.Name)
		if ph.Context == ContextSearch {
			writeSearchTerm(&b, v)
		} else {
			writeLiteralText(&b, v)
		}
		b.WriteString(t.segments[i+1])
	}
	out := b.String()
	if err := t.checkStructureCounts(out, nil); err != nil {
		return "", fmt.Errorf("odata: refusing rendered query for template %q: %w (this is a bug in ctibridge's escaping)", t.source, err)
	}
	return out, nil
}

// writeLiteralText writes a value for the inside of a $filter string
// literal.
func writeLiteralText(b *strings.Builder, v string) {
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			switch {
			case isUnreserved(c):
				b.WriteByte(c)
			case c == '\'':
				b.WriteString("''")
			default:
				writePercent(b, c)
			}
			i++
			continue
		}
		i += writeRune(b, v[i:])
	}
}

// writeRune percent-encodes the UTF-8 sequence at the start of s, or U+FFFD
// for an invalid byte, and returns how many bytes of s it used.
func writeRune(b *strings.Builder, s string) int {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size == 1 {
		b.WriteString("%EF%BF%BD")
		return 1
	}
	for k := 0; k < size; k++ {
		writePercent(b, s[k])
	}
	return size
}

// isBareSearchTerm reports a value that is one search term as it is.
func isBareSearchTerm(v string) bool {
	if v == "" || isSearchKeyword(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c)) {
			return false
		}
	}
	return true
}

// writeSearchTerm writes a value as one $search term; see Render.
func writeSearchTerm(b *strings.Builder, v string) {
	if isBareSearchTerm(v) {
		b.WriteString(v)
		return
	}
	b.WriteString("%22")
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			switch {
			case isUnreserved(c) || c == '\'':
				b.WriteByte(c)
			case c == '"' || c == '\\':
				b.WriteString("%5C")
				writePercent(b, c)
			default:
				writePercent(b, c)
			}
			i++
			continue
		}
		i += writeRune(b, v[i:])
	}
	b.WriteString("%22")
}

// checkStructure is Render's proof: it reads out as a server would and
// compares it with the template's shape. It allocates only to decode a
// $filter or $search value that holds percent-escapes.
func (t *Template) checkStructure(out string) error { return t.checkStructureCounts(out, nil) }

// checkStructureCounts is checkStructure for a rendering where placeholder
// i was written counts[i] times (nil: once each).
func (t *Template) checkStructureCounts(out string, counts []int) error {
	rest := out
	if t.question {
		var ok bool
		if rest, ok = strings.CutPrefix(out, "?"); !ok {
			return fmt.Errorf("the leading ? is gone")
		}
	}
	n := 0
	for rest != "" {
		var part string
		if i := strings.IndexByte(rest, '&'); i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		} else {
			part, rest = rest, ""
		}
		if part == "" {
			continue
		}
		if n >= len(t.shape) {
			return fmt.Errorf("it has more parameters than the template's %d", len(t.shape))
		}
		p := &t.shape[n]
		n++
		if p.kind == paramFixed {
			if part != p.raw {
				return fmt.Errorf("parameter %d is %.60q instead of %.60q", n, part, p.raw)
			}
			continue
		}
		raw, ok := strings.CutPrefix(part, p.raw)
		if !ok {
			return fmt.Errorf("parameter %d does not start with %q", n, p.raw)
		}
		value, serr := decodeComponent(raw)
		if serr != nil {
			return fmt.Errorf("parameter %s does not decode: %v", p.raw, serr)
		}
		if len(p.groups) > 0 {
			if err := matchExpanded(value, p, counts); err != nil {
				return err
			}
		} else if p.kind == paramFilter {
			if err := matchFilterTokens(value, p.tokens); err != nil {
				return err
			}
		} else if err := matchSearchTokens(value, p.tokens); err != nil {
			return err
		}
	}
	if n != len(t.shape) {
		return fmt.Errorf("it has %d parameters instead of the template's %d", n, len(t.shape))
	}
	return nil
}

func matchFilterTokens(value string, want []shapeToken) error {
	i := 0
	for k := 0; ; k++ {
		tok, msg := lexFilter(value, i)
		if msg != "" {
			return fmt.Errorf("$filter does not lex at offset %d: %s", tok.start, msg)
		}
		if tok.kind == tokEOF {
			if k != len(want) {
				return fmt.Errorf("$filter has %d tokens instead of %d", k, len(want))
			}
			return nil
		}
		if k >= len(want) {
			return fmt.Errorf("$filter has more tokens than the template's %d", len(want))
		}
		w := &want[k]
		if uint8(tok.kind) != w.kind || !w.hole && value[tok.start:tok.end] != w.text {
			return fmt.Errorf("$filter token %d differs from the template's %q", k, w.text)
		}
		i = tok.end
	}
}

func matchSearchTokens(value string, want []shapeToken) error {
	i := 0
	for k := 0; ; k++ {
		tok, msg := lexSearch(value, i)
		if msg != "" {
			return fmt.Errorf("$search does not lex at offset %d: %s", tok.start, msg)
		}
		if tok.kind == searchEOF {
			if k != len(want) {
				return fmt.Errorf("$search has %d tokens instead of %d", k, len(want))
			}
			return nil
		}
		if k >= len(want) {
			return fmt.Errorf("$search has more tokens than the template's %d", len(want))
		}
		w := &want[k]
		var same bool
		if w.hole {
			same = tok.kind == searchWord || tok.kind == searchPhrase
		} else {
			same = uint8(tok.kind) == w.kind && value[tok.start:tok.end] == w.text
		}
		if !same {
			return fmt.Errorf("$search token %d differs from the template's %q", k, w.text)
		}
		i = tok.end
	}
}
