package odata

import (
	"fmt"
	"slices"
	"strings"
)

// A placeholder whose value comes in several writings (a phone number as
// (02) 9999 0000, 0299990000, +61 2 9999 0000...) expands where it
// stands: the comparison that holds it becomes a parenthesised or of one
// comparison per writing,
//
//	telephone1 eq '{{t}}'         (telephone1 eq 'w1' or telephone1 eq 'w2' ...)
//	contains(telephone1,'{{t}}')  (contains(telephone1,'w1') or contains(telephone1,'w2') ...)
//	$search={{t}}                 $search=(w1 OR w2 ...)
//
// A comparison is one node of the filter's syntax tree, so a parenthesised
// or of copies of it stands wherever it stood and means "any of these":
// the tree around it keeps its shape. The structural proof still holds
// each writing to one literal: the expected token sequence repeats the
// comparison's tokens once per writing, with "or" between and parentheses
// around, and Render compares its output with that.

// variantSite is how one placeholder occurrence expands.
type variantSite struct {
	expand bool
	// prefixLen and suffixLen are the lengths of the comparison's text
	// before and after the placeholder, at the end of the segment before it
	// and the start of the segment after it (telephone1 eq ' and ').
	prefixLen, suffixLen int
	// sep joins the copies: " or " in $filter, " OR " in $search, written
	// with the template's own kind of space.
	sep string
}

// shapeGroup is a run of a filter or search shape's tokens that repeats
// once per writing of placeholder ph.
type shapeGroup struct {
	start, end int
	ph         int
}

// MaxQueryBytes caps a query rendered with variants. Dataverse accepts URLs
// up to 32,768 characters
// (https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors#maximum-url-length);
// the cap leaves room for the organisation URL, the Web API path and the
// entity set, and keeps CIF's own request and a browser's address far
// inside it.
const MaxQueryBytes = 8192

// ParseTemplateVariants compiles a template like ParseTemplate, where each
// placeholder named in variants takes several writings at render time (see
// RenderVariants). Every occurrence of such a placeholder must be the whole
// of a $filter string literal compared with eq, or the second argument of
// contains, startswith or endswith, against a column (or tolower/toupper of
// one); or a whole $search term. Anything else is a *TemplateError at the
// placeholder's offset saying why.
func ParseTemplateVariants(query string, variants []string) (*Template, error) {
	t, err := ParseTemplate(query)
	if err != nil || len(variants) == 0 {
		return t, err
	}
	t.sites = make([]variantSite, len(t.placeholders))
	base := 0
	if t.question {
		base = 1
	}
	neutral := []byte(query)
	for _, ph := range t.placeholders {
		for i := ph.Offset; i < ph.Offset+len(ph.Name)+4; i++ {
			neutral[i] = neutralFill
		}
	}
	body, neutralBody := query[base:], string(neutral[base:])
	// The words an expansion adds are spaced as the template spaces its own.
	space := spaceLike(query)
	phIndex := 0
	param := 0
	for _, p := range splitQuery(body) {
		valStart := base + p.valStart
		end := valStart + len(p.value)
		var mine []span
		first := phIndex
		for phIndex < len(t.placeholders) && t.placeholders[phIndex].Offset < end {
			ph := t.placeholders[phIndex]
			mine = append(mine, span{name: ph.Name, start: ph.Offset, end: ph.Offset + len(ph.Name) + 4})
			phIndex++
		}
		shape := &t.shape[param]
		param++
		if shape.kind == paramFixed {
			continue
		}
		rawValue := neutralBody[p.valStart : p.valStart+len(p.value)]
		decoded, serr := decodeComponent(rawValue)
		if serr != nil {
			return nil, &TemplateError{Offset: valStart + serr.Offset, Msg: serr.Msg}
		}
		pv := paramValue{decoded: decoded, raw: rawValue, start: valStart, offsets: decodedOffsets(rawValue), spans: mine}
		for k, s := range mine {
			if !slices.Contains(variants, s.name) {
				continue
			}
			var g shapeGroup
			var site variantSite
			var terr *TemplateError
			if shape.kind == paramFilter {
				g, site, terr = pv.filterSite(s, space)
			} else {
				g, site, terr = pv.searchSite(s, space)
			}
			if terr != nil {
				return nil, terr
			}
			g.ph = first + k
			shape.groups = append(shape.groups, g)
			t.sites[first+k] = site
		}
		slices.SortFunc(shape.groups, func(a, b shapeGroup) int { return a.start - b.start })
	}
	return t, nil
}

