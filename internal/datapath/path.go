// Package datapath is the path language of the config's map[].path: dotted
// paths into a decoded JSON event document.
//
// A path is a list of steps. Steps are separated by dots or written in
// brackets:
//
//	interaction.activity.customerCli       object keys
//	interaction.leadData.phones.0.phone    array index (0-based)
//	interaction.leadData.phones[0].phone   the same in brackets
//	interaction.leadData.phones.index=1[phone]
//	                                       in array phones, the first element
//	                                       whose field index equals 1, then
//	                                       that element's field phone
//	interaction.leadData.phones[type=mobile].phone
//	headers[x.forwarded.for]               inside brackets a dot is literal
//	headers['a [b]'].value                 quote a name with ' or " to use
//	                                       . [ ] = quotes or spaces in it
//
// A step of digits only is an array index when the value is an array and an
// object key when it is an object, so "0" in {"0": ...} works too. A quoted
// step is always a key. Inside quotes a backslash escapes the next quote or
// backslash; no other escapes exist.
//
// A selector name=value picks the first object element of an array whose
// field name matches value. The value is compared as a JSON scalar: a
// string field matches when its text is value exactly; a number field
// matches when value is written as a number of the same value (index=1
// matches 1, 1.0 and 1e0); true and false match booleans, null matches
// null. So index=1 matches both {"index": 1} and {"index": "1"}, because
// telephony platforms are not consistent about numbers in JSON. Quoting the
// value does not change how it compares: it only lets it contain . [ ] =.
//
// Parse compiles a path once; Lookup and LookupString then resolve it
// against any number of documents without allocating when they find a
// string.
package datapath

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Path is a compiled path. It is immutable and safe for concurrent use.
type Path struct {
	expr  string
	steps []step
}

type stepKind uint8

const (
	// stepKey reads an object key.
	stepKey stepKind = iota + 1
	// stepKeyOrIndex is a bare run of digits: an index into an array or a
	// key of an object, whichever the value turns out to be.
	stepKeyOrIndex
	// stepSelect picks the first array element whose field matches.
	stepSelect
)

// step is one compiled step. Everything Lookup needs is precomputed here so
// that resolving does no parsing and no allocation.
type step struct {
	kind stepKind
	// key is the object key, the digits of a stepKeyOrIndex, or the field
	// a selector compares.
	key string
	// index is the array index of a stepKeyOrIndex, or -1 when the digits
	// do not fit an int (no array is that long).
	index int
	// value is the selector's written value, unquoted.
	value string
	// valueIsNumber and number hold value read as a JSON number, so number
	// fields compare by value.
	valueIsNumber bool
	number        float64
	// src is the step as written in the expression, for error messages.
	src string
}

// Parse compiles a path expression. Errors are *SyntaxError.
func Parse(expr string) (*Path, error) {
	p := parser{expr: expr}
	steps, err := p.parse()
	if err != nil {
		return nil, err
	}
	return &Path{expr: expr, steps: steps}, nil
}

// String returns the expression as written.
func (p *Path) String() string { return p.expr }

