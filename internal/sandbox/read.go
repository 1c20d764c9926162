package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Paging limits of Dataverse: at most 5,000 rows a page, and $count stops
// counting at 5,000.
const (
	maxPageSize = 5000
	maxCount    = 5000
)

// queryOptions are the parsed system query options of a request.
type queryOptions struct {
	// sel is nil when every column is returned.
	sel      []*column
	selNames []string
	where    string
	args     []any
	order    []orderTerm
	top      int
	hasTop   bool
	count    bool
	expands  []*expansion
	// page is the page number from $skiptoken (1 when absent).
	page int
}

type orderTerm struct {
	col  *column
	desc bool
}

// expansion is one $expand item.
type expansion struct {
	name   string
	single *navTarget
	coll   *collectionNav
	target *table
	opts   *queryOptions
}

var supportedOptions = map[string]bool{
	"$select": true, "$filter": true, "$orderby": true, "$top": true,
	"$count": true, "$expand": true, "$skiptoken": true,
}

// parseQueryOptions reads the system query options of a collection
// (single false) or single-record (single true) request.
func (s *Sandbox) parseQueryOptions(t *table, values url.Values, single bool) (*queryOptions, error) {
	opts := map[string]string{}
	for name, list := range values {
		if !strings.HasPrefix(name, "$") {
			// Custom query options and parameter aliases are not used by the
			// sandbox; Dataverse ignores unknown custom options too.
			continue
		}
		if !supportedOptions[name] {
			return nil, errQuery("The query parameter %s is not supported", name)
		}
		if len(list) > 1 {
			return nil, errDuplicateOption(name)
		}
		opts[name] = list[0]
	}
	return s.buildOptions(t, opts, single, "t0")
}

func (s *Sandbox) buildOptions(t *table, opts map[string]string, single bool, alias string) (*queryOptions, error) {
	q := &queryOptions{page: 1}
	if single {
		for _, name := range []string{"$filter", "$orderby", "$top", "$count", "$skiptoken"} {
			if _, ok := opts[name]; ok {
				return nil, errQuery("Query option '%s' is not allowed when retrieving a single record; use it on the entity set.", name)
			}
		}
	}
	if v, ok := opts["$select"]; ok {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				return nil, errQuery("The $select query option has an empty item in '%s'.", v)
			}
			c := t.column(name)
			if c == nil || (c.kind == kindLookup && name != c.jsonName()) {
				return nil, errPropertyNotFound(t, name)
			}
			q.sel = append(q.sel, c)
			q.selNames = append(q.selNames, name)
		}
	}
	if v, ok := opts["$filter"]; ok {
		if err := unsupportedFilter(v); err != nil {
			return nil, err
		}
		where, args, err := translateFilter(s.sch(), t, alias, v)
		if err != nil {
			return nil, err
		}
		q.where, q.args = where, args
	}
	if v, ok := opts["$orderby"]; ok {
		for _, item := range strings.Split(v, ",") {
			fields := strings.Fields(item)
			if len(fields) == 0 || len(fields) > 2 {
				return nil, errQuery("Invalid $orderby item '%s'; use 'column' or 'column asc|desc'.", strings.TrimSpace(item))
			}
			c := t.column(fields[0])
			if c == nil || (c.kind == kindLookup && fields[0] != c.jsonName()) {
				return nil, errPropertyNotFound(t, fields[0])
			}
			term := orderTerm{col: c}
			if len(fields) == 2 {
				switch fields[1] {
				case "asc":
				case "desc":
					term.desc = true
				default:
					return nil, errQuery("Invalid $orderby direction '%s' for '%s'; use asc or desc.", fields[1], fields[0])
				}
			}
			q.order = append(q.order, term)
		}
	}
	if v, ok := opts["$top"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return nil, errQuery("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", v)
		}
		q.top, q.hasTop = n, true
	}
	if v, ok := opts["$count"]; ok {
		switch v {
		case "true":
			q.count = true
		case "false":
		default:
			return nil, errQuery("'%s' is not a valid count option; use true or false.", v)
		}
	}
	if v, ok := opts["$skiptoken"]; ok {
		page, err := parseSkipToken(v)
		if err != nil {
			return nil, errQuery("The $skiptoken '%s' is not valid: %v. Use the @odata.nextLink URL as returned.", v, err)
		}
		q.page = page
	}
	if v, ok := opts["$expand"]; ok {
		items, err := splitTopLevel(v, ',')
		if err != nil {
			return nil, errQuery("Invalid $expand '%s': %v", v, err)
		}
		for _, item := range items {
			exp, err := s.parseExpand(t, strings.TrimSpace(item))
			if err != nil {
				return nil, err
			}
			q.expands = append(q.expands, exp)
		}
	}
	return q, nil
}

