package sandbox

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ctibridge/ctibridge/internal/odata"
)

// The $filter translator turns the odata syntax tree into a SQL WHERE
// clause over one table. Every value from the filter text becomes a bound
// parameter; identifiers come only from the table metadata, never from the
// text, so a filter cannot change the statement's structure.

// filterType is the OData type of a translated operand.
type filterType int

const (
	ftString filterType = iota
	ftBool
	ftInt
	ftDecimal
	ftDateTime
	ftGUID
	ftNull
	ftPredicate
)

func (f filterType) edm() string {
	switch f {
	case ftString:
		return "Edm.String"
	case ftBool, ftPredicate:
		return "Edm.Boolean"
	case ftInt:
		return "Edm.Int32"
	case ftDecimal:
		return "Edm.Decimal"
	case ftDateTime:
		return "Edm.DateTimeOffset"
	case ftGUID:
		return "Edm.Guid"
	}
	return "null"
}

func typeOfKind(k kind) filterType {
	switch k {
	case kindString, kindMemo:
		return ftString
	case kindBool:
		return ftBool
	case kindInt, kindBigInt, kindPicklist, kindState, kindStatus:
		return ftInt
	case kindDecimal:
		return ftDecimal
	case kindDateTime:
		return ftDateTime
	}
	return ftGUID
}

// operand is a translated sub-expression.
type operand struct {
	sql  string
	args []any
	typ  filterType
	// col is set when the operand is a plain column of the current table.
	col *column
	// nav is set when the operand is a path through a single-valued
	// navigation property (parentcustomerid_account/name).
	nav *navOperand
	// numberText keeps a number literal as written, so a comparison with a
	// datetime column can read it as a date if the parser lexed it so.
	literal *odata.Literal
}

type navOperand struct {
	nav    navTarget
	target *table
	col    *column
}

// filterTranslator translates one $filter over table t, whose rows are
// aliased alias in the statement.
type filterTranslator struct {
	schema *schema
	t      *table
	alias  string
	depth  int
}

// translateFilter parses and translates a $filter value into a SQL
// condition and its parameters.
func translateFilter(sch *schema, t *table, alias, text string) (string, []any, error) {
	expr, err := odata.ParseFilter(text)
	if err != nil {
		var syn *odata.SyntaxError
		if errors.As(err, &syn) {
			return "", nil, errQuery("Syntax error: %s at position %d in '%s'.", syn.Msg, syn.Offset, text)
		}
		return "", nil, errQuery("Invalid $filter '%s': %v", text, err)
	}
	if err := checkFilterSize(expr); err != nil {
		return "", nil, err
	}
	tr := &filterTranslator{schema: sch, t: t, alias: alias}
	op, err := tr.expr(expr)
	if err != nil {
		return "", nil, err
	}
	op, err = tr.predicate(op)
	if err != nil {
		return "", nil, err
	}
	return op.sql, op.args, nil
}

func (tr *filterTranslator) colRef(c *column) string {
	return tr.alias + "." + quoteIdent(c.name)
}

// predicate turns a boolean column or literal used as a condition into a
// predicate, and rejects anything else.
func (tr *filterTranslator) predicate(op operand) (operand, error) {
	switch op.typ {
	case ftPredicate:
		return op, nil
	case ftBool:
		return operand{sql: "(" + op.sql + " = 1)", args: op.args, typ: ftPredicate}, nil
	}
	return operand{}, errQuery("The $filter expression must evaluate to a single boolean value; '%s' is %s.", describe(op), op.typ.edm())
}

func describe(op operand) string {
	switch {
	case op.col != nil:
		return op.col.jsonName()
	case op.nav != nil:
		return op.nav.nav.col.nav[op.nav.nav.target] + "/" + op.nav.col.jsonName()
	case op.literal != nil:
		return op.literal.Value
	}
	return "expression"
}

func (tr *filterTranslator) expr(e odata.Expr) (operand, error) {
	switch n := e.(type) {
	case *odata.Binary:
		return tr.binary(n)
	case *odata.Not:
		inner, err := tr.expr(n.Operand)
		if err != nil {
			return operand{}, err
		}
		inner, err = tr.predicate(inner)
		if err != nil {
			return operand{}, err
		}
		return operand{sql: "(NOT " + inner.sql + ")", args: inner.args, typ: ftPredicate}, nil
	case *odata.Property:
		return tr.property(n)
	case *odata.Literal:
		return tr.literal(n)
	case *odata.Call:
		return tr.call(n)
	case nil:
		return operand{}, errQuery("The $filter expression is empty.")
	}
	return operand{}, errQuery("Unsupported $filter expression at position %d.", e.Pos())
}