// spaceLike returns how a template writes a space.
func spaceLike(raw string) string {
	switch {
	case strings.Contains(raw, " "):
		return " "
	case strings.Contains(raw, "%20"):
		return "%20"
	case strings.Contains(raw, "+"):
		return "+"
	}
	return "%20"
}

// filterSite finds the comparison around placeholder s in a $filter value.
func (pv paramValue) filterSite(s span, sp string) (shapeGroup, variantSite, *TemplateError) {
	fail := func(msg, fix string) (shapeGroup, variantSite, *TemplateError) {
		return shapeGroup{}, variantSite{}, &TemplateError{Offset: s.start, Msg: fmt.Sprintf("{{%s}} (format variants) %s", s.name, msg), Fix: fix}
	}
	example := fmt.Sprintf("write telephone1 eq '{{%s}}' or contains(telephone1,'{{%s}}')", s.name, s.name)
	var toks []filterToken
	for i := 0; ; {
		tok, msg := lexFilter(pv.decoded, i)
		if msg != "" || tok.kind == tokEOF {
			break
		}
		toks = append(toks, tok)
		i = tok.end
	}
	ds, de := pv.decodedSpan(s)
	k := slices.IndexFunc(toks, func(t filterToken) bool { return t.kind == tokString && t.start < ds && ds < t.end })
	if k < 0 {
		return fail("is outside a string literal", example)
	}
	if toks[k].start != ds-1 || toks[k].end != de+1 {
		return fail("shares its string literal with other text: each writing must be the whole literal",
			fmt.Sprintf("make the literal '{{%s}}' alone", s.name))
	}
	tree, err := ParseFilter(pv.decoded)
	if err != nil {
		return fail("is in a filter that does not parse: "+err.Error(), "")
	}
	lit, parent := findLiteral(tree, nil, toks[k].start)
	if lit == nil {
		return fail("is not a value of the filter", example)
	}
	// column reports an operand the writings can be compared with.
	column := func(e Expr) bool {
		if c, ok := e.(*Call); ok && (c.Func == "tolower" || c.Func == "toupper") {
			e = c.Args[0]
		}
		_, ok := e.(*Property)
		return ok
	}
	tokenAt := func(offset int) int {
		return slices.IndexFunc(toks, func(t filterToken) bool { return t.start == offset })
	}
	var start, end int
	switch p := parent.(type) {
	case *Binary:
		other := p.Left
		if p.Left == Expr(lit) {
			other = p.Right
		}
		switch {
		case p.Op == OpAnd || p.Op == OpOr:
			return fail("is a condition on its own", example)
		case p.Op != OpEq:
			return fail(fmt.Sprintf("is compared with %s: the writings can only be joined for eq (any of them equal), contains, startswith and endswith", p.Op), example)
		case !column(other):
			return fail("is not compared with a column", example)
		}
		op := tokenAt(p.Offset)
		o := tokenAt(other.Pos())
		if p.Right == Expr(lit) {
			start, end = o, k+1
			if op != k-1 || operandEnd(toks, o) != op {
				return fail("has parentheses inside its comparison", example)
			}
		} else {
			start, end = k, operandEnd(toks, o)
			if op != k+1 || o != op+1 {
				return fail("has parentheses inside its comparison", example)
			}
		}
	case *Call:
		switch {
		case p.Func != "contains" && p.Func != "startswith" && p.Func != "endswith":
			return fail("is an argument of "+p.Func+", not compared with a column", example)
		case p.Args[1] != Expr(lit) || !column(p.Args[0]):
			return fail(fmt.Sprintf("must be the second argument of %s, with a column first: %s(telephone1,'{{%s}}')", p.Func, p.Func, s.name), example)
		case k+1 >= len(toks) || toks[k+1].kind != tokRParen || toks[k-1].kind != tokComma:
			return fail("has parentheses inside its comparison", example)
		}
		start, end = tokenAt(p.Offset), k+2
	default:
		return fail("is not compared with a column", example)
	}
	site := variantSite{
		expand:    true,
		prefixLen: s.start - pv.sourceOffset(toks[start].start),
		suffixLen: pv.sourceOffset(toks[end-1].end) - s.end,
	}
	site.sep = sp + "or" + sp
	return shapeGroup{start: start, end: end}, site, nil
}