// SyntaxError reports an expression Parse cannot compile. Offset is the byte
// offset in Expr where the problem was found.
type SyntaxError struct {
	Expr   string
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return "path " + strconv.Quote(e.Expr) + ": offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

type parser struct {
	expr string
	pos  int
}

func (p *parser) fail(offset int, msg string) error {
	return &SyntaxError{Expr: p.expr, Offset: offset, Msg: msg}
}

func (p *parser) parse() ([]step, error) {
	if p.expr == "" {
		return nil, p.fail(0, "empty path: write the keys to follow, e.g. interaction.activity.customerCli")
	}
	if !utf8.ValidString(p.expr) {
		return nil, p.fail(invalidUTF8Offset(p.expr), "invalid UTF-8")
	}
	// A path has at most one step per byte; counting separators sizes the
	// slice exactly for ordinary paths.
	steps := make([]step, 0, 1+strings.Count(p.expr, ".")+strings.Count(p.expr, "["))
	first := true
	for p.pos < len(p.expr) {
		start := p.pos
		switch {
		case p.expr[p.pos] == '[':
			p.pos++
			s, err := p.term(true)
			if err != nil {
				return nil, err
			}
			if p.pos >= len(p.expr) {
				return nil, p.fail(p.pos, `expected "]" to close the "[" at offset `+strconv.Itoa(start))
			}
			if p.expr[p.pos] != ']' {
				return nil, p.fail(p.pos, "unexpected "+quoteChar(p.expr, p.pos)+` in brackets: quote names that contain . [ ] = or spaces`)
			}
			p.pos++
			s.src = p.expr[start:p.pos]
			steps = append(steps, s)
		case first:
			s, err := p.term(false)
			if err != nil {
				return nil, err
			}
			s.src = p.expr[start:p.pos]
			steps = append(steps, s)
		case p.expr[p.pos] == '.':
			p.pos++
			s, err := p.term(false)
			if err != nil {
				return nil, err
			}
			s.src = p.expr[start+1 : p.pos]
			steps = append(steps, s)
		default:
			return nil, p.fail(p.pos, "unexpected "+quoteChar(p.expr, p.pos)+` after a step: expected "." or "["`)
		}
		first = false
	}
	return steps, nil
}

// term reads one step: a word, or word=word for a selector. In brackets a
// bare word may contain dots.
func (p *parser) term(inBrackets bool) (step, error) {
	name, quoted, err := p.word(inBrackets, "a key, index or selector")
	if err != nil {
		return step{}, err
	}
	if p.pos < len(p.expr) && p.expr[p.pos] == '=' {
		p.pos++
		value, _, err := p.word(inBrackets, "a value to compare after \"=\"")
		if err != nil {
			return step{}, err
		}
		s := step{kind: stepSelect, key: name, value: value, index: -1}
		if isJSONNumber(value) {
			if f, err := strconv.ParseFloat(value, 64); err == nil {
				s.valueIsNumber, s.number = true, f
			}
		}
		return s, nil
	}
	if !quoted && isDigits(name) {
		index, err := strconv.Atoi(name)
		if err != nil {
			index = -1
		}
		return step{kind: stepKeyOrIndex, key: name, index: index}, nil
	}
	return step{kind: stepKey, key: name, index: -1}, nil
}

// word reads a bare or quoted word and reports whether it was quoted.
func (p *parser) word(inBrackets bool, want string) (string, bool, error) {
	if p.pos >= len(p.expr) {
		return "", false, p.fail(p.pos, "expected "+want+" at the end of the path")
	}
	if c := p.expr[p.pos]; c == '\'' || c == '"' {
		s, err := p.quoted()
		return s, true, err
	}
	start := p.pos
	for p.pos < len(p.expr) {
		r, size := utf8.DecodeRuneInString(p.expr[p.pos:])
		if r == '.' && inBrackets {
			p.pos += size
			continue
		}
		if !isBareRune(r) {
			break
		}
		p.pos += size
	}
	if p.pos == start {
		return "", false, p.fail(p.pos, "expected "+want+", found "+quoteChar(p.expr, p.pos))
	}
	return p.expr[start:p.pos], false, nil
}

// quoted reads a '...' or "..." word. Backslash escapes the quote and
// itself; any other escape is an error so that future escapes stay free.
func (p *parser) quoted() (string, error) {
	open := p.pos
	q := p.expr[p.pos]
	p.pos++
	start := p.pos
	var b *strings.Builder
	for p.pos < len(p.expr) {
		c := p.expr[p.pos]
		switch c {
		case q:
			p.pos++
			if b == nil {
				return p.expr[start : p.pos-1], nil
			}
			return b.String(), nil
		case '\\':
			if p.pos+1 >= len(p.expr) {
				return "", p.fail(p.pos, "backslash at the end of the path")
			}
			next := p.expr[p.pos+1]
			if next != '\'' && next != '"' && next != '\\' {
				return "", p.fail(p.pos, `unknown escape \`+string(rune(next))+`: only \' \" and \\ are escapes`)
			}
			if b == nil {
				b = &strings.Builder{}
				b.WriteString(p.expr[start:p.pos])
			}
			b.WriteByte(next)
			p.pos += 2
		default:
			if b != nil {
				b.WriteByte(c)
			}
			p.pos++
		}
	}
	return "", p.fail(open, "unterminated quote: add the closing "+string(rune(q)))
}

// isBareRune tells which runes an unquoted word may hold: anything but the
// syntax characters, spaces and control characters. Spaces are excluded so a
// stray space in a config is a parse error instead of a silent miss.
func isBareRune(r rune) bool {
	switch r {
	case '.', '[', ']', '=', '\'', '"', '\\':
		return false
	}
	return !unicode.IsSpace(r) && !unicode.IsControl(r)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isJSONNumber reports whether s is written like a JSON number (leading
// zeros allowed), so that words such as "Inf" or "0x10", which
// strconv.ParseFloat would accept, stay strings.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() bool {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > start
	}
	if !digits() {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}

func quoteChar(s string, pos int) string {
	if pos >= len(s) {
		return "end of path"
	}
	r, _ := utf8.DecodeRuneInString(s[pos:])
	return strconv.QuoteRune(r)
}

func invalidUTF8Offset(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return 0
}

// canonical renders the compiled steps in one fixed spelling: dotted steps,
// bare words where possible, single quotes otherwise. Parsing it gives the
// same steps; the fuzz test holds the quoting rules to that.
func (p *Path) canonical() string {
	var b strings.Builder
	for i, s := range p.steps {
		if i > 0 {
			b.WriteByte('.')
		}
		switch s.kind {
		case stepKeyOrIndex:
			b.WriteString(s.key)
		case stepKey:
			if isDigits(s.key) {
				writeQuoted(&b, s.key)
			} else {
				writeWord(&b, s.key)
			}
		case stepSelect:
			writeWord(&b, s.key)
			b.WriteByte('=')
			writeWord(&b, s.value)
		}
	}
	return b.String()
}

func writeWord(b *strings.Builder, w string) {
	bare := w != ""
	for _, r := range w {
		if !isBareRune(r) {
			bare = false
			break
		}
	}
	if bare {
		b.WriteString(w)
		return
	}
	writeQuoted(b, w)
}

func writeQuoted(b *strings.Builder, w string) {
	b.WriteByte('\'')
	for i := 0; i < len(w); i++ {
		if w[i] == '\'' || w[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(w[i])
	}
	b.WriteByte('\'')
}
