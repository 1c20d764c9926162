package odata

// The $filter syntax tree. The query-template compiler uses it to prove that
// a rendered filter has exactly the template's structure, and the sandbox CRM
// evaluates it. Nodes are plain values so both sides can walk them with a
// type switch.

// Expr is a node of a parsed $filter expression: one of *Binary, *Not,
// *Property, *Literal, *Call.
type Expr interface {
	// Pos is the byte offset of the node in the filter text, for errors.
	Pos() int
}

// BinaryOp is a comparison or logical operator.
type BinaryOp string

// The operators of the $filter subset ctibridge understands.
const (
	OpEq  BinaryOp = "eq"
	OpNe  BinaryOp = "ne"
	OpGt  BinaryOp = "gt"
	OpGe  BinaryOp = "ge"
	OpLt  BinaryOp = "lt"
	OpLe  BinaryOp = "le"
	OpAnd BinaryOp = "and"
	OpOr  BinaryOp = "or"
)

// Binary is "Left Op Right".
type Binary struct {
	Op          BinaryOp
	Left, Right Expr
	Offset      int
}

// Not is "not Operand".
type Not struct {
	Operand Expr
	Offset  int
}

// Property names a column, e.g. telephone1. Navigation paths
// (parentcustomerid_account/name) keep their slash.
type Property struct {
	Name   string
	Offset int
}

// LiteralKind tells how a literal was written.
type LiteralKind int

// Literal kinds.
const (
	LiteralString LiteralKind = iota // 'text' (Value holds the unescaped text)
	LiteralNumber                    // 12, -3.5 (Value holds the text as written)
	LiteralBool                      // true, false
	LiteralNull                      // null
	LiteralGUID                      // 00000000-0000-0000-0000-000000000000
)

// Literal is a constant. Value holds the decoded string form: for strings
// the text with doubled quotes undone, for numbers the digits as written.
type Literal struct {
	Kind   LiteralKind
	Value  string
	Offset int
}

// Call is a function call: contains(name,'x'), startswith, endswith, tolower, toupper.
type Call struct {
	Func   string
	Args   []Expr
	Offset int
}

// Pos implements Expr.
func (e *Binary) Pos() int { return e.Offset }

// Pos implements Expr.
func (e *Not) Pos() int { return e.Offset }

// Pos implements Expr.
func (e *Property) Pos() int { return e.Offset }

// Pos implements Expr.
func (e *Literal) Pos() int { return e.Offset }

// Pos implements Expr.
func (e *Call) Pos() int { return e.Offset }
