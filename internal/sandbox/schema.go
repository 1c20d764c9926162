package sandbox

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// kind is the Dataverse attribute type of a column. It decides how JSON
// payload values are read, how $filter literals are checked and how values
// are written back out.
type kind int

const (
	kindString kind = iota
	kindMemo
	kindBool
	kindInt
	kindBigInt
	kindDecimal
	kindDateTime
	kindGUID
	kindLookup
	kindPicklist
	kindState
	kindStatus
)

// edmType is the OData primitive type name Dataverse uses in its error
// messages for a column of this kind.
func (k kind) edmType() string {
	switch k {
	case kindString, kindMemo:
		return "Edm.String"
	case kindBool:
		return "Edm.Boolean"
	case kindInt, kindPicklist, kindState, kindStatus:
		return "Edm.Int32"
	case kindBigInt:
		return "Edm.Int64"
	case kindDecimal:
		return "Edm.Decimal"
	case kindDateTime:
		return "Edm.DateTimeOffset"
	case kindGUID, kindLookup:
		return "Edm.Guid"
	}
	return "Edm.Untyped"
}

// column is one attribute of a table.
type column struct {
	name string // logical name; for lookups the attribute name (parentcustomerid)
	kind kind
	// maxLen bounds string columns (Dataverse MaxLength).
	maxLen int
	// minInt and maxInt bound whole-number columns.
	minInt, maxInt int64
	// options lists the valid values of a picklist.
	options map[int64]string
	// nav maps a lookup's target table (logical name) to the single-valued
	// navigation property used to bind or expand it.
	nav map[string]string
	// creatable and updatable mirror IsValidForCreate and IsValidForUpdate.
	// A value sent for a column that is not valid for the operation is
	// ignored, as Dataverse ignores it.
	creatable, updatable bool
	// system columns (createdon, versionnumber...) are set by the sandbox.
	system bool
	// altKey marks the alternate-key column: unique, case-insensitive.
	altKey bool
	// custom columns were added by Options.ExtraColumns or the metadata API.
	custom bool
}

// jsonName is the property name the Web API uses for the column: lookups
// appear as _name_value.
func (c *column) jsonName() string {
	if c.kind == kindLookup {
		return "_" + c.name + "_value"
	}
	return c.name
}

// sqlType is the SQLite declaration of the column. Text columns compare
// with the case-insensitive sandbox collation, as Dataverse's SQL Server
// collation does.
func (c *column) sqlType() string {
	switch c.kind {
	case kindString, kindMemo:
		return "TEXT COLLATE " + collationCI
	case kindBool, kindInt, kindBigInt, kindPicklist, kindState, kindStatus:
		return "INTEGER"
	case kindDecimal:
		return "REAL"
	case kindDateTime, kindGUID, kindLookup:
		return "TEXT"
	}
	return "TEXT"
}

// navTarget is a single-valued navigation property resolved to its lookup
// column and target table.
type navTarget struct {
	col    *column
	target string // logical name of the target table
}

// collectionNav is a collection-valued navigation property such as
// phonecall_activity_parties: rows of child whose lookup column points at
// the parent.
type collectionNav struct {
	name   string
	child  string  // logical name of the child table
	lookup *column // column of the child that points at the parent
}

// stateModel lists the valid statuscode values of each statecode and the
// default status a state change picks when none is given.
type stateModel struct {
	statuses      map[int64][]int64 // statecode → valid statuscodes
	defaultStatus map[int64]int64
	stateLabels   map[int64]string
	statusLabels  map[int64]string
	// enumName is the name Dataverse gives the state enumeration in its
	// error messages (PhoneCallState).
	enumName string
	// closedReadOnly marks activities: a completed or canceled record
	// accepts no change except reopening it.
	closedReadOnly bool
}

func (m *stateModel) stateOf(status int64) (int64, bool) {
	for state, list := range m.statuses {
		for _, s := range list {
			if s == status {
				return state, true
			}
		}
	}
	return 0, false
}