func (s *Sandbox) parseExpand(t *table, item string) (*expansion, error) {
	name, inner := item, ""
	if i := strings.IndexByte(item, '('); i >= 0 {
		if !strings.HasSuffix(item, ")") {
			return nil, errQuery("Invalid $expand item '%s'.", item)
		}
		name, inner = item[:i], item[i+1:len(item)-1]
	}
	exp := &expansion{name: name}
	if nav, ok := t.navs[name]; ok {
		exp.single = &nav
		exp.target = s.sch().table(nav.target)
	} else if coll, ok := t.collections[name]; ok {
		exp.coll = coll
		exp.target = s.sch().table(coll.child)
	} else {
		return nil, errPropertyNotFound(t, name)
	}
	opts := map[string]string{}
	if inner != "" {
		parts, err := splitTopLevel(inner, ';')
		if err != nil {
			return nil, errQuery("Invalid $expand options '%s': %v", inner, err)
		}
		for _, part := range parts {
			k, v, ok := strings.Cut(part, "=")
			k = strings.TrimSpace(k)
			if !ok || !strings.HasPrefix(k, "$") {
				return nil, errQuery("Invalid $expand option '%s' in '%s'.", part, item)
			}
			switch k {
			case "$select", "$filter", "$orderby", "$top":
			default:
				return nil, errQuery("The query option %s is not supported inside $expand by the sandbox; use $select, $filter, $orderby or $top.", k)
			}
			if _, dup := opts[k]; dup {
				return nil, errDuplicateOption(k)
			}
			opts[k] = v
		}
	}
	q, err := s.buildOptions(exp.target, opts, exp.single != nil, "e0")
	if err != nil {
		return nil, err
	}
	exp.opts = q
	return exp, nil
}

// splitTopLevel splits s on sep outside parentheses and quotes.
func splitTopLevel(s string, sep byte) ([]string, error) {
	var out []string
	depth, start := 0, 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote:
			if c == '\'' {
				inQuote = false
			}
		case c == '\'':
			inQuote = true
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced ')' at position %d", i)
			}
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if depth != 0 || inQuote {
		return nil, fmt.Errorf("unbalanced parentheses or quotes")
	}
	return append(out, s[start:]), nil
}

// skipToken builds the $skiptoken of the page after page, in the shape of
// Dataverse's paging cookie.
func skipToken(t *table, page int, first, last string) string {
	inner := fmt.Sprintf(`<cookie page="%d"><%s last="{%s}" first="{%s}" /></cookie>`, page, t.key, strings.ToUpper(last), strings.ToUpper(first))
	cookie := strings.ReplaceAll(url.QueryEscape(inner), "+", "%20")
	return fmt.Sprintf(`<cookie pagenumber="%d" pagingcookie="%s" istracking="False" />`, page+1, cookie)
}

func parseSkipToken(v string) (int, error) {
	const marker = `pagenumber="`
	i := strings.Index(v, marker)
	if i < 0 {
		return 0, fmt.Errorf("no pagenumber")
	}
	rest := v[i+len(marker):]
	end := strings.IndexByte(rest, '"')
	if end < 0 {
		return 0, fmt.Errorf("unterminated pagenumber")
	}
	n, err := strconv.Atoi(rest[:end])
	if err != nil || n < 1 {
		return 0, fmt.Errorf("bad pagenumber %q", rest[:end])
	}
	return n, nil
}

