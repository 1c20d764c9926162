package config

// A small JSON reader that keeps what encoding/json throws away and a config
// checker needs: the byte offset of every value (for line and column in
// messages), object members in file order (entities keep their order,
// duplicate keys are visible), and the JSON path of the value being read
// when the text is malformed. It accepts one thing JSON does not: a trailing
// comma before } or ], because the ipSCAPE reference config is written with
// one and every reference example must load unchanged. Each trailing comma
// is reported as a warning.

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

type nodeKind int

const (
	kindNull nodeKind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// node is one JSON value.
type node struct {
	kind nodeKind
	// offset is the byte offset of the value's first character.
	offset int
	// text is a string's decoded value or a number as written.
	text    string
	boolean bool
	items   []*node
	members []member
}

// member is one "key": value of an object.
type member struct {
	key       string
	keyOffset int
	value     *node
}

// lookup returns the first member named key, or nil.
func (n *node) lookup(key string) *node {
	for _, m := range n.members {
		if m.key == key {
			return m.value
		}
	}
	return nil
}

// describe names a value for "expected X, got Y" messages.
func (n *node) describe() string {
	switch n.kind {
	case kindNull:
		return "null"
	case kindBool:
		return strconv.FormatBool(n.boolean)
	case kindNumber:
		return n.text
	case kindString:
		return quoteShort(n.text)
	case kindArray:
		return "a list"
	default:
		return "an object"
	}
}

// quoteShort quotes s for a message, cutting very long values so one bad
// value cannot flood the output.
func quoteShort(s string) string {
	const limit = 60
	if utf8.RuneCountInString(s) > limit {
		r := []rune(s)
		return strconv.Quote(string(r[:limit])) + "..."
	}
	return strconv.Quote(s)
}

// maxDepth bounds nesting so a hostile file cannot exhaust the stack; real
// configs nest about six levels.
const maxDepth = 256

// jsonReader reads one document.
type jsonReader struct {
	data     []byte
	pos      int
	depth    int
	warnings []Problem
	// lines turns trailing-comma offsets, which come in increasing order,
	// into line and column without rescanning the text for each.
	lines lineCounter
}

// syntaxProblem is malformed JSON: where the reader stopped, and the JSON
// path of the value it was reading.
type syntaxProblem struct {
	offset  int
	path    string
	message string
	fix     string
}

// readJSON parses data into a tree. Trailing-comma warnings are returned
// even when the document turns out to be malformed further on.
func readJSON(data []byte) (*node, []Problem, *syntaxProblem) {
	r := &jsonReader{data: data, lines: lineCounter{data: data, line: 1}}
	// Editors on Windows save a byte-order mark; it is not content.
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		r.pos = 3
	}
	r.skipSpace()
	if r.pos >= len(data) {
		return nil, nil, &syntaxProblem{offset: r.pos, path: rootPath, message: "the file is empty", fix: "write a JSON object such as {\"screenPop\": {...}}"}
	}
	root, sp := r.value(rootPath)
	if sp != nil {
		return nil, r.warnings, sp
	}
	r.skipSpace()
	if r.pos < len(data) {
		return nil, r.warnings, r.fail(rootPath, "unexpected "+r.peekDescription()+" after the end of the JSON value",
			"a config file is one JSON object: remove what follows its closing }, or merge the blocks into one object")
	}
	return root, r.warnings, nil
}

func (r *jsonReader) fail(path, message, fix string) *syntaxProblem {
	return &syntaxProblem{offset: r.pos, path: path, message: message, fix: fix}
}

func (r *jsonReader) skipSpace() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// peekDescription names the next character for "got X" messages.
func (r *jsonReader) peekDescription() string {
	if r.pos >= len(r.data) {
		return "end of file"
	}
	c, _ := utf8.DecodeRune(r.data[r.pos:])
	if c == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", r.data[r.pos])
	}
	return strconv.QuoteRune(c)
}