// table is the metadata of one entity set.
type table struct {
	logical     string // contact
	set         string // contacts
	key         string // contactid
	primaryName string // fullname
	columns     []*column
	byName      map[string]*column // by logical name and by JSON name
	navs        map[string]navTarget
	collections map[string]*collectionNav
	state       *stateModel
	// computeFullName marks tables whose fullname is "firstname lastname".
	computeFullName bool
	// userOwned tables get ownerid and the owner activity party.
	userOwned bool
	// activity tables keep system activity parties for owner and regarding.
	activity bool
	// readOnlyViaAPI tables (activityparty) cannot be written directly.
	readOnlyViaAPI bool
	altKey         *column
	// partyLists are the activity's party list columns (from, to): they
	// exist only in the metadata, the parties themselves are activityparty
	// rows.
	partyLists []*column
}

func (t *table) column(name string) *column { return t.byName[name] }

func (t *table) keyColumn() *column { return t.byName[t.key] }

// qualifiedType is the type name Dataverse uses in messages.
func (t *table) qualifiedType() string { return "Microsoft.Dynamics.CRM." + t.logical }

// schema is the set of tables of one sandbox.
type schema struct {
	tables []*table
	bySet  map[string]*table
	byName map[string]*table
	altKey string
}

func (s *schema) table(logical string) *table { return s.byName[logical] }