// orderSQL is the ORDER BY clause; rowid breaks ties so that pages are
// stable.
func orderSQL(q *queryOptions, alias string) string {
	var parts []string
	for _, o := range q.order {
		p := alias + "." + quoteIdent(o.col.name)
		if o.desc {
			p += " DESC"
		}
		parts = append(parts, p)
	}
	parts = append(parts, alias+".rowid")
	return " ORDER BY " + strings.Join(parts, ", ")
}

// fetch runs a query over t with the options' filter and order plus an
// extra condition, returning up to limit rows from offset.
func (s *Sandbox) fetch(ctx context.Context, db dbConn, t *table, q *queryOptions, alias, extra string, extraArgs []any, limit, offset int) ([]record, error) {
	var sb strings.Builder
	sb.WriteString("SELECT ")
	sb.WriteString(selectSQL(t, alias))
	sb.WriteString(" FROM ")
	sb.WriteString(quoteIdent(t.set))
	sb.WriteString(" AS ")
	sb.WriteString(alias)
	var conds []string
	var args []any
	if extra != "" {
		conds = append(conds, extra)
		args = append(args, extraArgs...)
	}
	if q != nil && q.where != "" {
		conds = append(conds, q.where)
		args = append(args, q.args...)
	}
	if len(conds) > 0 {
		sb.WriteString(" WHERE ")
		sb.WriteString(strings.Join(conds, " AND "))
	}
	if q != nil {
		sb.WriteString(orderSQL(q, alias))
	} else {
		sb.WriteString(" ORDER BY " + alias + ".rowid")
	}
	sb.WriteString(" LIMIT ? OFFSET ?")
	args = append(args, limit, offset)
	rows, err := db.query(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("sandbox: querying %s: %w", t.set, err)
	}
	return scanRecords(t, rows)
}

