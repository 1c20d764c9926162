package odata

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Tree builders for expected values; offsets are not compared by sameExpr.
func prop(name string) *Property           { return &Property{Name: name} }
func str(v string) *Literal                { return &Literal{Kind: LiteralString, Value: v} }
func num(v string) *Literal                { return &Literal{Kind: LiteralNumber, Value: v} }
func lit(k LiteralKind, v string) *Literal { return &Literal{Kind: k, Value: v} }
func bin(op BinaryOp, l, r Expr) *Binary   { return &Binary{Op: op, Left: l, Right: r} }
func not(e Expr) *Not                      { return &Not{Operand: e} }
func call(f string, args ...Expr) *Call    { return &Call{Func: f, Args: args} }

// sameExpr compares two trees, ignoring offsets.
func sameExpr(a, b Expr) bool {
	switch a := a.(type) {
	case *Binary:
		b, ok := b.(*Binary)
		return ok && a.Op == b.Op && sameExpr(a.Left, b.Left) && sameExpr(a.Right, b.Right)
	case *Not:
		b, ok := b.(*Not)
		return ok && sameExpr(a.Operand, b.Operand)
	case *Property:
		b, ok := b.(*Property)
		return ok && a.Name == b.Name
	case *Literal:
		b, ok := b.(*Literal)
		return ok && a.Kind == b.Kind && a.Value == b.Value
	case *Call:
		b, ok := b.(*Call)
		if !ok || a.Func != b.Func || len(a.Args) != len(b.Args) {
			return false
		}
		for i := range a.Args {
			if !sameExpr(a.Args[i], b.Args[i]) {
				return false
			}
		}
		return true
	case nil:
		return b == nil
	}
	return false
}