func (tr *filterTranslator) property(p *odata.Property) (operand, error) {
	if first, rest, ok := strings.Cut(p.Name, "/"); ok {
		nav, found := tr.t.navs[first]
		if !found {
			return operand{}, errPropertyNotFound(tr.t, first)
		}
		target := tr.schema.table(nav.target)
		if strings.Contains(rest, "/") {
			return operand{}, errQuery("The sandbox supports one navigation step in $filter ('%s'); filter on '%s' directly.", p.Name, first+"/"+strings.SplitN(rest, "/", 2)[0])
		}
		c := target.column(rest)
		if c == nil || (c.kind == kindLookup && rest != c.jsonName()) {
			return operand{}, errPropertyNotFound(target, rest)
		}
		return operand{typ: typeOfKind(c.kind), nav: &navOperand{nav: nav, target: target, col: c}}, nil
	}
	c := tr.t.column(p.Name)
	if c == nil || (c.kind == kindLookup && p.Name != c.jsonName()) {
		// A lookup is filtered through _name_value; its bare name is a
		// navigation property, which cannot be compared.
		return operand{}, errPropertyNotFound(tr.t, p.Name)
	}
	return operand{sql: tr.colRef(c), typ: typeOfKind(c.kind), col: c}, nil
}

func (tr *filterTranslator) literal(l *odata.Literal) (operand, error) {
	switch l.Kind {
	case odata.LiteralString:
		return operand{sql: "?", args: []any{l.Value}, typ: ftString, literal: l}, nil
	case odata.LiteralBool:
		v := int64(0)
		if strings.EqualFold(l.Value, "true") {
			v = 1
		}
		return operand{sql: "?", args: []any{v}, typ: ftBool, literal: l}, nil
	case odata.LiteralNull:
		return operand{sql: "NULL", typ: ftNull, literal: l}, nil
	case odata.LiteralGUID:
		g, ok := parseGUID(l.Value)
		if !ok {
			return operand{}, errQuery("Unrecognized 'Edm.Guid' literal '%s' at position %d.", l.Value, l.Offset)
		}
		return operand{sql: "?", args: []any{g}, typ: ftGUID, literal: l}, nil
	case odata.LiteralNumber:
		if ts, ok := parseFilterDateTime(l.Value); ok {
			return operand{sql: "?", args: []any{ts}, typ: ftDateTime, literal: l}, nil
		}
		text := strings.TrimRight(l.Value, "lLmMdDfF")
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return operand{sql: "?", args: []any{i}, typ: ftInt, literal: l}, nil
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return operand{}, errQuery("Invalid number literal '%s' at position %d.", l.Value, l.Offset)
		}
		return operand{sql: "?", args: []any{f}, typ: ftDecimal, literal: l}, nil
	}
	return operand{}, errQuery("Unsupported literal '%s' at position %d.", l.Value, l.Offset)
}

// parseFilterDateTime reads a DateTimeOffset or Date literal
// (2024-01-31T10:00:00Z, 2024-01-31) as the sandbox stores it.
func parseFilterDateTime(s string) (string, bool) {
	if !strings.Contains(s, "-") || strings.HasPrefix(s, "-") {
		return "", false
	}
	return normalizeDateTime(s)
}

var operatorKinds = map[odata.BinaryOp]string{
	odata.OpEq: "Equal", odata.OpNe: "NotEqual",
	odata.OpGt: "GreaterThan", odata.OpGe: "GreaterThanOrEqual",
	odata.OpLt: "LessThan", odata.OpLe: "LessThanOrEqual",
}

var sqlOperators = map[odata.BinaryOp]string{
	odata.OpEq: "=", odata.OpNe: "<>", odata.OpGt: ">", odata.OpGe: ">=", odata.OpLt: "<", odata.OpLe: "<=",
}

func (tr *filterTranslator) binary(b *odata.Binary) (operand, error) {
	if b.Op == odata.OpAnd || b.Op == odata.OpOr {
		return tr.logical(b)
	}
	left, err := tr.expr(b.Left)
	if err != nil {
		return operand{}, err
	}
	right, err := tr.expr(b.Right)
	if err != nil {
		return operand{}, err
	}
	if _, ok := sqlOperators[b.Op]; !ok {
		return operand{}, errQuery("Unsupported operator '%s' at position %d.", b.Op, b.Offset)
	}
	if left.nav != nil && right.nav != nil {
		return operand{}, errQuery("The sandbox cannot compare two navigation paths in one condition at position %d.", b.Offset)
	}
	if left.nav != nil || right.nav != nil {
		return tr.viaNavigation(left, right, func(l, r operand) (operand, error) { return tr.compare(b, l, r) })
	}
	return tr.compare(b, left, right)
}