// fixFor suggests a fix for a character that cannot start what was
// expected; the common slips get a specific hint.
func (r *jsonReader) fixFor(general string) string {
	if r.pos >= len(r.data) {
		return "the JSON is cut short: close every { and ["
	}
	rest := r.data[r.pos:]
	switch {
	case rest[0] == '\'':
		return "JSON strings use double quotes"
	case len(rest) > 1 && rest[0] == '/' && (rest[1] == '/' || rest[1] == '*'):
		return "JSON has no comments: remove it"
	case rest[0] == ',':
		return "remove the extra comma"
	}
	return general
}

func (r *jsonReader) value(path string) (*node, *syntaxProblem) {
	if r.pos >= len(r.data) {
		return nil, r.fail(path, "unexpected end of file, expected a value", r.fixFor(""))
	}
	start := r.pos
	switch c := r.data[r.pos]; {
	case c == '{':
		return r.object(path)
	case c == '[':
		return r.array(path)
	case c == '"':
		s, sp := r.str(path)
		if sp != nil {
			return nil, sp
		}
		return &node{kind: kindString, offset: start, text: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return r.number(path)
	case r.literal("true"):
		return &node{kind: kindBool, offset: start, boolean: true}, nil
	case r.literal("false"):
		return &node{kind: kindBool, offset: start}, nil
	case r.literal("null"):
		return &node{kind: kindNull, offset: start}, nil
	}
	return nil, r.fail(path, "expected a value, got "+r.peekDescription(),
		r.fixFor("a value is a \"string\", a number, true, false, null, {...} or [...]"))
}

// literal consumes word if it comes next as a whole token.
func (r *jsonReader) literal(word string) bool {
	end := r.pos + len(word)
	if end > len(r.data) || string(r.data[r.pos:end]) != word {
		return false
	}
	if end < len(r.data) && isWordByte(r.data[end]) {
		return false
	}
	r.pos = end
	return true
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (r *jsonReader) enter(path string) *syntaxProblem {
	r.depth++
	if r.depth > maxDepth {
		return r.fail(path, fmt.Sprintf("values nest more than %d levels deep", maxDepth), "a config nests a few levels; check for a runaway [ or {")
	}
	return nil
}

func (r *jsonReader) object(path string) (*node, *syntaxProblem) {
	if sp := r.enter(path); sp != nil {
		return nil, sp
	}
	defer func() { r.depth-- }()
	n := &node{kind: kindObject, offset: r.pos}
	r.pos++ // {
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == '}' {
		r.pos++
		return n, nil
	}
	for {
		if r.pos >= len(r.data) || r.data[r.pos] != '"' {
			return nil, r.fail(path, "expected a quoted key or '}', got "+r.peekDescription(), r.keyFix())
		}
		keyOffset := r.pos
		key, sp := r.str(path)
		if sp != nil {
			return nil, sp
		}
		r.skipSpace()
		if r.pos >= len(r.data) || r.data[r.pos] != ':' {
			return nil, r.fail(joinKey(path, key), "expected ':' after the key, got "+r.peekDescription(), r.fixFor("write \"key\": value"))
		}
		r.pos++
		r.skipSpace()
		v, sp := r.value(joinKey(path, key))
		if sp != nil {
			return nil, sp
		}
		n.members = append(n.members, member{key: key, keyOffset: keyOffset, value: v})
		closed, sp := r.afterValue(path, '}', "after the value of "+strconv.Quote(key), "add a comma between members, or close the object with }")
		if sp != nil {
			return nil, sp
		}
		if closed {
			return n, nil
		}
	}
}

// afterValue reads what follows a member or item: the closing byte (closed
// is true), or a comma, itself followed by the closing byte when the
// container ends with a trailing comma (accepted with a warning).
func (r *jsonReader) afterValue(path string, closing byte, where, fix string) (closed bool, sp *syntaxProblem) {
	r.skipSpace()
	if r.pos >= len(r.data) {
		return false, r.fail(path, fmt.Sprintf("unexpected end of file, expected ',' or '%c'", closing), r.fixFor(""))
	}
	switch r.data[r.pos] {
	case closing:
		r.pos++
		return true, nil
	case ',':
		comma := r.pos
		r.pos++
		r.skipSpace()
		if r.pos < len(r.data) && r.data[r.pos] == closing {
			r.trailingComma(path, comma, closing)
			r.pos++
			return true, nil
		}
		return false, nil
	default:
		return false, r.fail(path, fmt.Sprintf("expected ',' or '%c' %s, got %s", closing, where, r.peekDescription()), fix)
	}
}

// keyFix explains the usual reasons a key is not where one is expected.
func (r *jsonReader) keyFix() string {
	if r.pos < len(r.data) && isWordByte(r.data[r.pos]) {
		return "put the key in double quotes"
	}
	return r.fixFor("write \"key\": value, or close the object with }")
}

func (r *jsonReader) array(path string) (*node, *syntaxProblem) {
	if sp := r.enter(path); sp != nil {
		return nil, sp
	}
	defer func() { r.depth-- }()
	n := &node{kind: kindArray, offset: r.pos}
	r.pos++ // [
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == ']' {
		r.pos++
		return n, nil
	}
	for {
		v, sp := r.value(joinIndex(path, len(n.items)))
		if sp != nil {
			return nil, sp
		}
		n.items = append(n.items, v)
		closed, sp := r.afterValue(path, ']', fmt.Sprintf("after item %d", len(n.items)-1), "add a comma between items, or close the list with ]")
		if sp != nil {
			return nil, sp
		}
		if closed {
			return n, nil
		}
	}
}

func (r *jsonReader) trailingComma(path string, offset int, closer byte) {
	line, col := r.lines.at(offset)
	r.warnings = append(r.warnings, Problem{
		Path:    path,
		Message: fmt.Sprintf("trailing comma at line %d, column %d is not valid JSON (accepted, as the ipSCAPE reference writes one)", line, col),
		Fix:     fmt.Sprintf("remove the comma before '%c'", closer),
	})
}

// str reads a string token, decoding escapes.
func (r *jsonReader) str(path string) (string, *syntaxProblem) {
	r.pos++ // opening quote
	start := r.pos
	// Fast path: no escapes.
	for r.pos < len(r.data) {
		c := r.data[r.pos]
		if c == '"' {
			s := string(r.data[start:r.pos])
			r.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		r.pos++
	}
	var b strings.Builder
	b.Write(r.data[start:r.pos])
	for {
		if r.pos >= len(r.data) {
			return "", r.fail(path, "unexpected end of file inside a string", "close the string with \"")
		}
		c := r.data[r.pos]
		switch {
		case c == '"':
			r.pos++
			return b.String(), nil
		case c < 0x20:
			if c == '\n' {
				return "", r.fail(path, "the string is not closed before the end of the line", "close the string with \", or write \\n for a line break inside it")
			}
			return "", r.fail(path, fmt.Sprintf("control character 0x%02x inside a string", c), "escape it, e.g. \\t for a tab")
		case c == '\\':
			if sp := r.escape(path, &b); sp != nil {
				return "", sp
			}
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			r.pos++
		default:
			ru, size := utf8.DecodeRune(r.data[r.pos:])
			if ru == utf8.RuneError && size == 1 {
				return "", r.fail(path, fmt.Sprintf("invalid UTF-8 byte 0x%02x inside a string", c), "save the file as UTF-8")
			}
			b.WriteRune(ru)
			r.pos += size
		}
	}
}

func (r *jsonReader) escape(path string, b *strings.Builder) *syntaxProblem {
	if r.pos+1 >= len(r.data) {
		r.pos++
		return r.fail(path, "unexpected end of file inside a string", "close the string with \"")
	}
	r.pos++ // backslash
	c := r.data[r.pos]
	if v, ok := simpleEscape(c); ok {
		b.WriteByte(v)
		r.pos++
		return nil
	}
	if c != 'u' {
		r.pos--
		return r.fail(path, "invalid escape \\"+r.escapeText(), "write \\\\ for a backslash; JSON escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX")
	}
	ru, ok := r.hex4(r.pos + 1)
	if !ok {
		r.pos--
		return r.fail(path, "invalid escape \\"+r.escapeText(), "\\u takes four hex digits, e.g. \\u00e9")
	}
	r.pos += 5
	if utf16.IsSurrogate(ru) {
		// A surrogate pair is two \u escapes; a lone half becomes U+FFFD,
		// as encoding/json does.
		if r.pos+1 < len(r.data) && r.data[r.pos] == '\\' && r.data[r.pos+1] == 'u' {
			if lo, ok := r.hex4(r.pos + 2); ok {
				if dec := utf16.DecodeRune(ru, lo); dec != utf8.RuneError {
					b.WriteRune(dec)
					r.pos += 6
					return nil
				}
			}
		}
		ru = utf8.RuneError
	}
	b.WriteRune(ru)
	return nil
}

// escapeText is the escape at r.pos (just after the backslash), for messages.
func (r *jsonReader) escapeText() string {
	if r.data[r.pos+1] == 'u' {
		end := r.pos + 2
		for end < len(r.data) && end < r.pos+6 && isHexDigit(r.data[end]) {
			end++
		}
		return string(r.data[r.pos+1 : end])
	}
	_, size := utf8.DecodeRune(r.data[r.pos+1:])
	return strings.ToValidUTF8(string(r.data[r.pos+1:r.pos+1+size]), "?")
}

// simpleEscape decodes the one-character escapes.
func simpleEscape(c byte) (byte, bool) {
	switch c {
	case '"', '\\', '/':
		return c, true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	}
	return 0, false
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexValue(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func (r *jsonReader) hex4(at int) (rune, bool) {
	if at+4 > len(r.data) {
		return 0, false
	}
	var v rune
	for _, c := range r.data[at : at+4] {
		if !isHexDigit(c) {
			return 0, false
		}
		v = v<<4 | rune(hexValue(c))
	}
	return v, true
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *jsonReader) number(path string) (*node, *syntaxProblem) {
	start := r.pos
	bad := func() *syntaxProblem {
		return r.fail(path, "malformed number "+quoteShort(string(r.data[start:r.tokenEnd()])), "numbers are written like 12, -3.5 or 1e3; put other text in double quotes")
	}
	if r.data[r.pos] == '-' {
		r.pos++
	}
	switch {
	case r.pos < len(r.data) && r.data[r.pos] == '0':
		r.pos++
	case r.digits() == 0:
		return nil, bad()
	}
	if r.pos < len(r.data) && r.data[r.pos] == '.' {
		r.pos++
		if r.digits() == 0 {
			return nil, bad()
		}
	}
	if r.pos < len(r.data) && (r.data[r.pos] == 'e' || r.data[r.pos] == 'E') {
		r.pos++
		if r.pos < len(r.data) && (r.data[r.pos] == '+' || r.data[r.pos] == '-') {
			r.pos++
		}
		if r.digits() == 0 {
			return nil, bad()
		}
	}
	if r.pos < len(r.data) && (isWordByte(r.data[r.pos]) || r.data[r.pos] == '.') {
		return nil, bad()
	}
	return &node{kind: kindNumber, offset: start, text: string(r.data[start:r.pos])}, nil
}

func (r *jsonReader) digits() int {
	n := 0
	for r.pos < len(r.data) && r.data[r.pos] >= '0' && r.data[r.pos] <= '9' {
		r.pos++
		n++
	}
	return n
}

// tokenEnd is the end of the word-like run at r.pos, to quote a bad token.
func (r *jsonReader) tokenEnd() int {
	end := r.pos
	for end < len(r.data) && (isWordByte(r.data[end]) || strings.IndexByte("+-.", r.data[end]) >= 0) {
		end++
	}
	return end
}

// lineColumn turns a byte offset into a 1-based line and column; the column
// counts characters, as editors show it.
func lineColumn(data []byte, offset int) (line, column int) {
	c := lineCounter{data: data, line: 1}
	return c.at(offset)
}

// lineCounter finds lines and columns for offsets asked in increasing
// order, scanning each byte once.
type lineCounter struct {
	data    []byte
	scanned int
	line    int
	// runes counts the characters between the line start and scanned.
	runes int
}

func (c *lineCounter) at(offset int) (line, column int) {
	offset = min(offset, len(c.data))
	if offset < c.scanned {
		*c = lineCounter{data: c.data, line: 1}
	}
	for ; c.scanned < offset; c.scanned++ {
		switch b := c.data[c.scanned]; {
		case b == '\n':
			c.line++
			c.runes = 0
		case isRuneStart(b):
			c.runes++
		}
	}
	return c.line, c.runes + 1
}