func TestParseFilterBuildsTheTree(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		want   Expr
	}{
		{"reference comparison", "telephone1 eq '0299990000'", bin(OpEq, prop("telephone1"), str("0299990000"))},
		{"every comparison operator", "a ne 1 and b gt 2 and c ge 3 and d lt 4 and e le 5",
			bin(OpAnd, bin(OpAnd, bin(OpAnd, bin(OpAnd,
				bin(OpNe, prop("a"), num("1")), bin(OpGt, prop("b"), num("2"))),
				bin(OpGe, prop("c"), num("3"))), bin(OpLt, prop("d"), num("4"))), bin(OpLe, prop("e"), num("5")))},
		{"and binds tighter than or", "a eq 1 or b eq 2 and c eq 3",
			bin(OpOr, bin(OpEq, prop("a"), num("1")), bin(OpAnd, bin(OpEq, prop("b"), num("2")), bin(OpEq, prop("c"), num("3"))))},
		{"parentheses regroup", "(a eq 1 or b eq 2) and c eq 3",
			bin(OpAnd, bin(OpOr, bin(OpEq, prop("a"), num("1")), bin(OpEq, prop("b"), num("2"))), bin(OpEq, prop("c"), num("3")))},
		{"or is left associative", "a or b or c", bin(OpOr, bin(OpOr, prop("a"), prop("b")), prop("c"))},
		{"not binds tightest", "not donotphone and a eq 1",
			bin(OpAnd, not(prop("donotphone")), bin(OpEq, prop("a"), num("1")))},
		{"not of a group", "not (a eq 1)", not(bin(OpEq, prop("a"), num("1")))},
		{"not not", "not not donotphone", not(not(prop("donotphone")))},
		{"doubled quote is one quote", "lastname eq 'O''Bryan'", bin(OpEq, prop("lastname"), str("O'Bryan"))},
		{"empty string", "telephone1 eq ''", bin(OpEq, prop("telephone1"), str(""))},
		{"string keeps spaces and keywords", "a eq ' or 1 eq 1 '", bin(OpEq, prop("a"), str(" or 1 eq 1 "))},
		{"numbers", "a eq -3.5 or b eq 1e6 or c eq 2E-3",
			bin(OpOr, bin(OpOr, bin(OpEq, prop("a"), num("-3.5")), bin(OpEq, prop("b"), num("1e6"))), bin(OpEq, prop("c"), num("2E-3")))},
		{"true false null", "a eq true and b ne false and c eq null",
			bin(OpAnd, bin(OpAnd, bin(OpEq, prop("a"), lit(LiteralBool, "true")), bin(OpNe, prop("b"), lit(LiteralBool, "false"))), bin(OpEq, prop("c"), lit(LiteralNull, "null")))},
		{"guid", "_parentcustomerid_value eq 5e5c7f0a-1234-4d2b-9abc-00000000000f",
			bin(OpEq, prop("_parentcustomerid_value"), lit(LiteralGUID, "5e5c7f0a-1234-4d2b-9abc-00000000000f"))},
		{"guid starting with digits", "accountid eq 12345678-1234-1234-1234-123456789012",
			bin(OpEq, prop("accountid"), lit(LiteralGUID, "12345678-1234-1234-1234-123456789012"))},
		{"navigation path", "parentcustomerid_account/name eq 'Contoso'",
			bin(OpEq, prop("parentcustomerid_account/name"), str("Contoso"))},
		{"functions", "contains(fullname,'smith') or startswith(telephone1, '02') or endswith(tolower(emailaddress1),'@x.com')",
			bin(OpOr, bin(OpOr, call("contains", prop("fullname"), str("smith")), call("startswith", prop("telephone1"), str("02"))),
				call("endswith", call("tolower", prop("emailaddress1")), str("@x.com")))},
		{"toupper compared", "toupper(lastname) eq 'SMITH'", bin(OpEq, call("toupper", prop("lastname")), str("SMITH"))},
		{"column compared with column", "telephone1 eq mobilephone", bin(OpEq, prop("telephone1"), prop("mobilephone"))},
		{"a boolean column alone", "donotphone", prop("donotphone")},
		{"tabs and extra spaces", "\ta  eq\t'x'  ", bin(OpEq, prop("a"), str("x"))},
		{"no space needed before a literal", "a eq'x'", bin(OpEq, prop("a"), str("x"))},
		{"string holds any bytes", "a eq '\x00\xff&#%'", bin(OpEq, prop("a"), str("\x00\xff&#%"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", tt.filter, err)
			}
			if !sameExpr(got, tt.want) {
				t.Errorf("ParseFilter(%q) = %s, want %s", tt.filter, FormatFilter(got), FormatFilter(tt.want))
			}
		})
	}
}