// viaNavigation evaluates a condition on a related row: the condition runs
// over the target table in a subquery and the current row matches when its
// lookup points at a row that satisfies it.
func (tr *filterTranslator) viaNavigation(a, b operand, build func(l, r operand) (operand, error)) (operand, error) {
	var nav *navOperand
	if a.nav != nil {
		nav = a.nav
	} else {
		nav = b.nav
	}
	inner := &filterTranslator{schema: tr.schema, t: nav.target, alias: fmt.Sprintf("n%d", tr.depth+1), depth: tr.depth + 1}
	colOp := operand{sql: inner.colRef(nav.col), typ: typeOfKind(nav.col.kind), col: nav.col}
	if a.nav != nil {
		a = colOp
	} else {
		b = colOp
	}
	cond, err := build(a, b)
	if err != nil {
		return operand{}, err
	}
	lk := nav.nav.col
	sql := fmt.Sprintf("(%s = ? AND %s IN (SELECT %s FROM %s AS %s WHERE %s))",
		tr.alias+"."+quoteIdent(lk.name+typeSuffix),
		tr.alias+"."+quoteIdent(lk.name),
		inner.colRef(nav.target.keyColumn()), quoteIdent(nav.target.set), inner.alias, cond.sql)
	return operand{sql: sql, args: append([]any{nav.target.logical}, cond.args...), typ: ftPredicate}, nil
}

func (tr *filterTranslator) compare(b *odata.Binary, left, right operand) (operand, error) {
	kindName := operatorKinds[b.Op]
	sqlOp := sqlOperators[b.Op]
	if left.typ == ftPredicate || right.typ == ftPredicate {
		return operand{}, errQuery("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", left.typ.edm(), right.typ.edm(), kindName)
	}
	// eq null and ne null test for a missing value.
	if left.typ == ftNull || right.typ == ftNull {
		other := left
		if left.typ == ftNull {
			other = right
		}
		if other.typ == ftNull {
			if b.Op == odata.OpEq {
				return operand{sql: "(1 = 1)", typ: ftPredicate}, nil
			}
			return operand{sql: "(1 = 0)", typ: ftPredicate}, nil
		}
		switch b.Op {
		case odata.OpEq:
			return operand{sql: "(" + other.sql + " IS NULL)", args: other.args, typ: ftPredicate}, nil
		case odata.OpNe:
			return operand{sql: "(" + other.sql + " IS NOT NULL)", args: other.args, typ: ftPredicate}, nil
		}
		// An ordering comparison with null is never true.
		return operand{sql: "(1 = 0)", typ: ftPredicate}, nil
	}
	left, right = coerceDateLiteral(left, right)
	if !compatible(left.typ, right.typ) {
		return operand{}, errQuery("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", left.typ.edm(), right.typ.edm(), kindName)
	}
	rightSQL := right.sql
	if left.typ == ftString {
		// Explicit so that comparisons between two parameters, or with a
		// column on the right, are case-insensitive too.
		rightSQL += " COLLATE " + collationCI
	}
	return operand{
		sql:  "(" + left.sql + " " + sqlOp + " " + rightSQL + ")",
		args: append(append([]any{}, left.args...), right.args...),
		typ:  ftPredicate,
	}, nil
}

// coerceDateLiteral lets a string literal in DateTimeOffset form stand for
// a date when the parser reports it as a string; the other side must be a
// datetime column for this to apply.
func coerceDateLiteral(left, right operand) (operand, operand) {
	fix := func(col, lit operand) operand {
		if col.typ == ftDateTime && lit.literal != nil && lit.typ != ftDateTime && lit.literal.Kind == odata.LiteralNumber {
			if ts, ok := normalizeDateTime(lit.literal.Value); ok {
				return operand{sql: "?", args: []any{ts}, typ: ftDateTime, literal: lit.literal}
			}
		}
		return lit
	}
	return fix(right, left), fix(left, right)
}

func compatible(a, b filterType) bool {
	if a == b {
		return true
	}
	numeric := func(t filterType) bool { return t == ftInt || t == ftDecimal }
	return numeric(a) && numeric(b)
}