// operandEnd returns the index of the token after the operand that starts
// at token i: a name, or a function call with its parentheses.
func operandEnd(toks []filterToken, i int) int {
	if i < 0 || i >= len(toks) {
		return -1
	}
	if toks[i].kind != tokIdent || i+1 >= len(toks) || toks[i+1].kind != tokLParen {
		return i + 1
	}
	depth := 0
	for j := i + 1; j < len(toks); j++ {
		switch toks[j].kind {
		case tokLParen:
			depth++
		case tokRParen:
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}

// findLiteral finds the literal at offset in the tree, and its parent.
func findLiteral(e, parent Expr, offset int) (*Literal, Expr) {
	switch n := e.(type) {
	case *Literal:
		if n.Offset == offset {
			return n, parent
		}
	case *Binary:
		if l, p := findLiteral(n.Left, n, offset); l != nil {
			return l, p
		}
		return findLiteral(n.Right, n, offset)
	case *Not:
		return findLiteral(n.Operand, n, offset)
	case *Call:
		for _, a := range n.Args {
			if l, p := findLiteral(a, n, offset); l != nil {
				return l, p
			}
		}
	}
	return nil, nil
}

// searchSite makes a $search placeholder term a parenthesised OR of its
// writings. Placeholders in $search are always whole terms (ParseTemplate
// checks it), so any of them can expand.
func (pv paramValue) searchSite(s span, sp string) (shapeGroup, variantSite, *TemplateError) {
	ds, _ := pv.decodedSpan(s)
	k := 0
	for i := 0; ; k++ {
		tok, _ := lexSearch(pv.decoded, i)
		if tok.kind == searchEOF {
			return shapeGroup{}, variantSite{}, &TemplateError{Offset: s.start, Msg: fmt.Sprintf("{{%s}} is not a $search term", s.name)}
		}
		if tok.start == ds {
			break
		}
		i = tok.end
	}
	return shapeGroup{start: k, end: k + 1}, variantSite{expand: true, sep: sp + "OR" + sp}, nil
}

// RenderVariants fills the template like Render, where variants gives the
// writings of each placeholder compiled as one (ParseTemplateVariants);
// value gives the others. Each such placeholder's comparison (or $search
// term) is written once per writing, joined by or (OR in $search) in
// parentheses; a placeholder with no writings is written once, empty.
//
// When the query would be longer than maxBytes, the last (least common)
// writings are left out, one at a time for all placeholders at once, until
// it fits or one is left; kept says how many writings a placeholder could
// have at most, so the caller can tell what was cut.
func (t *Template) RenderVariants(value func(name string) string, variants func(name string) []string, maxBytes int) (query string, kept int, err error) {
	if len(t.sites) == 0 {
		q, err := t.Render(value)
		return q, 1, err
	}
	var lists [16][]string
	all := lists[:0]
	if len(t.placeholders) > len(lists) {
		all = make([][]string, 0, len(t.placeholders))
	}
	longest := 1
	for i, ph := range t.placeholders {
		var vs []string
		if t.sites[i].expand {
			vs = variants(ph.Name)
			longest = max(longest, len(vs))
		}
		all = append(all, vs)
	}
	for limit := longest; ; limit-- {
		q, err := t.render(value, all, limit)
		if err != nil || len(q) <= maxBytes || limit == 1 {
			return q, limit, err
		}
	}
}

// render writes the template with at most limit writings per expanded
// placeholder, then proves the structure.
func (t *Template) render(value func(name string) string, all [][]string, limit int) (string, error) {
	var counts [16]int
	n := counts[:0]
	if len(t.placeholders) > len(counts) {
		n = make([]int, 0, len(t.placeholders))
	}
	// Size the output once: each writing costs its comparison's text, the
	// separator and the value, which escaping may grow threefold.
	size := len(t.source)
	for i, vs := range all {
		site := t.sites[i]
		for _, v := range vs[:min(len(vs), limit)] {
			size += site.prefixLen + site.suffixLen + len(site.sep) + 3*len(v)
		}
	}
	var b strings.Builder
	b.Grow(size)
	for i, ph := range t.placeholders {
		seg := t.segments[i]
		if i > 0 && t.sites[i-1].expand {
			seg = seg[t.sites[i-1].suffixLen:]
		}
		site := t.sites[i]
		if !site.expand {
			b.WriteString(seg)
			t.writeValue(&b, ph.Context, value(ph.Name))
			n = append(n, 1)
			continue
		}
		prefix := seg[len(seg)-site.prefixLen:]
		suffix := t.segments[i+1][:site.suffixLen]
		b.WriteString(seg[:len(seg)-site.prefixLen])
		vs := all[i]
		if len(vs) == 0 {
			vs = []string{""}
		}
		vs = vs[:min(len(vs), limit)]
		b.WriteByte('(')
		for j, v := range vs {
			if j > 0 {
				b.WriteString(site.sep)
			}
			b.WriteString(prefix)
			t.writeValue(&b, ph.Context, v)
			b.WriteString(suffix)
		}
		b.WriteByte(')')
		n = append(n, len(vs))
	}
	last := t.segments[len(t.placeholders)]
	if k := len(t.placeholders); k > 0 && t.sites[k-1].expand {
		last = last[t.sites[k-1].suffixLen:]
	}
	b.WriteString(last)
	out := b.String()
	if err := t.checkStructureCounts(out, n); err != nil {
		return "", fmt.Errorf("odata: refusing rendered query for template %q: %w (this is a bug in ctibridge's escaping)", t.source, err)
	}
	return out, nil
}

func (t *Template) writeValue(b *strings.Builder, ctx Context, v string) {
	if ctx == ContextSearch {
		writeSearchTerm(b, v)
	} else {
		writeLiteralText(b, v)
	}
}

// The tokens an expansion adds, as the proof expects them.
var (
	filterOpen  = shapeToken{kind: uint8(tokLParen), text: "("}
	filterClose = shapeToken{kind: uint8(tokRParen), text: ")"}
	filterOr    = shapeToken{kind: uint8(tokIdent), text: "or"}
	searchOpen  = shapeToken{kind: uint8(searchOperator), text: "("}
	searchClose = shapeToken{kind: uint8(searchOperator), text: ")"}
	searchOr    = shapeToken{kind: uint8(searchKeyword), text: "OR"}
)

// expectTokens calls expect with the token sequence a parameter's
// rendering must have: its shape, each group repeated counts[group.ph]
// times with or between and parentheses around.
func expectTokens(p *paramShape, counts []int, open, sep, close *shapeToken, expect func(*shapeToken) error) error {
	k := 0
	for _, g := range p.groups {
		for ; k < g.start; k++ {
			if err := expect(&p.tokens[k]); err != nil {
				return err
			}
		}
		if err := expect(open); err != nil {
			return err
		}
		for r := 0; r < counts[g.ph]; r++ {
			if r > 0 {
				if err := expect(sep); err != nil {
					return err
				}
			}
			for j := g.start; j < g.end; j++ {
				if err := expect(&p.tokens[j]); err != nil {
					return err
				}
			}
		}
		if err := expect(close); err != nil {
			return err
		}
		k = g.end
	}
	for ; k < len(p.tokens); k++ {
		if err := expect(&p.tokens[k]); err != nil {
			return err
		}
	}
	return nil
}

// matchExpanded checks a rendered $filter or $search value whose shape has
// groups against the expanded token sequence.
func matchExpanded(value string, p *paramShape, counts []int) error {
	c := tokenCursor{value: value, search: p.kind == paramSearch}
	open, sep, close := &filterOpen, &filterOr, &filterClose
	if c.search {
		open, sep, close = &searchOpen, &searchOr, &searchClose
	}
	if err := expectTokens(p, counts, open, sep, close, c.expect); err != nil {
		return err
	}
	return c.end()
}

// tokenCursor reads a rendered value token by token for matchExpanded.
type tokenCursor struct {
	value  string
	search bool
	i, k   int
}

// next lexes the next token: its kind, span and any lexing problem.
func (c *tokenCursor) next() (kind uint8, start, end int, msg string) {
	if c.search {
		tok, msg := lexSearch(c.value, c.i)
		return uint8(tok.kind), tok.start, tok.end, msg
	}
	tok, msg := lexFilter(c.value, c.i)
	return uint8(tok.kind), tok.start, tok.end, msg
}

func (c *tokenCursor) param() string {
	if c.search {
		return "$search"
	}
	return "$filter"
}

func (c *tokenCursor) expect(w *shapeToken) error {
	kind, start, end, msg := c.next()
	switch {
	case msg != "":
		return fmt.Errorf("%s does not lex at offset %d: %s", c.param(), start, msg)
	case kind == 0: // tokEOF and searchEOF
		return fmt.Errorf("%s ends before token %d (%q)", c.param(), c.k, w.text)
	}
	var same bool
	switch {
	case w.hole && c.search:
		same = kind == uint8(searchWord) || kind == uint8(searchPhrase)
	case w.hole:
		same = kind == w.kind
	default:
		same = kind == w.kind && c.value[start:end] == w.text
	}
	if !same {
		return fmt.Errorf("%s token %d differs from the expected %q", c.param(), c.k, w.text)
	}
	c.i, c.k = end, c.k+1
	return nil
}

// end checks that nothing follows the expected tokens.
func (c *tokenCursor) end() error {
	kind, start, _, msg := c.next()
	switch {
	case msg != "":
		return fmt.Errorf("%s does not lex at offset %d: %s", c.param(), start, msg)
	case kind != 0:
		return fmt.Errorf("%s has more tokens than the expected %d", c.param(), c.k)
	}
	return nil
}
