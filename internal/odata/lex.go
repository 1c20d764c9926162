package odata

import (
	"fmt"
	"unicode/utf8"
)

// Two lexers live here: one for $filter and one for $search. ParseFilter
// builds on the first; the template compiler uses both to record a
// template's token sequence, and Render re-lexes its own output with the
// same functions to prove the structure did not change. Both work on a
// string and an offset and return tokens as spans, so lexing allocates
// nothing unless it fails.

// filterTokenKind is the kind of a $filter token.
type filterTokenKind uint8

const (
	tokEOF    filterTokenKind = iota
	tokIdent                  // a name or keyword; navigation paths keep their '/'
	tokString                 // '...' with '' for a quote
	tokNumber                 // -12, 3.5, 1e6
	tokGUID                   // 8-4-4-4-12 hex digits
	tokLParen
	tokRParen
	tokComma
)

// filterToken is a span of the filter text.
type filterToken struct {
	kind       filterTokenKind
	start, end int
}

// isFilterSpace reports OData's whitespace (RWS: space or horizontal tab).
// A '+' in a query string is a space too, but decoding has already turned
// it into one.
func isFilterSpace(c byte) bool { return c == ' ' || c == '\t' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

// lexFilter returns the token that starts at or after offset i of s. When
// the text there is not a token it returns a message, and tok.start holds
// the offset of the problem.
func lexFilter(s string, i int) (tok filterToken, msg string) {
	for i < len(s) && isFilterSpace(s[i]) {
		i++
	}
	if i >= len(s) {
		return filterToken{tokEOF, i, i}, ""
	}
	c := s[i]
	switch {
	case c == '(':
		return filterToken{tokLParen, i, i + 1}, ""
	case c == ')':
		return filterToken{tokRParen, i, i + 1}, ""
	case c == ',':
		return filterToken{tokComma, i, i + 1}, ""
	case c == '\'':
		for j := i + 1; j < len(s); j++ {
			if s[j] != '\'' {
				continue
			}
			if j+1 < len(s) && s[j+1] == '\'' {
				j++ // '' is one quote inside the literal
				continue
			}
			return filterToken{tokString, i, j + 1}, ""
		}
		return filterToken{tokEOF, i, i}, "unterminated string literal: a ' opened here is never closed (a quote inside text is written '')"
	case guidAt(s, i):
		return filterToken{tokGUID, i, i + 36}, ""
	case isDigit(c) || c == '-' && i+1 < len(s) && isDigit(s[i+1]):
		return lexNumber(s, i)
	case isIdentStart(c):
		j := i + 1
		for {
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			if j < len(s) && s[j] == '/' {
				if j+1 < len(s) && isIdentStart(s[j+1]) {
					j += 2
					continue
				}
				return filterToken{tokEOF, j, j}, "a '/' in a navigation path must be followed by a name"
			}
			return filterToken{tokIdent, i, j}, ""
		}
	}
	return filterToken{tokEOF, i, i}, fmt.Sprintf("unexpected character %s", quoteCharAt(s, i))
}

// lexNumber lexes an integer or decimal with an optional sign and exponent.
func lexNumber(s string, i int) (filterToken, string) {
	j := i
	if s[j] == '-' {
		j++
	}
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j < len(s) && s[j] == '.' {
		j++
		if j >= len(s) || !isDigit(s[j]) {
			return filterToken{tokEOF, i, i}, "invalid number: a decimal point must be followed by digits"
		}
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && isDigit(s[k]) {
			for j = k; j < len(s) && isDigit(s[j]); j++ {
			}
		}
	}
	if j < len(s) && (isIdentChar(s[j]) || s[j] == '.') {
		return filterToken{tokEOF, i, i}, "invalid number: digits run into letters or a second dot (text values go in single quotes)"
	}
	return filterToken{tokNumber, i, j}, ""
}

// guidAt reports whether a GUID literal (8-4-4-4-12 hex digits, not glued
// to a following name) starts at offset i.
func guidAt(s string, i int) bool {
	if len(s)-i < 36 {
		return false
	}
	for k := 0; k < 36; k++ {
		c := s[i+k]
		switch k {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return i+36 == len(s) || !isIdentChar(s[i+36]) && s[i+36] != '-'
}

// quoteCharAt renders the character at offset i for an error message.
func quoteCharAt(s string, i int) string {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf("byte 0x%02x", s[i])
	}
	return fmt.Sprintf("%q", r)
}

// searchTokenKind is the kind of a $search token.
type searchTokenKind uint8

const (
	searchEOF      searchTokenKind = iota
	searchWord                     // a bare term; a backslash escapes the next byte
	searchPhrase                   // "..." with \" and \\ escapes
	searchKeyword                  // AND, OR or NOT in any letter case
	searchOperator                 // one operator character, see isSearchOperator
)

// searchToken is a span of the search text.
type searchToken struct {
	kind       searchTokenKind
	start, end int
}

// isSearchSpace reports the bytes that separate search terms.
func isSearchSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// isSearchOperator reports the characters with a meaning in the search
// syntaxes a $search can reach: OData $search, Lucene's simple query syntax
// (+ | - " * ( ) ~ and \ escapes) and Lucene's full syntax (&& || ! ^ : ?
// [ ] { } /). Treating all of them as operators makes the lexer
// conservative: a value can only be one term if it avoids every one.
func isSearchOperator(c byte) bool {
	switch c {
	case '+', '-', '|', '&', '!', '(', ')', '*', '~', '^', ':', '?', '[', ']', '{', '}', '/':
		return true
	}
	return false
}

// isSearchKeyword reports the operator words. The reference template writes
// "or" in lower case, so any letter case counts.
func isSearchKeyword(w string) bool {
	switch len(w) {
	case 2:
		return (w[0]|0x20) == 'o' && (w[1]|0x20) == 'r'
	case 3:
		a, b, c := w[0]|0x20, w[1]|0x20, w[2]|0x20
		return a == 'a' && b == 'n' && c == 'd' || a == 'n' && b == 'o' && c == 't'
	}
	return false
}

// lexSearch returns the search token that starts at or after offset i of s,
// or a message and the offset of the problem.
func lexSearch(s string, i int) (tok searchToken, msg string) {
	for i < len(s) && isSearchSpace(s[i]) {
		i++
	}
	if i >= len(s) {
		return searchToken{searchEOF, i, i}, ""
	}
	c := s[i]
	if c == '"' {
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++ // the escaped byte, checked by the loop condition
			case '"':
				return searchToken{searchPhrase, i, j + 1}, ""
			}
		}
		return searchToken{searchEOF, i, i}, `unterminated phrase: a " opened here is never closed (a quote inside a phrase is written \")`
	}
	if isSearchOperator(c) {
		return searchToken{searchOperator, i, i + 1}, ""
	}
	j := i
	for j < len(s) {
		c := s[j]
		if isSearchSpace(c) || isSearchOperator(c) || c == '"' {
			break
		}
		if c == '\\' {
			if j+1 >= len(s) {
				return searchToken{searchEOF, j, j}, `a \ at the end of the search text escapes nothing (write \\ for a backslash)`
			}
			j++
		}
		j++
	}
	if isSearchKeyword(s[i:j]) {
		return searchToken{searchKeyword, i, j}, ""
	}
	return searchToken{searchWord, i, j}, ""
}

// checkSearch lexes the whole search text and checks its parentheses,
// reporting the first problem.
func checkSearch(s string) *SyntaxError {
	var open []int // offsets of the ( not yet closed
	for i := 0; ; {
		tok, msg := lexSearch(s, i)
		if msg != "" {
			return &SyntaxError{Input: s, Offset: tok.start, Msg: msg}
		}
		switch {
		case tok.kind == searchEOF:
			if len(open) > 0 {
				return &SyntaxError{Input: s, Offset: open[len(open)-1], Msg: "unbalanced parentheses: this ( is never closed"}
			}
			return nil
		case tok.kind == searchOperator && s[tok.start] == '(':
			open = append(open, tok.start)
		case tok.kind == searchOperator && s[tok.start] == ')':
			if len(open) == 0 {
				return &SyntaxError{Input: s, Offset: tok.start, Msg: "unbalanced parentheses: this ) has no matching ("}
			}
			open = open[:len(open)-1]
		}
		i = tok.end
	}
}