func (tr *filterTranslator) call(c *odata.Call) (operand, error) {
	name := strings.ToLower(c.Func)
	switch name {
	case "contains", "startswith", "endswith":
	case "tolower", "toupper":
		// Dataverse documents only contains, endswith and startswith as
		// OData functions; string comparisons are case-insensitive anyway.
		return operand{}, errQuery("The '%s' function is not supported by Dataverse $filter (string comparisons are already case-insensitive); remove it.", c.Func)
	default:
		return operand{}, errQuery("Unknown function '%s' at position %d.", c.Func, c.Offset)
	}
	if len(c.Args) != 2 {
		return operand{}, errQuery("The function '%s' takes 2 arguments, got %d, at position %d.", c.Func, len(c.Args), c.Offset)
	}
	subject, err := tr.expr(c.Args[0])
	if err != nil {
		return operand{}, err
	}
	value, err := tr.expr(c.Args[1])
	if err != nil {
		return operand{}, err
	}
	build := func(subject, value operand) (operand, error) {
		if subject.typ != ftString {
			return operand{}, errQuery("No function signature for the function with name '%s' matches the specified arguments: the first argument must be a string property, not %s.", c.Func, subject.typ.edm())
		}
		if value.literal == nil || value.typ != ftString {
			return operand{}, errQuery("The second argument of '%s' must be a string literal.", c.Func)
		}
		// Dataverse runs these as SQL LIKE, so %, _ and [] in the value
		// keep their wildcard meaning there too.
		pattern := value.literal.Value
		switch name {
		case "contains":
			pattern = "%" + pattern + "%"
		case "startswith":
			pattern = pattern + "%"
		case "endswith":
			pattern = "%" + pattern
		}
		return operand{sql: "(sandbox_like(" + subject.sql + ", ?) = 1)", args: append(append([]any{}, subject.args...), pattern), typ: ftPredicate}, nil
	}
	if subject.nav != nil {
		return tr.viaNavigation(subject, value, build)
	}
	return build(subject, value)
}

// matchLike reports whether value matches a T-SQL LIKE pattern, ignoring
// case: % is any run of characters, _ any one character, [abc] and [a-z]
// one of a set, [^abc] one not in it.
func matchLike(value, pattern string) bool {
	v := []rune(value)
	p := []rune(pattern)
	// Precompute the token structure of the pattern: each position is a
	// literal, _, %, or the start of a [set] spanning several runes.
	type token struct {
		kind  byte // 'l' literal, '_' any, '%' run, '[' set
		r     rune
		set   []rune
		neg   bool
		width int
	}
	var toks []token
	for i := 0; i < len(p); {
		switch p[i] {
		case '%':
			toks = append(toks, token{kind: '%', width: 1})
			i++
		case '_':
			toks = append(toks, token{kind: '_', width: 1})
			i++
		case '[':
			end := -1
			for k := i + 1; k < len(p); k++ {
				if p[k] == ']' && k > i+1 {
					end = k
					break
				}
			}
			if end < 0 {
				toks = append(toks, token{kind: 'l', r: '[', width: 1})
				i++
				continue
			}
			body := p[i+1 : end]
			tok := token{kind: '[', width: end - i + 1}
			if len(body) > 0 && body[0] == '^' {
				tok.neg = true
				body = body[1:]
			}
			tok.set = body
			toks = append(toks, tok)
			i = end + 1
		default:
			toks = append(toks, token{kind: 'l', r: p[i], width: 1})
			i++
		}
	}
	fold := func(r rune) rune { return unicode.ToLower(r) }
	inSet := func(t token, r rune) bool {
		r = fold(r)
		found := false
		for k := 0; k < len(t.set); k++ {
			if k+2 < len(t.set) && t.set[k+1] == '-' {
				lo, hi := fold(t.set[k]), fold(t.set[k+2])
				if r >= lo && r <= hi {
					found = true
				}
				k += 2
				continue
			}
			if fold(t.set[k]) == r {
				found = true
			}
		}
		return found != t.neg
	}
	// prev[j] is true when the value so far matches toks[:j].
	prev := make([]bool, len(toks)+1)
	cur := make([]bool, len(toks)+1)
	prev[0] = true
	for j := 1; j <= len(toks); j++ {
		prev[j] = prev[j-1] && toks[j-1].kind == '%'
	}
	for i := 1; i <= len(v); i++ {
		cur[0] = false
		for j := 1; j <= len(toks); j++ {
			t := toks[j-1]
			switch t.kind {
			case '%':
				cur[j] = cur[j-1] || prev[j]
			case '_':
				cur[j] = prev[j-1]
			case '[':
				cur[j] = prev[j-1] && inSet(t, v[i-1])
			default:
				cur[j] = prev[j-1] && fold(t.r) == fold(v[i-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(toks)]
}

// parseGUID reads a GUID, with or without braces, into the lower-case
// canonical form the sandbox stores.
func parseGUID(s string) (string, bool) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if !isHex(c) {
				return "", false
			}
		}
	}
	return strings.ToLower(s), true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// normalizeDateTime reads an ISO 8601 date or date-time and returns it in
// the stored form: UTC, whole seconds, "2006-01-02T15:04:05Z".
func normalizeDateTime(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return formatTime(t), true
		}
	}
	return "", false
}