func (s *Sandbox) countRows(ctx context.Context, db dbConn, t *table, q *queryOptions) (int, error) {
	query := fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s AS t0", quoteIdent(t.set))
	if q.where != "" {
		query += " WHERE " + q.where
	}
	query += fmt.Sprintf(" LIMIT %d)", maxCount+1)
	rows, err := db.query(ctx, query, q.args...)
	if err != nil {
		return 0, fmt.Errorf("sandbox: counting %s: %w", t.set, err)
	}
	defer rows.Close()
	n := 0
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

// getByID loads one record by primary key; nil when it does not exist.
func (s *Sandbox) getByID(ctx context.Context, db dbConn, t *table, id string) (record, error) {
	rows, err := db.query(ctx, byKeySQL(t), id)
	if err != nil {
		return nil, fmt.Errorf("sandbox: reading %s: %w", t.set, err)
	}
	recs, err := scanRecords(t, rows)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	return recs[0], nil
}

// getByAltKey loads one record by its alternate key; nil when missing.
func (s *Sandbox) getByAltKey(ctx context.Context, db dbConn, t *table, value string) (record, error) {
	rows, err := db.query(ctx, byAltKeySQL(t), value)
	if err != nil {
		return nil, fmt.Errorf("sandbox: reading %s: %w", t.set, err)
	}
	recs, err := scanRecords(t, rows)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	return recs[0], nil
}

func byKeySQL(t *table) string {
	return fmt.Sprintf("SELECT %s FROM %s AS t0 WHERE t0.%s = ?", selectSQL(t, "t0"), quoteIdent(t.set), quoteIdent(t.key))
}

func byAltKeySQL(t *table) string {
	return fmt.Sprintf("SELECT %s FROM %s AS t0 WHERE t0.%s = ? COLLATE %s", selectSQL(t, "t0"), quoteIdent(t.set), quoteIdent(t.altKey.name), collationCI)
}

// lookupRecord resolves a bindRef to the stored record, or nil.
func (s *Sandbox) lookupRecord(ctx context.Context, db dbConn, ref bindRef) (record, error) {
	if ref.keyCol != nil {
		return s.getByAltKey(ctx, db, ref.target, ref.keyValue)
	}
	return s.getByID(ctx, db, ref.target, ref.id)
}

// orderedObject is a JSON object that keeps its keys in insertion order,
// the way Dataverse lays out a record.
type orderedObject []field

type field struct {
	key   string
	value any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshalJSON(f.key)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := marshalJSON(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshalJSON encodes v without escaping <, > and &, as Dataverse writes
// them literally.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Annotation names Dataverse adds when Prefer odata.include-annotations
// asks for them.
const (
	annFormatted   = "OData.Community.Display.V1.FormattedValue"
	annLogicalName = "Microsoft.Dynamics.CRM.lookuplogicalname"
	annNavProperty = "Microsoft.Dynamics.CRM.associatednavigationproperty"
)

// annotationFilter decides which annotations a response includes, from
// the odata.include-annotations preference ("*", "ns.*", names, -names).
type annotationFilter struct {
	patterns []string
}

func (a annotationFilter) include(term string) bool {
	match := func(p string) bool {
		return p == "*" || strings.EqualFold(p, term) || (strings.HasSuffix(p, ".*") && strings.HasPrefix(strings.ToLower(term), strings.ToLower(strings.TrimSuffix(p, "*"))))
	}
	included := false
	for _, p := range a.patterns {
		if strings.HasPrefix(p, "-") {
			if match(p[1:]) {
				return false
			}
			continue
		}
		if match(p) {
			included = true
		}
	}
	return included
}

// renderer turns records into response objects for one request.
type renderer struct {
	s     *Sandbox
	ctx   context.Context
	db    dbConn
	ann   annotationFilter
	names map[lookupRef]string
}

func (r *renderer) name(ref lookupRef) string {
	if n, ok := r.names[ref]; ok {
		return n
	}
	name := ""
	if t := r.s.sch().table(ref.Entity); t != nil && t.primaryName != "" {
		if rec, err := r.s.getByID(r.ctx, r.db, t, ref.ID); err == nil && rec != nil {
			name, _ = rec[t.primaryName].(string)
		}
	}
	r.names[ref] = name
	return name
}

// render lays out rec as Dataverse does: the ETag, the selected columns
// (annotations before their value), expansions, and the key.
func (r *renderer) render(t *table, rec record, q *queryOptions) (orderedObject, error) {
	var obj orderedObject
	if t.column("versionnumber") != nil {
		obj = append(obj, field{"@odata.etag", rec.etag()})
	}
	cols := t.columns
	if q != nil && q.sel != nil {
		cols = q.sel
	}
	keyWritten := false
	for _, c := range cols {
		if c.name == t.key {
			keyWritten = true
		}
		obj = append(obj, r.column(t, c, rec)...)
	}
	if q != nil {
		for _, exp := range q.expands {
			v, err := r.expand(t, rec, exp)
			if err != nil {
				return nil, err
			}
			obj = append(obj, field{exp.name, v})
		}
	}
	if !keyWritten {
		obj = append(obj, field{t.key, rec[t.key]})
	}
	return obj, nil
}

func (r *renderer) column(t *table, c *column, rec record) []field {
	v := rec[c.name]
	var out []field
	switch c.kind {
	case kindLookup:
		ref, ok := v.(lookupRef)
		if !ok {
			return []field{{c.jsonName(), nil}}
		}
		if r.ann.include(annFormatted) {
			out = append(out, field{c.jsonName() + "@" + annFormatted, r.name(ref)})
		}
		if r.ann.include(annNavProperty) {
			out = append(out, field{c.jsonName() + "@" + annNavProperty, c.nav[ref.Entity]})
		}
		if r.ann.include(annLogicalName) {
			out = append(out, field{c.jsonName() + "@" + annLogicalName, ref.Entity})
		}
		return append(out, field{c.jsonName(), ref.ID})
	case kindState, kindStatus, kindPicklist, kindBool:
		if v != nil && r.ann.include(annFormatted) {
			if label := formattedLabel(t, c, v); label != "" {
				out = append(out, field{c.name + "@" + annFormatted, label})
			}
		}
	}
	return append(out, field{c.name, v})
}

func formattedLabel(t *table, c *column, v any) string {
	switch c.kind {
	case kindState:
		return t.state.stateLabels[v.(int64)]
	case kindStatus:
		return t.state.statusLabels[v.(int64)]
	case kindPicklist:
		return c.options[v.(int64)]
	case kindBool:
		b := v.(bool)
		switch c.name {
		case "donotphone":
			if b {
				return "Do Not Allow"
			}
			return "Allow"
		case "directioncode":
			if b {
				return "Outgoing"
			}
			return "Incoming"
		}
		if b {
			return "Yes"
		}
		return "No"
	}
	return ""
}

func (r *renderer) expand(t *table, rec record, exp *expansion) (any, error) {
	if exp.single != nil {
		ref, ok := rec[exp.single.col.name].(lookupRef)
		if !ok || ref.Entity != exp.single.target {
			return nil, nil
		}
		related, err := r.s.getByID(r.ctx, r.db, exp.target, ref.ID)
		if err != nil || related == nil {
			return nil, err
		}
		return r.render(exp.target, related, exp.opts)
	}
	limit := maxPageSize
	if exp.opts.hasTop {
		limit = exp.opts.top
	}
	children, err := r.s.fetch(r.ctx, r.db, exp.target, exp.opts, "e0",
		"e0."+quoteIdent(exp.coll.lookup.name)+" = ?", []any{rec.id(t)}, limit, 0)
	if err != nil {
		return nil, err
	}
	list := make([]orderedObject, 0, len(children))
	for _, child := range children {
		obj, err := r.render(exp.target, child, exp.opts)
		if err != nil {
			return nil, err
		}
		list = append(list, obj)
	}
	return list, nil
}

// contextSelect is the "(a,b,nav(c))" part of @odata.context.
func contextSelect(q *queryOptions) string {
	if q == nil || (q.sel == nil && len(q.expands) == 0) {
		return ""
	}
	parts := append([]string{}, q.selNames...)
	for _, exp := range q.expands {
		parts = append(parts, exp.name+contextSelect(exp.opts))
	}
	if len(parts) == 0 {
		return ""
	}
	return "(" + strings.Join(parts, ",") + ")"
}

// unquotedDateTime finds a date or date-time literal outside quotes.
var unquotedDateTime = regexp.MustCompile(`(^|[\s(,])\d{4}-\d{2}-\d{2}([T\s)]|$)`)

// unsupportedFilter refuses, in Dataverse's error shape but with 501 and a
// message naming the gap, what Dataverse's $filter takes and the sandbox's
// does not: query functions (Microsoft.Dynamics.CRM.In, ...) and date-time
// literals.
func unsupportedFilter(filter string) error {
	var outside strings.Builder
	inQuote := false
	for i := 0; i < len(filter); i++ {
		c := filter[i]
		if c == '\'' {
			inQuote = !inQuote
			continue
		}
		if !inQuote {
			outside.WriteByte(c)
		}
	}
	text := outside.String()
	switch {
	case strings.Contains(text, "Microsoft.Dynamics.CRM."):
		return newError(http.StatusNotImplemented, codeQuery, "The sandbox does not support Dataverse query functions (Microsoft.Dynamics.CRM.In, ...) in $filter; use eq comparisons joined with or (docs/sandbox.md).")
	case unquotedDateTime.MatchString(text):
		return newError(http.StatusNotImplemented, codeQuery, "The sandbox does not support date-time literals in $filter (docs/sandbox.md).")
	}
	return nil
}