func TestParseFilterRecordsOffsets(t *testing.T) {
	e, err := ParseFilter("a eq 'x' or not contains(b,'y')")
	if err != nil {
		t.Fatal(err)
	}
	or := e.(*Binary)
	eq := or.Left.(*Binary)
	n := or.Right.(*Not)
	c := n.Operand.(*Call)
	tests := []struct {
		name string
		node Expr
		want int
	}{
		{"or at its operator", or, 9},
		{"eq at its operator", eq, 2},
		{"property", eq.Left, 0},
		{"literal at its quote", eq.Right, 5},
		{"not", n, 12},
		{"call at its name", c, 16},
		{"call argument", c.Args[1], 27},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.node.Pos(); got != tt.want {
				t.Errorf("Pos() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		name    string
		filter  string
		offset  int
		message string // a part of Msg
	}{
		{"empty", "", 0, "empty filter"},
		{"only spaces", "   ", 3, "empty filter"},
		{"unterminated string", "telephone1 eq '0299", 14, "unterminated string literal"},
		{"bare value after eq", "telephone1 eq 0299abc", 14, "invalid number"},
		{"missing right side", "telephone1 eq", 13, "expected a value, found the end of the filter"},
		{"operator as value", "a eq eq", 5, "found the operator 'eq'"},
		{"keywords are lower case", "a EQ 'x'", 2, "expected and, or or the end of the filter, found 'EQ'"},
		{"unclosed parenthesis", "(a eq 'x'", 0, "this ( is never closed"},
		{"extra closing parenthesis", "a eq 'x')", 8, "this ) has no matching ("},
		{"junk inside parentheses", "(a eq 'x' b)", 10, "expected ), and or or, found 'b'"},
		{"chained comparison", "a eq b eq c", 7, "comparisons do not chain"},
		{"value as the filter", "'x'", 0, "a value, not a condition"},
		{"value in and", "a eq 1 and 'x'", 11, "the right side of and is a value"},
		{"value in or", "5 or a", 0, "the left side of or is a value"},
		{"condition compared", "(a eq 1) eq true", 3, "the left side of eq is a condition"},
		{"not of a value", "not 'x'", 4, "not needs a condition"},
		{"unknown function", "substringof('x',a)", 0, "unknown function substringof"},
		{"too many arguments", "contains(a,'x','y')", 0, "contains takes 2 argument(s), found 3"},
		{"too few arguments", "tolower()", 0, "tolower takes 1 argument(s), found 0"},
		{"condition as argument", "contains(a eq 1,'x')", 11, "must be a value"},
		{"missing comma", "contains(a 'x')", 11, "expected , or ) in the arguments of contains"},
		{"trailing slash in path", "a/ eq 1", 1, "navigation path"},
		{"unexpected character", "a eq 'x' & b eq 'y'", 9, "unexpected character '&'"},
		{"non-ASCII outside a string", "a eq é", 5, "unexpected character 'é'"},
		{"decimal point without digits", "a eq 1.", 5, "decimal point"},
		{"minus without digits", "a eq -x", 5, "unexpected character '-'"},
		{"newline is not OData whitespace", "a eq 1\nor b", 6, "unexpected character"},
		{"too deep", strings.Repeat("(", maxFilterDepth+1) + "a" + strings.Repeat(")", maxFilterDepth+1), maxFilterDepth, "nests deeper than"},
		{"too many nots", strings.Repeat("not ", maxFilterDepth+1) + "a", 4 * maxFilterDepth, "nests deeper than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFilter(tt.filter)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseFilter(%q) error = %v, want a *SyntaxError", tt.filter, err)
			}
			if se.Offset != tt.offset || !strings.Contains(se.Msg, tt.message) {
				t.Errorf("ParseFilter(%q) = offset %d %q, want offset %d containing %q", tt.filter, se.Offset, se.Msg, tt.offset, tt.message)
			}
			if se.Input != tt.filter {
				t.Errorf("Input = %q, want the filter", se.Input)
			}
			if want := fmt.Sprintf("offset %d: ", se.Offset); !strings.HasPrefix(se.Error(), want) {
				t.Errorf("Error() = %q, want it to start with %q", se.Error(), want)
			}
		})
	}
}

func TestFormatFilterIsCanonical(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		want   string
	}{
		{"spaces normalised", "telephone1   eq\t'0299'", "telephone1 eq '0299'"},
		{"quotes doubled again", "a eq 'O''Bryan'", "a eq 'O''Bryan'"},
		{"needless parentheses dropped", "((a eq 1)) and (b eq 2)", "a eq 1 and b eq 2"},
		{"needed parentheses kept", "(a eq 1 or b eq 2) and c eq 3", "(a eq 1 or b eq 2) and c eq 3"},
		{"right-nested or keeps its group", "a or (b or c)", "a or (b or c)"},
		{"left-nested or needs none", "(a or b) or c", "a or b or c"},
		{"not of a comparison", "not (a eq 1)", "not (a eq 1)"},
		{"calls without spaces", "contains( fullname , 'x' )", "contains(fullname,'x')"},
		{"literals as written", "a eq -1.50 and b eq null and c eq 0000000A-0000-0000-0000-000000000000", "a eq -1.50 and b eq null and c eq 0000000A-0000-0000-0000-000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			got := FormatFilter(e)
			if got != tt.want {
				t.Errorf("FormatFilter = %q, want %q", got, tt.want)
			}
			again, err := ParseFilter(got)
			if err != nil || !sameExpr(again, e) {
				t.Errorf("ParseFilter(FormatFilter) = %v, %v; want the same tree", again, err)
			}
		})
	}
	if got := FormatFilter(nil); got != "" {
		t.Errorf("FormatFilter(nil) = %q, want empty", got)
	}
}
