package odata

import (
	"fmt"
	"strings"
)

// SyntaxError is a problem in a $filter or $search text (or, for a
// percent-escape that does not decode, in a parameter value as written).
type SyntaxError struct {
	// Input is the text that was parsed.
	Input string
	// Offset is the byte offset of the problem in Input.
	Offset int
	// Msg says what is wrong and, where it helps, what to write instead.
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

// maxFilterDepth bounds the nesting of parentheses, not and function calls,
// so a hostile filter cannot make the parser (or the sandbox's evaluator)
// recurse without limit. Real filters nest two or three levels.
const maxFilterDepth = 64

// exprClass is what an expression can stand for, enough to reject filters
// Dataverse would refuse: "telephone1 and 'x'", "(a eq b) eq c", a bare
// string as the whole filter.
type exprClass uint8

const (
	classAny   exprClass = iota // a property or true/false: a condition or a value
	classCond                   // comparisons, and/or/not, contains/startswith/endswith
	classValue                  // string, number, null and GUID literals, tolower/toupper
)

// filterFunctions maps each supported function to its argument count.
var filterFunctions = map[string]int{
	"contains":   2,
	"startswith": 2,
	"endswith":   2,
	"tolower":    1,
	"toupper":    1,
}

var comparisonOps = map[string]BinaryOp{
	"eq": OpEq, "ne": OpNe, "gt": OpGt, "ge": OpGe, "lt": OpLt, "le": OpLe,
}

// isFilterKeyword reports the words that are operators or literals and so
// cannot name a property.
func isFilterKeyword(w string) bool {
	switch w {
	case "eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "true", "false", "null":
		return true
	}
	return false
}

// ParseFilter parses a $filter expression (already percent-decoded) into a
// syntax tree. It understands the subset ctibridge's templates and sandbox
// need: eq ne gt ge lt le, and or not, parentheses, string literals with ”
// for a quote, numbers, true/false/null, GUIDs, property names and
// navigation paths (a/b), and the functions contains, startswith, endswith,
// tolower and toupper. Keywords are lower case, as in OData. Precedence from
// tightest: not, comparisons, and, or. A Binary's Offset is that of its
// operator. Errors are *SyntaxError.
func ParseFilter(filter string) (Expr, error) {
	p := &filterParser{src: filter}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, p.errorf(p.tok.start, "empty filter: write a condition such as telephone1 eq '0299990000'")
	}
	e, class, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		if p.tok.kind == tokRParen {
			return nil, p.errorf(p.tok.start, "unbalanced parentheses: this ) has no matching (")
		}
		return nil, p.errorf(p.tok.start, "expected and, or or the end of the filter, found %s", p.describe())
	}
	if class == classValue {
		return nil, p.errorf(e.Pos(), "the filter is a value, not a condition: compare it, e.g. telephone1 eq '0299990000'")
	}
	return e, nil
}

type filterParser struct {
	src   string
	tok   filterToken
	depth int
}

func (p *filterParser) errorf(offset int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Input: p.src, Offset: offset, Msg: fmt.Sprintf(format, args...)}
}

func (p *filterParser) advance() error {
	tok, msg := lexFilter(p.src, p.tok.end)
	if msg != "" {
		return &SyntaxError{Input: p.src, Offset: tok.start, Msg: msg}
	}
	p.tok = tok
	return nil
}

func (p *filterParser) text() string { return p.src[p.tok.start:p.tok.end] }

// isWord reports whether the current token is the identifier w.
func (p *filterParser) isWord(w string) bool { return p.tok.kind == tokIdent && p.text() == w }

// describe names the current token for an error message.
func (p *filterParser) describe() string {
	switch p.tok.kind {
	case tokEOF:
		return "the end of the filter"
	case tokString:
		return "a string literal"
	case tokLParen:
		return "'('"
	case tokRParen:
		return "')'"
	case tokComma:
		return "','"
	}
	t := p.text()
	if len(t) > 40 {
		t = t[:40] + "..."
	}
	return "'" + t + "'"
}