var customColumnName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,99}$`)

// extraColumn is a custom column requested through Options.ExtraColumns:
// "name" for a string, or "name:type" with type one of string, memo, bool,
// int, decimal, datetime, guid, or "name:choice:1=Sale,2=No sale" for a
// choice (picklist) with its options.
type extraColumn struct {
	name    string
	kind    kind
	options map[int64]string // choice options
	maxLen  int              // string length; 0 means the default
}

// addedColumn is a column or alternate key created through the metadata
// API (POST EntityDefinitions(...)/Attributes or /Keys) on one table.
type addedColumn struct {
	table string
	col   extraColumn
	// key marks an alternate key on col (an existing column) rather than a
	// new column.
	key bool
}

// parseChoiceOptions reads "1=Sale,2=No sale".
func parseChoiceOptions(text string) (map[int64]string, error) {
	out := map[int64]string{}
	for _, item := range strings.Split(text, ",") {
		v, label, ok := strings.Cut(strings.TrimSpace(item), "=")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if !ok || err != nil || strings.TrimSpace(label) == "" {
			return nil, fmt.Errorf("option %q is not value=Label", item)
		}
		out[n] = strings.TrimSpace(label)
	}
	return out, nil
}

func parseExtraColumns(specs []string, altKey string) ([]extraColumn, error) {
	var out []extraColumn
	seen := map[string]bool{}
	add := func(spec string, where string) error {
		name, typ, _ := strings.Cut(strings.TrimSpace(spec), ":")
		typ, optionText, _ := strings.Cut(typ, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		if !customColumnName.MatchString(name) {
			return fmt.Errorf("%s: %q is not a valid column logical name (use lower-case letters, digits and underscores, starting with a letter, e.g. new_wrapcode)", where, spec)
		}
		k := kindString
		switch strings.ToLower(strings.TrimSpace(typ)) {
		case "", "string":
		case "memo":
			k = kindMemo
		case "bool", "boolean":
			k = kindBool
		case "int", "integer":
			k = kindInt
		case "decimal":
			k = kindDecimal
		case "datetime":
			k = kindDateTime
		case "guid":
			k = kindGUID
		case "choice", "picklist":
			k = kindPicklist
		default:
			return fmt.Errorf("%s: column %q has unknown type %q (use string, memo, bool, int, decimal, datetime, guid or choice:1=Label,2=Label)", where, name, typ)
		}
		var options map[int64]string
		if k == kindPicklist {
			var err error
			if options, err = parseChoiceOptions(optionText); err != nil {
				return fmt.Errorf("%s: choice column %q: %v (write name:choice:1=Sale,2=No sale)", where, name, err)
			}
		}
		if seen[name] {
			return nil
		}
		seen[name] = true
		out = append(out, extraColumn{name: name, kind: k, options: options})
		return nil
	}
	for i, spec := range specs {
		if err := add(spec, fmt.Sprintf("ExtraColumns[%d]", i)); err != nil {
			return nil, err
		}
	}
	if altKey != "" {
		if err := add(altKey, "AlternateKey"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func str(name string, maxLen int) *column {
	return &column{name: name, kind: kindString, maxLen: maxLen, creatable: true, updatable: true}
}

func memo(name string, maxLen int) *column {
	return &column{name: name, kind: kindMemo, maxLen: maxLen, creatable: true, updatable: true}
}

func boolean(name string) *column {
	return &column{name: name, kind: kindBool, creatable: true, updatable: true}
}

func whole(name string, min, max int64) *column {
	return &column{name: name, kind: kindInt, minInt: min, maxInt: max, creatable: true, updatable: true}
}

func datetime(name string) *column {
	return &column{name: name, kind: kindDateTime, creatable: true, updatable: true}
}

func guidCol(name string) *column {
	return &column{name: name, kind: kindGUID, creatable: true, updatable: true}
}

func lookup(name string, nav map[string]string) *column {
	return &column{name: name, kind: kindLookup, nav: nav, creatable: true, updatable: true}
}

func picklist(name string, options map[int64]string) *column {
	return &column{name: name, kind: kindPicklist, options: options, creatable: true, updatable: true}
}

// systemColumns are the columns Dataverse maintains itself.
func systemColumns(userOwned bool) []*column {
	cols := []*column{
		{name: "createdon", kind: kindDateTime, system: true},
		{name: "modifiedon", kind: kindDateTime, system: true},
		{name: "versionnumber", kind: kindBigInt, system: true},
		{name: "createdby", kind: kindLookup, nav: map[string]string{"systemuser": "createdby"}, system: true},
		{name: "modifiedby", kind: kindLookup, nav: map[string]string{"systemuser": "modifiedby"}, system: true},
		// Who impersonated createdby or modifiedby, null otherwise.
		{name: "createdonbehalfby", kind: kindLookup, nav: map[string]string{"systemuser": "createdonbehalfby"}, system: true},
		{name: "modifiedonbehalfby", kind: kindLookup, nav: map[string]string{"systemuser": "modifiedonbehalfby"}, system: true},
	}
	if userOwned {
		// ownerid may be set on create (assign) by binding ownerid.
		cols = append(cols, &column{name: "ownerid", kind: kindLookup, nav: map[string]string{"systemuser": "ownerid"}, creatable: true, updatable: true})
	}
	return cols
}

func stateColumns() []*column {
	return []*column{
		// statecode is not valid for create (IsValidForCreate false): a value
		// sent on create is ignored and the record starts in its first state.
		{name: "statecode", kind: kindState, updatable: true},
		{name: "statuscode", kind: kindStatus, creatable: true, updatable: true},
	}
}

func activeInactive(enum string) *stateModel {
	return &stateModel{
		statuses:      map[int64][]int64{0: {1}, 1: {2}},
		defaultStatus: map[int64]int64{0: 1, 1: 2},
		stateLabels:   map[int64]string{0: "Active", 1: "Inactive"},
		statusLabels:  map[int64]string{1: "Active", 2: "Inactive"},
		enumName:      enum,
	}
}

// newSchema builds the tables of a sandbox: the built-in tables plus the
// custom columns on phonecall and task.
func newSchema(extraSpecs []string, altKey string, added []addedColumn, partyTargets []string) (*schema, error) {
	altKey = strings.ToLower(strings.TrimSpace(altKey))
	extras, err := parseExtraColumns(extraSpecs, altKey)
	if err != nil {
		return nil, err
	}
	if altKey != "" {
		for _, e := range extras {
			if e.name == altKey && e.kind != kindString {
				return nil, fmt.Errorf("AlternateKey: column %q must be a string column to serve as an alternate key", altKey)
			}
		}
	}

	regardingNav := func(activity string) map[string]string {
		return map[string]string{
			"account": "regardingobjectid_account_" + activity,
			"contact": "regardingobjectid_contact_" + activity,
			"lead":    "regardingobjectid_lead_" + activity,
		}
	}

	systemuser := &table{
		logical: "systemuser", set: "systemusers", key: "systemuserid", primaryName: "fullname",
		columns: []*column{
			guidCol("systemuserid"),
			str("firstname", 64), str("lastname", 64), str("fullname", 200),
			str("domainname", 1024), str("internalemailaddress", 100),
			guidCol("azureactivedirectoryobjectid"), guidCol("applicationid"),
			boolean("isdisabled"),
		},
	}
	account := &table{
		logical: "account", set: "accounts", key: "accountid", primaryName: "name", userOwned: true,
		columns: []*column{
			guidCol("accountid"),
			str("name", 160), str("telephone1", 50), str("telephone2", 50),
			str("emailaddress1", 100), boolean("donotphone"),
		},
		state: activeInactive("AccountState"),
	}
	contact := &table{
		logical: "contact", set: "contacts", key: "contactid", primaryName: "fullname", userOwned: true, computeFullName: true,
		columns: []*column{
			guidCol("contactid"),
			str("firstname", 50), str("lastname", 50),
			{name: "fullname", kind: kindString, maxLen: 160},
			str("jobtitle", 100),
			str("telephone1", 50), str("telephone2", 50), str("mobilephone", 50),
			str("emailaddress1", 100), boolean("donotphone"),
			lookup("parentcustomerid", map[string]string{"account": "parentcustomerid_account", "contact": "parentcustomerid_contact"}),
		},
		state: activeInactive("ContactState"),
	}
	lead := &table{
		logical: "lead", set: "leads", key: "leadid", primaryName: "fullname", userOwned: true, computeFullName: true,
		columns: []*column{
			guidCol("leadid"),
			str("firstname", 50), str("lastname", 50),
			{name: "fullname", kind: kindString, maxLen: 160},
			str("subject", 300), str("companyname", 100),
			str("telephone1", 50), str("mobilephone", 20), str("emailaddress1", 100),
			boolean("donotphone"),
		},
		state: &stateModel{
			statuses:      map[int64][]int64{0: {1, 2}, 1: {3}, 2: {4, 5, 6, 7}},
			defaultStatus: map[int64]int64{0: 1, 1: 3, 2: 4},
			stateLabels:   map[int64]string{0: "Open", 1: "Qualified", 2: "Disqualified"},
			statusLabels:  map[int64]string{1: "New", 2: "Contacted", 3: "Qualified", 4: "Lost", 5: "Cannot Contact", 6: "No Longer Interested", 7: "Canceled"},
			enumName:      "LeadState",
		},
	}
	directioncode := boolean("directioncode")
	phonecall := &table{
		logical: "phonecall", set: "phonecalls", key: "activityid", primaryName: "subject", userOwned: true, activity: true,
		columns: []*column{
			guidCol("activityid"),
			str("subject", 200), str("phonenumber", 200), directioncode,
			memo("description", 2000),
			datetime("actualstart"), datetime("actualend"),
			whole("actualdurationminutes", 0, 2147483647),
			datetime("scheduledstart"), datetime("scheduledend"),
			lookup("regardingobjectid", regardingNav("phonecall")),
		},
		state: &stateModel{
			statuses:       map[int64][]int64{0: {1}, 1: {2, 4}, 2: {3}},
			defaultStatus:  map[int64]int64{0: 1, 1: 2, 2: 3},
			stateLabels:    map[int64]string{0: "Open", 1: "Completed", 2: "Canceled"},
			statusLabels:   map[int64]string{1: "Open", 2: "Made", 3: "Canceled", 4: "Received"},
			enumName:       "PhoneCallState",
			closedReadOnly: true,
		},
	}
	task := &table{
		logical: "task", set: "tasks", key: "activityid", primaryName: "subject", userOwned: true, activity: true,
		columns: []*column{
			guidCol("activityid"),
			str("subject", 200), memo("description", 2000),
			datetime("scheduledstart"), datetime("scheduledend"), datetime("actualend"),
			whole("actualdurationminutes", 0, 2147483647),
			picklist("prioritycode", map[int64]string{0: "Low", 1: "Normal", 2: "High"}),
			lookup("regardingobjectid", regardingNav("task")),
		},
		state: &stateModel{
			statuses:       map[int64][]int64{0: {2, 3, 4, 7}, 1: {5}, 2: {6}},
			defaultStatus:  map[int64]int64{0: 2, 1: 5, 2: 6},
			stateLabels:    map[int64]string{0: "Open", 1: "Completed", 2: "Canceled"},
			statusLabels:   map[int64]string{2: "Not Started", 3: "In Progress", 4: "Waiting on someone else", 5: "Completed", 6: "Canceled", 7: "Deferred"},
			enumName:       "TaskState",
			closedReadOnly: true,
		},
	}
	activityparty := &table{
		logical: "activityparty", set: "activityparties", key: "activitypartyid", readOnlyViaAPI: true,
		columns: []*column{
			guidCol("activitypartyid"),
			lookup("activityid", map[string]string{"phonecall": "activityid_phonecall", "task": "activityid_task"}),
			lookup("partyid", map[string]string{"account": "partyid_account", "contact": "partyid_contact", "lead": "partyid_lead", "systemuser": "partyid_systemuser"}),
			picklist("participationtypemask", participationTypes),
			str("addressused", 200),
		},
	}

	newColumn := func(e extraColumn) *column {
		c := &column{name: e.name, kind: e.kind, options: e.options, maxLen: e.maxLen, creatable: true, updatable: true, custom: true}
		switch e.kind {
		case kindString:
			if c.maxLen == 0 {
				c.maxLen = 4000
			}
		case kindMemo:
			if c.maxLen == 0 {
				c.maxLen = 1048576
			}
		case kindInt:
			c.minInt, c.maxInt = -2147483648, 2147483647
		}
		return c
	}
	for _, t := range []*table{phonecall, task} {
		for _, e := range extras {
			c := newColumn(e)
			if e.name == altKey {
				c.altKey = true
				t.altKey = c
			}
			t.columns = append(t.columns, c)
		}
	}
	tables := map[string]*table{}
	for _, t := range []*table{systemuser, account, contact, lead, phonecall, task, activityparty} {
		tables[t.logical] = t
	}
	for _, a := range added {
		t := tables[a.table]
		if t == nil {
			return nil, fmt.Errorf("metadata: no table %q", a.table)
		}
		if !a.key {
			t.columns = append(t.columns, newColumn(a.col))
			continue
		}
		for _, c := range t.columns {
			if c.name == a.col.name {
				if t.altKey != nil && t.altKey != c {
					t.altKey.altKey = false
				}
				c.altKey = true
				t.altKey = c
			}
		}
	}
	if partyTargets == nil {
		partyTargets = []string{"account", "contact", "lead", "systemuser"}
	}
	partyNav := map[string]string{}
	for _, target := range partyTargets {
		partyNav[target] = "partyid_" + target
	}
	for _, c := range activityparty.columns {
		if c.name == "partyid" {
			c.nav = partyNav
		}
	}
	for _, t := range []*table{phonecall} {
		t.partyLists = []*column{
			{name: "from", kind: kindLookup, nav: partyNav, creatable: true, updatable: true},
			{name: "to", kind: kindLookup, nav: partyNav, creatable: true, updatable: true},
		}
	}

	s := &schema{
		bySet:  map[string]*table{},
		byName: map[string]*table{},
		altKey: altKey,
	}
	for _, t := range []*table{systemuser, account, contact, lead, phonecall, task, activityparty} {
		if t.state != nil {
			t.columns = append(t.columns, stateColumns()...)
		}
		if t.logical != "activityparty" {
			t.columns = append(t.columns, systemColumns(t.userOwned)...)
		}
		t.byName = map[string]*column{}
		t.navs = map[string]navTarget{}
		t.collections = map[string]*collectionNav{}
		for _, c := range t.columns {
			if _, dup := t.byName[c.name]; dup {
				return nil, fmt.Errorf("ExtraColumns: column %q already exists on %s; choose another name", c.name, t.logical)
			}
			t.byName[c.name] = c
			if c.kind == kindLookup {
				t.byName[c.jsonName()] = c
				for target, nav := range c.nav {
					t.navs[nav] = navTarget{col: c, target: target}
				}
			}
		}
		// The primary key is written by the client only on create.
		t.keyColumn().updatable = false
		s.tables = append(s.tables, t)
		s.bySet[t.set] = t
		s.byName[t.logical] = t
	}
	partyLookup := activityparty.column("activityid")
	phonecall.collections["phonecall_activity_parties"] = &collectionNav{name: "phonecall_activity_parties", child: "activityparty", lookup: partyLookup}
	task.collections["task_activity_parties"] = &collectionNav{name: "task_activity_parties", child: "activityparty", lookup: partyLookup}
	return s, nil
}

// participationTypes are the ParticipationTypeMask values of activityparty.
var participationTypes = map[int64]string{
	1: "Sender", 2: "To Recipient", 3: "CC Recipient", 4: "BCC Recipient",
	5: "Required attendee", 6: "Optional attendee", 7: "Organizer", 8: "Regarding",
	9: "Owner", 10: "Resource", 11: "Customer",
}

// Participation types the sandbox maintains itself, as Dataverse does.
const (
	partyRegarding = 8
	partyOwner     = 9
)

// sqlColumns lists the SQL columns of a table in declaration order. A
// lookup takes two: the id and the target's logical name.
func (t *table) sqlColumns() []string {
	var out []string
	for _, c := range t.columns {
		out = append(out, c.name)
		if c.kind == kindLookup {
			out = append(out, c.name+typeSuffix)
		}
	}
	return out
}

// typeSuffix names the SQL column that holds a lookup's target table.
const typeSuffix = "__type"

func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// ddl returns the statements that create the table and its indexes.
func (t *table) ddl() []string {
	var defs []string
	for _, c := range t.columns {
		def := quoteIdent(c.name) + " " + c.sqlType()
		if c.name == t.key {
			def += " PRIMARY KEY"
		}
		if c.name == "versionnumber" {
			def += " NOT NULL DEFAULT 0"
		}
		defs = append(defs, def)
		if c.kind == kindLookup {
			defs = append(defs, quoteIdent(c.name+typeSuffix)+" TEXT")
		}
	}
	stmts := []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s)", quoteIdent(t.set), strings.Join(defs, ", "))}
	for _, c := range t.columns {
		switch {
		case c.name == "telephone1", c.name == "telephone2", c.name == "mobilephone", c.name == "fullname", c.name == "name":
			stmts = append(stmts, fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", quoteIdent("ix_"+t.set+"_"+c.name), quoteIdent(t.set), quoteIdent(c.name)))
		case c.kind == kindLookup && !c.system:
			stmts = append(stmts, fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", quoteIdent("ix_"+t.set+"_"+c.name), quoteIdent(t.set), quoteIdent(c.name)))
		}
	}
	return stmts
}

// altKeyDDL returns the unique index of the alternate key, if any. The
// index uses the case-insensitive collation because Dataverse's key
// uniqueness follows its case-insensitive database collation.
func (t *table) altKeyDDL() string {
	if t.altKey == nil {
		return ""
	}
	return fmt.Sprintf("CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (%s)", quoteIdent("ux_"+t.set+"_"+t.altKey.name), quoteIdent(t.set), quoteIdent(t.altKey.name))
}

// sortedKeys returns the keys of m in order, for deterministic messages.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
