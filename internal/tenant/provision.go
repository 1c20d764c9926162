package tenant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/dataverse"
)

// Provisioner reads and creates table definitions; *dataverse.Client has it.
type Provisioner interface {
	Metadata
	CreateColumn(ctx context.Context, entity string, definition map[string]any) error
	CreateKey(ctx context.Context, entity, schemaName, displayName string, columns []string) error
}

// Provision creates the columns and the alternate key cfg's options.fields
// need and the environment lacks, printing each step to out. It never
// changes or deletes what exists, so running it again does nothing more.
// With dryRun it only prints what it would create.
func Provision(ctx context.Context, p Provisioner, cfg *config.Config, dryRun bool, out io.Writer) error {
	c := &checker{md: p, ctx: ctx, cfg: cfg, res: &Result{}}
	fields := cfg.Options.Fields
	type want struct {
		table, column, label string
		key                  bool
	}
	var wants []want
	interaction := strings.ToLower(fields.AgentInteractionID)
	for _, table := range c.activityTables() {
		if interaction != "" {
			wants = append(wants, want{table, interaction, "Agent Interaction Id", false})
		}
	}
	if disp := strings.ToLower(fields.CallDispositionField); disp != "" {
		wants = append(wants, want{phoneCall, disp, "Wrap Code", false})
	}
	for _, table := range c.activityTables() {
		if interaction != "" {
			wants = append(wants, want{table, interaction, "", true})
		}
	}
	if len(wants) == 0 {
		fmt.Fprintln(out, "nothing to provision: the config names no options.fields columns")
		return nil
	}
	verb := "created"
	if dryRun {
		verb = "would create"
	}
	for _, w := range wants {
		if w.key {
			if err := provisionKey(ctx, p, w.table, w.column, dryRun, verb, out); err != nil {
				return err
			}
			continue
		}
		def, err := p.AttributeDefinition(ctx, w.table, w.column)
		switch {
		case err == nil:
			fmt.Fprintf(out, "%s.%s: exists (%s), left as it is\n", w.table, w.column, def.AttributeType)
			continue
		case !errors.Is(err, dataverse.ErrNotFound):
			return stepError(w.table+"."+w.column, err)
		}
		if !dryRun {
			err := p.CreateColumn(ctx, w.table, map[string]any{
				"@odata.type":   "Microsoft.Dynamics.CRM.StringAttributeMetadata",
				"SchemaName":    w.column,
				"AttributeType": "String",
				"MaxLength":     100,
				"FormatName":    map[string]any{"Value": "Text"},
				"RequiredLevel": map[string]any{"Value": "None", "CanBeChanged": true},
				"DisplayName":   dataverse.Label(w.label),
				"Description":   dataverse.Label("Written by ctibridge"),
			})
			if err != nil {
				return stepError(w.table+"."+w.column, err)
			}
		}
		fmt.Fprintf(out, "%s.%s: %s (text, 100 characters)\n", w.table, w.column, verb)
	}
	return nil
}

func provisionKey(ctx context.Context, p Provisioner, table, column string, dryRun bool, verb string, out io.Writer) error {
	keys, err := p.Keys(ctx, table)
	if err != nil {
		return stepError(table+" keys", err)
	}
	for _, k := range keys {
		if len(k.KeyAttributes) == 1 && strings.EqualFold(k.KeyAttributes[0], column) {
			fmt.Fprintf(out, "%s alternate key on %s: exists (%s), left as it is\n", table, column, k.EntityKeyIndexStatus)
			return nil
		}
	}
	if !dryRun {
		if _, err := p.AttributeDefinition(ctx, table, column); err != nil {
			// Only in a dry run can the column still be missing here.
			return stepError(table+"."+column, err)
		}
		if err := p.CreateKey(ctx, table, column+"_key", "Agent Interaction Id", []string{column}); err != nil {
			return stepError(table+" alternate key on "+column, err)
		}
	}
	fmt.Fprintf(out, "%s alternate key on %s: %s (Dataverse builds its index in a system job; ctibridge validate reports it until it is Active)\n", table, column, verb)
	return nil
}

func stepError(step string, err error) error {
	if p := dataverse.MissingPrivilege(err); p != "" {
		return fmt.Errorf("%s: the application user lacks %s; give its security role that privilege (the System Customizer role has what provisioning needs), or follow docs/deploy.md's manual steps: %w", step, p, err)
	}
	return fmt.Errorf("%s: %w", step, err)
}