func (p *filterParser) enter(offset int) error {
	p.depth++
	if p.depth > maxFilterDepth {
		return p.errorf(offset, "the filter nests deeper than %d levels", maxFilterDepth)
	}
	return nil
}

// parseOr parses "and-expr (or and-expr)*".
func (p *filterParser) parseOr() (Expr, exprClass, error) {
	left, lc, err := p.parseAnd()
	if err != nil {
		return nil, 0, err
	}
	for p.isWord("or") {
		op := p.tok.start
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		right, rc, err := p.parseAnd()
		if err != nil {
			return nil, 0, err
		}
		if err := p.needConditions(OpOr, left, lc, right, rc); err != nil {
			return nil, 0, err
		}
		left, lc = &Binary{Op: OpOr, Left: left, Right: right, Offset: op}, classCond
	}
	return left, lc, nil
}

// parseAnd parses "comparison (and comparison)*".
func (p *filterParser) parseAnd() (Expr, exprClass, error) {
	left, lc, err := p.parseComparison()
	if err != nil {
		return nil, 0, err
	}
	for p.isWord("and") {
		op := p.tok.start
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		right, rc, err := p.parseComparison()
		if err != nil {
			return nil, 0, err
		}
		if err := p.needConditions(OpAnd, left, lc, right, rc); err != nil {
			return nil, 0, err
		}
		left, lc = &Binary{Op: OpAnd, Left: left, Right: right, Offset: op}, classCond
	}
	return left, lc, nil
}

func (p *filterParser) needConditions(op BinaryOp, left Expr, lc exprClass, right Expr, rc exprClass) error {
	if lc == classValue {
		return p.errorf(left.Pos(), "the left side of %s is a value, not a condition", op)
	}
	if rc == classValue {
		return p.errorf(right.Pos(), "the right side of %s is a value, not a condition", op)
	}
	return nil
}

// parseComparison parses "unary (cmp-op unary)?"; comparisons do not chain.
func (p *filterParser) parseComparison() (Expr, exprClass, error) {
	left, lc, err := p.parseUnary()
	if err != nil {
		return nil, 0, err
	}
	op, ok := p.comparisonOp()
	if !ok {
		return left, lc, nil
	}
	at := p.tok.start
	if err := p.advance(); err != nil {
		return nil, 0, err
	}
	right, rc, err := p.parseUnary()
	if err != nil {
		return nil, 0, err
	}
	if lc == classCond {
		return nil, 0, p.errorf(left.Pos(), "the left side of %s is a condition, not a value", op)
	}
	if rc == classCond {
		return nil, 0, p.errorf(right.Pos(), "the right side of %s is a condition, not a value", op)
	}
	if next, ok := p.comparisonOp(); ok {
		return nil, 0, p.errorf(p.tok.start, "comparisons do not chain: join them with and/or, e.g. a %s b and b %s c", op, next)
	}
	return &Binary{Op: op, Left: left, Right: right, Offset: at}, classCond, nil
}

func (p *filterParser) comparisonOp() (BinaryOp, bool) {
	if p.tok.kind != tokIdent {
		return "", false
	}
	op, ok := comparisonOps[p.text()]
	return op, ok
}

// parseUnary parses "not unary | primary".
func (p *filterParser) parseUnary() (Expr, exprClass, error) {
	if !p.isWord("not") {
		return p.parsePrimary()
	}
	at := p.tok.start
	if err := p.enter(at); err != nil {
		return nil, 0, err
	}
	if err := p.advance(); err != nil {
		return nil, 0, err
	}
	operand, class, err := p.parseUnary()
	if err != nil {
		return nil, 0, err
	}
	if class == classValue {
		return nil, 0, p.errorf(operand.Pos(), "not needs a condition, found a value")
	}
	p.depth--
	return &Not{Operand: operand, Offset: at}, classCond, nil
}

