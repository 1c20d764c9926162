// Package tenant checks a config against a Dataverse environment's table
// definitions (metadata): that the tables, columns, keys and relationships
// the config names exist, and what type the columns the adapter writes
// have. It reads only; docs/dataverse.md lists the requests.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/dataverse"
	"github.com/ctibridge/ctibridge/internal/odata"
)

// Metadata is what the check reads; *dataverse.Client has it.
type Metadata interface {
	EntityDefinition(ctx context.Context, entity string) (dataverse.EntityDefinition, error)
	AttributeDefinition(ctx context.Context, entity, column string) (dataverse.AttributeDefinition, error)
	ChoiceOptions(ctx context.Context, entity, column string) ([]dataverse.OptionDefinition, error)
	Keys(ctx context.Context, entity string) ([]dataverse.KeyDefinition, error)
	ManyToOneRelationships(ctx context.Context, entity string) ([]dataverse.RelationshipDefinition, error)
}

// WrapCode is a wrap code the agents pick (--wrap-codes).
type WrapCode struct {
	Code, Label string
}

// Result is what the check found.
type Result struct {
	// Tenant is what the planner needs from the metadata; nil when the
	// metadata could not be read.
	Tenant *config.Tenant
	// Errors stop serve from starting; Warnings do not.
	Errors, Warnings []config.Problem
}

// OK reports whether the config can be used against the tenant.
func (r *Result) OK() bool { return len(r.Errors) == 0 }

const (
	fieldsPath  = "config.options.fields"
	dispPath    = fieldsPath + ".callDispositionField"
	interPath   = fieldsPath + ".agentInteractionId"
	phoneCall   = "phonecall"
	task        = "task"
	partyColumn = "to"
)

type checker struct {
	md  Metadata
	ctx context.Context
	cfg *config.Config
	res *Result
	// tables caches entity definitions (nil: missing).
	tables map[string]*dataverse.EntityDefinition
	// refused is set once a read was refused for a missing privilege:
	// the rest of the check is then skipped, with one warning.
	refused bool
	// lastErr is the read that failed otherwise.
	lastErr error
}

// errStop ends the check early (a refused or failed read).
var errStop = errors.New("stop")

// Check reads the metadata of every table and column cfg names and
// reports each problem at its JSON path. A read refused for a missing
// privilege is a warning naming the privilege (the adapter still runs, and
// writes wait in the outbox if Dataverse refuses them); any other failed
// read (network, throttling) is returned as err.
func Check(ctx context.Context, md Metadata, cfg *config.Config, wrapCodes []WrapCode) (*Result, error) {
	c := &checker{md: md, ctx: ctx, cfg: cfg, res: &Result{}, tables: map[string]*dataverse.EntityDefinition{}}
	err := c.run(wrapCodes)
	switch {
	case err == nil:
		return c.res, nil
	case c.refused:
		c.res.Tenant = nil
		return c.res, nil
	}
	c.res.Tenant = nil
	return c.res, c.lastErr
}

func (c *checker) errorf(path, fix, format string, args ...any) {
	c.res.Errors = append(c.res.Errors, config.Problem{Path: path, Message: fmt.Sprintf(format, args...), Fix: fix})
}

func (c *checker) warnf(path, fix, format string, args ...any) {
	c.res.Warnings = append(c.res.Warnings, config.Problem{Path: path, Message: fmt.Sprintf(format, args...), Fix: fix})
}

// read sorts a read's error: nil, not found (false), or stop.
func (c *checker) read(path string, err error) (found bool, stop error) {
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, dataverse.ErrNotFound):
		return false, nil
	}
	if p := dataverse.MissingPrivilege(err); p != "" || errors.Is(err, dataverse.ErrForbidden) {
		if p == "" {
			p = "the privilege to read table definitions"
		}
		c.warnf(path, "give the application user's security role "+p+" (Read on Entity; the System Customizer role has it), then check again",
			"the tenant refused to show its table definitions (missing %s), so the config was not checked against it", p)
		c.refused = true
		return false, errStop
	}
	c.lastErr = err
	return false, errStop
}

func (c *checker) table(path, name string) (*dataverse.EntityDefinition, error) {
	if def, ok := c.tables[name]; ok {
		return def, nil
	}
	def, err := c.md.EntityDefinition(c.ctx, name)
	found, stop := c.read(path, err)
	if stop != nil {
		return nil, stop
	}
	if !found {
		c.tables[name] = nil
		return nil, nil
	}
	c.tables[name] = &def
	return &def, nil
}

func (c *checker) column(path, entity, column string) (*dataverse.AttributeDefinition, error) {
	def, err := c.md.AttributeDefinition(c.ctx, entity, column)
	found, stop := c.read(path, err)
	if stop != nil || !found {
		return nil, stop
	}
	return &def, nil
}

func (c *checker) run(wrapCodes []WrapCode) error {
	tenant := &config.Tenant{}
	c.res.Tenant = tenant
	if _, err := c.table(fieldsPath, phoneCall); err != nil {
		return err
	}
	if err := c.checkEntities(); err != nil {
		return err
	}
	if err := c.checkRules(); err != nil {
		return err
	}
	if err := c.checkInteractionColumn(); err != nil {
		return err
	}
	if err := c.checkDisposition(tenant, wrapCodes); err != nil {
		return err
	}
	return c.checkRelations(tenant)
}