func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z")
}

// Limits on a $filter's size. SQLite refuses an expression tree deeper
// than 1000 nodes, and the parser builds "a or b or c ..." as a chain as
// deep as it is long, so 999 terms used to fail inside SQLite with a 500.
// Chains of one logical operator are now flattened and joined as a
// balanced tree (see logical), and what is left is bounded here so that
// the answer is a 400 naming the limit, never SQLite's text.
const (
	// maxFilterNodes bounds comparisons, functions and logical operators
	// together: about 2,500 "x eq 'v'" terms. A Dataverse GET URL is
	// limited to 32 KB, which holds fewer.
	maxFilterNodes = 5000
	// maxFilterNesting bounds how deep conditions nest once and/or chains
	// are flattened; each level costs SQLite a few levels of its 1000.
	maxFilterNesting = 100
)

// checkFilterSize refuses a filter over the limits. It walks the tree
// with its own stack, so that a long chain costs no recursion.
func checkFilterSize(e odata.Expr) error {
	type item struct {
		e     odata.Expr
		depth int
		op    odata.BinaryOp
	}
	stack := []item{{e: e}}
	nodes := 0
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		depth := it.depth
		switch n := it.e.(type) {
		case *odata.Binary:
			logical := n.Op == odata.OpAnd || n.Op == odata.OpOr
			if !logical || n.Op != it.op {
				depth++
			}
			stack = append(stack, item{n.Left, depth, n.Op}, item{n.Right, depth, n.Op})
		case *odata.Not:
			depth++
			stack = append(stack, item{e: n.Operand, depth: depth})
		case *odata.Call:
			depth++
			for _, a := range n.Args {
				stack = append(stack, item{e: a, depth: depth})
			}
		default:
			continue
		}
		if nodes++; nodes > maxFilterNodes {
			return errQuery("The $filter has more than %d conditions and operators, more than the sandbox accepts. Split the query into several smaller ones.", maxFilterNodes)
		}
		if depth > maxFilterNesting {
			return errQuery("The $filter nests its conditions more than %d levels deep, more than the sandbox accepts.", maxFilterNesting)
		}
	}
	return nil
}

// logical translates a chain of one logical operator ("a or b or c")
// as a balanced tree, so that its depth in SQLite grows with the
// logarithm of its length rather than the length.
func (tr *filterTranslator) logical(b *odata.Binary) (operand, error) {
	var terms []odata.Expr
	stack := []odata.Expr{b}
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x, ok := e.(*odata.Binary); ok && x.Op == b.Op {
			stack = append(stack, x.Right, x.Left)
			continue
		}
		terms = append(terms, e)
	}
	ops := make([]operand, len(terms))
	for i, e := range terms {
		op, err := tr.expr(e)
		if err != nil {
			return operand{}, err
		}
		if ops[i], err = tr.predicate(op); err != nil {
			return operand{}, err
		}
	}
	sqlOp := " AND "
	if b.Op == odata.OpOr {
		sqlOp = " OR "
	}
	return joinBalanced(ops, sqlOp), nil
}

func joinBalanced(ops []operand, sqlOp string) operand {
	if len(ops) == 1 {
		return ops[0]
	}
	mid := (len(ops) + 1) / 2 // left-leaning, as "a and b and c" reads
	l, r := joinBalanced(ops[:mid], sqlOp), joinBalanced(ops[mid:], sqlOp)
	return operand{sql: "(" + l.sql + sqlOp + r.sql + ")", args: append(append([]any{}, l.args...), r.args...), typ: ftPredicate}
}