func (p *filterParser) parsePrimary() (Expr, exprClass, error) {
	tok := p.tok
	text := p.text()
	switch tok.kind {
	case tokLParen:
		if err := p.enter(tok.start); err != nil {
			return nil, 0, err
		}
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		e, class, err := p.parseOr()
		if err != nil {
			return nil, 0, err
		}
		if p.tok.kind != tokRParen {
			if p.tok.kind == tokEOF {
				return nil, 0, p.errorf(tok.start, "unbalanced parentheses: this ( is never closed")
			}
			return nil, 0, p.errorf(p.tok.start, "expected ), and or or, found %s", p.describe())
		}
		p.depth--
		return e, class, p.advance()
	case tokString:
		lit := &Literal{Kind: LiteralString, Value: unquoteFilterString(text), Offset: tok.start}
		return lit, classValue, p.advance()
	case tokNumber:
		return &Literal{Kind: LiteralNumber, Value: text, Offset: tok.start}, classValue, p.advance()
	case tokGUID:
		return &Literal{Kind: LiteralGUID, Value: text, Offset: tok.start}, classValue, p.advance()
	case tokIdent:
		switch text {
		case "true", "false":
			return &Literal{Kind: LiteralBool, Value: text, Offset: tok.start}, classAny, p.advance()
		case "null":
			return &Literal{Kind: LiteralNull, Value: text, Offset: tok.start}, classValue, p.advance()
		}
		if isFilterKeyword(text) {
			return nil, 0, p.errorf(tok.start, "expected a value, found the operator '%s'", text)
		}
		if next, _ := lexFilter(p.src, tok.end); next.kind == tokLParen {
			return p.parseCall()
		}
		return &Property{Name: text, Offset: tok.start}, classAny, p.advance()
	}
	return nil, 0, p.errorf(tok.start, "expected a value, found %s", p.describe())
}

// parseCall parses "name(arg, ...)" with the current token on the name.
func (p *filterParser) parseCall() (Expr, exprClass, error) {
	at := p.tok.start
	name := p.text()
	arity, known := filterFunctions[name]
	if !known {
		return nil, 0, p.errorf(at, "unknown function %s: supported are contains, startswith, endswith, tolower and toupper", name)
	}
	if err := p.enter(at); err != nil {
		return nil, 0, err
	}
	if err := p.advance(); err != nil { // the name
		return nil, 0, err
	}
	if err := p.advance(); err != nil { // the (
		return nil, 0, err
	}
	var args []Expr
	for p.tok.kind != tokRParen {
		if len(args) > 0 {
			if p.tok.kind != tokComma {
				return nil, 0, p.errorf(p.tok.start, "expected , or ) in the arguments of %s, found %s", name, p.describe())
			}
			if err := p.advance(); err != nil {
				return nil, 0, err
			}
		}
		arg, class, err := p.parseOr()
		if err != nil {
			return nil, 0, err
		}
		if class == classCond {
			return nil, 0, p.errorf(arg.Pos(), "an argument of %s must be a value, found a condition", name)
		}
		args = append(args, arg)
	}
	if len(args) != arity {
		usage := "(column, 'text')"
		if arity == 1 {
			usage = "(column)"
		}
		return nil, 0, p.errorf(at, "%s takes %d argument(s), found %d: write %s%s", name, arity, len(args), name, usage)
	}
	p.depth--
	class := classCond
	if name == "tolower" || name == "toupper" {
		class = classValue
	}
	return &Call{Func: name, Args: args, Offset: at}, class, p.advance()
}

// unquoteFilterString strips the quotes of a lexed string literal and undoes
// the doubled quotes inside.
func unquoteFilterString(lit string) string {
	inner := lit[1 : len(lit)-1]
	if !strings.Contains(inner, "''") {
		return inner
	}
	return strings.ReplaceAll(inner, "''", "'")
}