func (c *checker) checkEntities() error {
	for _, name := range c.cfg.EntityOrder {
		e := c.cfg.Entities[name]
		def, err := c.table(e.JSONPath, e.LogicalName)
		if err != nil {
			return err
		}
		if def == nil {
			c.errorf(e.JSONPath, "create the table, or remove it from entities", "the tenant has no table %q", e.LogicalName)
			continue
		}
		if e.Plural != "" && !strings.EqualFold(e.Plural, def.EntitySetName) {
			c.errorf(e.JSONPath+".plural", fmt.Sprintf("write %q", def.EntitySetName), "the entity set of %s is %q, not %q", e.LogicalName, def.EntitySetName, e.Plural)
		}
		if e.Key != "" && !strings.EqualFold(e.Key, def.PrimaryIdAttribute) {
			c.errorf(e.JSONPath+".key", fmt.Sprintf("write %q", def.PrimaryIdAttribute), "the primary key of %s is %q, not %q", e.LogicalName, def.PrimaryIdAttribute, e.Key)
		}
		for _, col := range e.Columns {
			if err := c.requireColumn(e.JSONPath+".query", e.LogicalName, col); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *checker) requireColumn(path, entity, column string) error {
	name := strings.ToLower(column)
	if i := strings.IndexByte(name, '/'); i >= 0 {
		// A navigation path (parentcustomerid_account/name): its first
		// step is a navigation property, not a column.
		return nil
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "_"), "_value")
	def, err := c.column(path, entity, name)
	if err != nil {
		return err
	}
	if def == nil {
		c.errorf(path, "create the column, or remove it", "table %s has no column %q", entity, column)
	}
	return nil
}

// checkRules checks the columns of each rule's $select and $filter.
func (c *checker) checkRules() error {
	rules := append([]*config.Rule{}, c.cfg.ScreenPop.Rules...)
	if c.cfg.ScreenPop.Default != nil {
		rules = append(rules, c.cfg.ScreenPop.Default)
	}
	for _, r := range rules {
		if r.Template == nil || r.Entity == "" {
			continue
		}
		def, err := c.table(r.JSONPath+".entity", r.Entity)
		if err != nil {
			return err
		}
		if def == nil {
			if _, listed := c.cfg.Entities[r.Entity]; !listed {
				c.errorf(r.JSONPath+".entity", "create the table, or search another", "the tenant has no table %q", r.Entity)
			}
			continue
		}
		q, err := odata.ParseQuery(templateText(r.Template))
		if err != nil {
			continue // config.Load reported it
		}
		seen := map[string]bool{}
		columns := append([]string{}, q.Select...)
		columns = append(columns, filterProperties(q.FilterExpr)...)
		for _, col := range columns {
			if col == "" || seen[strings.ToLower(col)] {
				continue
			}
			seen[strings.ToLower(col)] = true
			if err := c.requireColumn(r.JSONPath+".query", r.Entity, col); err != nil {
				return err
			}
		}
	}
	return nil
}

// templateText is the rule's query with each placeholder filled by a
// harmless value, so that it parses.
func templateText(t *odata.Template) string {
	out, err := t.Render(func(string) string { return "0" })
	if err != nil {
		return t.Source()
	}
	return out
}

func filterProperties(e odata.Expr) []string {
	switch e := e.(type) {
	case *odata.Binary:
		return append(filterProperties(e.Left), filterProperties(e.Right)...)
	case *odata.Not:
		return filterProperties(e.Operand)
	case *odata.Call:
		var out []string
		for _, a := range e.Args {
			out = append(out, filterProperties(a)...)
		}
		return out
	case *odata.Property:
		return []string{e.Name}
	}
	return nil
}

// activityTables are the tables ctibridge writes.
func (c *checker) activityTables() []string {
	if c.cfg.Options.CreateTaskOnPreview {
		return []string{phoneCall, task}
	}
	return []string{phoneCall}
}

func (c *checker) checkInteractionColumn() error {
	col := strings.ToLower(c.cfg.Options.Fields.AgentInteractionID)
	if col == "" {
		return nil
	}
	for _, table := range c.activityTables() {
		def, err := c.column(interPath, table, col)
		if err != nil {
			return err
		}
		if def == nil {
			c.errorf(interPath, "run ctibridge provision, or create the column (docs/deploy.md)", "table %s has no column %q", table, col)
			continue
		}
		if def.AttributeType != "String" {
			c.errorf(interPath, "use a text column", "column %s.%s is %s; the interaction id needs a text column", table, col, def.AttributeType)
			continue
		}
		keys, err := c.md.Keys(c.ctx, table)
		if _, stop := c.read(interPath, err); stop != nil {
			return stop
		}
		var key *dataverse.KeyDefinition
		for i, k := range keys {
			if len(k.KeyAttributes) == 1 && strings.EqualFold(k.KeyAttributes[0], col) {
				key = &keys[i]
			}
		}
		switch {
		case key == nil:
			c.warnf(interPath, "run ctibridge provision, or add the key (docs/deploy.md)",
				"column %s.%s has no alternate key: nothing stops two records holding one interaction id", table, col)
		case key.EntityKeyIndexStatus != "" && key.EntityKeyIndexStatus != "Active":
			c.warnf(interPath, "wait for Dataverse's system job to build the key's index, or see why it failed",
				"the alternate key %s on %s.%s is %s, not Active", key.SchemaName, table, col, key.EntityKeyIndexStatus)
		}
	}
	return nil
}

func (c *checker) checkDisposition(tenant *config.Tenant, wrapCodes []WrapCode) error {
	col := strings.ToLower(c.cfg.Options.Fields.CallDispositionField)
	if col == "" {
		return nil
	}
	def, err := c.column(dispPath, phoneCall, col)
	if err != nil {
		return err
	}
	if def == nil {
		c.errorf(dispPath, "run ctibridge provision, or create the column (docs/deploy.md)", "table phonecall has no column %q", col)
		return nil
	}
	column := &config.Column{LogicalName: col, AttributeType: def.AttributeType}
	switch def.AttributeType {
	case "String", "Memo":
		column.Kind = config.ColumnText
		for _, wc := range wrapCodes {
			if def.MaxLength > 0 && len([]rune(wc.Code)) > def.MaxLength {
				c.errorf(dispPath, fmt.Sprintf("lengthen the column to %d or shorten the code", len([]rune(wc.Code))),
					"wrap code %q (%s) is longer than phonecall.%s's %d characters", wc.Code, wc.Label, col, def.MaxLength)
			}
		}
	case "Integer":
		column.Kind = config.ColumnWhole
		for _, wc := range wrapCodes {
			if _, err := strconv.ParseInt(wc.Code, 10, 32); err != nil {
				c.errorf(dispPath, "use whole-number wrap codes, or a text or choice column",
					"wrap code %q (%s) is not a whole number, and phonecall.%s is a whole number column", wc.Code, wc.Label, col)
			}
		}
	case "Picklist":
		column.Kind = config.ColumnChoice
		options, err := c.md.ChoiceOptions(c.ctx, phoneCall, col)
		if _, stop := c.read(dispPath, err); stop != nil {
			return stop
		}
		for _, o := range options {
			column.Options = append(column.Options, config.Option{Value: o.Value, Label: o.Label})
		}
		for _, wc := range wrapCodes {
			if _, ok := column.Option(wc.Code, wc.Label); !ok {
				c.errorf(dispPath, fmt.Sprintf("add an option with value %s or label %q to the choice, or change the wrap code (options: %s)", wc.Code, wc.Label, optionList(column.Options)),
					"wrap code %q (%s) matches no option of phonecall.%s", wc.Code, wc.Label, col)
			}
		}
	default:
		column.Kind = config.ColumnOther
		c.errorf(dispPath, "use a text, whole number or choice column", "column phonecall.%s is %s, which cannot hold a wrap code", col, def.AttributeType)
	}
	tenant.Disposition = column
	return nil
}

func optionList(options []config.Option) string {
	parts := make([]string, len(options))
	for i, o := range options {
		parts[i] = fmt.Sprintf("%d %s", o.Value, o.Label)
	}
	return strings.Join(parts, ", ")
}

// checkRelations reads the phone call's party targets and regarding
// relationships and checks the config's entities against them.
func (c *checker) checkRelations(tenant *config.Tenant) error {
	to, err := c.column(fieldsPath, phoneCall, partyColumn)
	if err != nil {
		return err
	}
	if to != nil {
		tenant.PhoneCallPartyTargets = to.Targets
		if tenant.PhoneCallPartyTargets == nil {
			tenant.PhoneCallPartyTargets = []string{}
		}
	}
	rels, err := c.md.ManyToOneRelationships(c.ctx, phoneCall)
	if _, stop := c.read(fieldsPath, err); stop != nil {
		return stop
	}
	navs := map[string]bool{}
	for _, r := range rels {
		navs[strings.ToLower(r.ReferencingEntityNavigationPropertyName)] = true
	}
	for _, name := range c.cfg.EntityOrder {
		e := c.cfg.Entities[name]
		if e.Type != config.EntityPerson && e.Type != config.EntityOrganisation {
			continue
		}
		logical := strings.ToLower(e.LogicalName)
		if len(rels) > 0 && !navs["regardingobjectid_"+logical+"_phonecall"] {
			c.warnf(e.JSONPath, "enable activities for the table, or remove it from entities",
				"phone calls cannot be regarding %s records (no regardingobjectid_%s_phonecall relationship): choosing one in the widget relates nothing", logical, logical)
		}
		if to != nil && !tenant.PartyTarget(logical) {
			c.warnf(e.JSONPath, "",
				"%s records cannot be parties of a phone call here (its to and from take %s): they are related as regarding only", logical, strings.Join(to.Targets, ", "))
		}
	}
	return nil
}
