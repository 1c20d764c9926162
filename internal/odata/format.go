package odata

import "strings"

// Precedence levels, loosest first; a child is parenthesised when it binds
// more loosely than its position requires.
const (
	precOr = iota + 1
	precAnd
	precComparison
	precNot
	precPrimary
)

func precedence(e Expr) int {
	switch e := e.(type) {
	case *Binary:
		switch e.Op {
		case OpOr:
			return precOr
		case OpAnd:
			return precAnd
		}
		return precComparison
	case *Not:
		return precNot
	}
	return precPrimary
}

// FormatFilter writes e as canonical $filter text (not percent-encoded):
// single spaces around operators, no spaces inside calls, parentheses only
// where precedence needs them. For any tree ParseFilter returns,
// ParseFilter(FormatFilter(e)) gives the same tree (offsets aside). A nil
// expression is "".
func FormatFilter(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e, precOr)
	return b.String()
}

func writeExpr(b *strings.Builder, e Expr, min int) {
	if e == nil {
		return
	}
	if precedence(e) < min {
		b.WriteByte('(')
		defer b.WriteByte(')')
	}
	switch e := e.(type) {
	case *Binary:
		// and/or associate to the left, so only the right side needs
		// parentheses at the same level; comparisons do not chain at all.
		left, right := precedence(e), precedence(e)+1
		if left == precComparison {
			left = precNot
		}
		writeExpr(b, e.Left, left)
		b.WriteByte(' ')
		b.WriteString(string(e.Op))
		b.WriteByte(' ')
		writeExpr(b, e.Right, right)
	case *Not:
		b.WriteString("not ")
		writeExpr(b, e.Operand, precNot)
	case *Property:
		b.WriteString(e.Name)
	case *Literal:
		if e.Kind == LiteralString {
			b.WriteByte('\'')
			b.WriteString(strings.ReplaceAll(e.Value, "'", "''"))
			b.WriteByte('\'')
			return
		}
		b.WriteString(e.Value)
	case *Call:
		b.WriteString(e.Func)
		b.WriteByte('(')
		for i, arg := range e.Args {
			if i > 0 {
				b.WriteByte(',')
			}
			writeExpr(b, arg, precOr)
		}
		b.WriteByte(')')
	}
}
