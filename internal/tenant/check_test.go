package tenant

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/dataverse"
	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/outbox"
	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/sandbox/sandboxtest"
)

var wrapCodes = []WrapCode{{"1", "Sale"}, {"2", "No sale"}}

func sampleConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "..", "testdata", "sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func tenantClient(t *testing.T, opts sandbox.Options) *dataverse.Client {
	t.Helper()
	_, srv := sandboxtest.NewTestServer(t, opts)
	c, err := dataverse.New(dataverse.Config{OrgURL: srv.URL, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func problems(ps []config.Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}

func TestCheckReportsEachProblemAtItsPath(t *testing.T) {
	tests := []struct {
		name       string
		opts       sandbox.Options
		codes      []WrapCode
		wantErrors []string // substrings, one per error, in order
		wantWarn   []string
		wantKind   config.ColumnKind
	}{
		{name: "text column and key: nothing to report", opts: sandbox.Options{ExtraColumns: []string{"new_wrapcode"}, AlternateKey: "new_agentinteractionid"},
			codes: wrapCodes, wantKind: config.ColumnText},
		{name: "whole number column takes numeric codes", opts: sandbox.Options{ExtraColumns: []string{"new_wrapcode:int"}, AlternateKey: "new_agentinteractionid"},
			codes: append(wrapCodes, WrapCode{"X9", "Other"}), wantKind: config.ColumnWhole,
			wantErrors: []string{`config.options.fields.callDispositionField: wrap code "X9" (Other) is not a whole number`}},
		{name: "choice column: a code without an option is an error", opts: sandbox.Options{
			ExtraColumns: []string{"new_wrapcode:choice:100000000=Sale,100000001=No sale"}, AlternateKey: "new_agentinteractionid"},
			codes: append(wrapCodes, WrapCode{"3", "Call back"}), wantKind: config.ColumnChoice,
			wantErrors: []string{`config.options.fields.callDispositionField: wrap code "3" (Call back) matches no option of phonecall.new_wrapcode`}},
		{name: "missing columns and key", opts: sandbox.Options{},
			wantErrors: []string{`config.options.fields.agentInteractionId: table phonecall has no column "new_agentinteractionid"`,
				`config.options.fields.callDispositionField: table phonecall has no column "new_wrapcode"`}},
		{name: "column without its alternate key is a warning", opts: sandbox.Options{ExtraColumns: []string{"new_wrapcode", "new_agentinteractionid"}},
			wantKind: config.ColumnText, wantWarn: []string{"has no alternate key"}},
		{name: "a party target the tenant lacks is a warning", opts: sandbox.Options{ExtraColumns: []string{"new_wrapcode"}, AlternateKey: "new_agentinteractionid",
			PhoneCallPartyTargets: []string{"contact", "systemuser"}},
			wantKind: config.ColumnText, wantWarn: []string{"account records cannot be parties of a phone call here"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := sampleConfig(t)
			res, err := Check(context.Background(), tenantClient(t, tt.opts), cfg, tt.codes)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) != len(tt.wantErrors) {
				t.Fatalf("errors:\n%swant %d", problems(res.Errors), len(tt.wantErrors))
			}
			for i, want := range tt.wantErrors {
				if !strings.Contains(res.Errors[i].String(), want) {
					t.Errorf("error %d = %s, want %s", i, res.Errors[i], want)
				}
			}
			got := problems(res.Warnings)
			for _, want := range tt.wantWarn {
				if !strings.Contains(got, want) {
					t.Errorf("warnings:\n%swant one with %q", got, want)
				}
			}
			if tt.wantKind != "" && (res.Tenant == nil || res.Tenant.Disposition == nil || res.Tenant.Disposition.Kind != tt.wantKind) {
				t.Errorf("tenant %+v, want the disposition as %s", res.Tenant, tt.wantKind)
			}
		})
	}
}

func TestARefusedMetadataReadIsAWarningNamingThePrivilege(t *testing.T) {
	res, err := Check(context.Background(), tenantClient(t, sandbox.Options{RefuseMetadata: true}), sampleConfig(t), wrapCodes)
	if err != nil || !res.OK() || res.Tenant != nil {
		t.Fatalf("res %+v err %v, want no error and no tenant", res, err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].String(), "missing prvReadEntity") {
		t.Fatalf("warnings:\n%s", problems(res.Warnings))
	}
}

func TestAnUnreachableTenantIsAnError(t *testing.T) {
	c, err := dataverse.New(dataverse.Config{OrgURL: "http://127.0.0.1:1", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Check(ctx, c, sampleConfig(t), wrapCodes); err == nil {
		t.Fatal("no error")
	}
}

// The disposition column declared as a choice, a whole number or text: the
// check reads its type, and the wrap goes through the real outbox
// executor into the sandbox written as that type.
func TestTheWrapCodeIsWrittenAsTheTenantsColumnType(t *testing.T) {
	tests := []struct {
		name   string
		column string
		want   string // the stored value, as JSON text
	}{
		{name: "choice", column: "new_wrapcode:choice:100000000=Sale,100000001=No sale", want: "100000000"},
		{name: "whole number", column: "new_wrapcode:int", want: "1"},
		{name: "text", column: "new_wrapcode", want: `"1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			client := tenantClient(t, sandbox.Options{ExtraColumns: []string{tt.column}, AlternateKey: "new_agentinteractionid"})
			cfg := sampleConfig(t)
			res, err := Check(ctx, client, cfg, wrapCodes)
			if err != nil || !res.OK() {
				t.Fatalf("check: %v\n%s", err, problems(res.Errors))
			}
			cfg.Tenant = res.Tenant

			var call interaction.Call
			x := outbox.DataverseExecutor{Client: client}
			for _, ev := range []string{
				`{"type":"callStarted","id":"e1","agentId":"A1","timestamp":"2026-01-01T09:01:00Z","interaction":{"agentInteractionId":"IX-1","callType":"inbound","activity":{"customerCli":"0299990000"}}}`,
				`{"type":"callWrapped","id":"e2","agentId":"A1","timestamp":"2026-01-01T09:02:00Z","interaction":{"agentInteractionId":"IX-1","callType":"inbound","activity":{"wrapCode":"1","wrapDescription":"Sale"}}}`,
			} {
				e, err := interaction.DecodeEvent([]byte(ev))
				if err != nil {
					t.Fatal(err)
				}
				tr, err := call.Apply(e)
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range activity.PlanTransition(cfg, &call, tr, activity.Selection{}).Writes {
					if _, err := x.Execute(ctx, "IX-1", w); err != nil {
						t.Fatalf("%s: %v", w.IdempotencyKey, err)
					}
				}
			}
			page, err := client.RetrieveMultiple(ctx, "phonecalls", "?$select=new_wrapcode,statecode")
			if err != nil || len(page.Records) != 1 {
				t.Fatalf("%v %v", page, err)
			}
			rec := page.Records[0]
			got := rec["new_wrapcode"]
			gotText := ""
			switch v := got.(type) {
			case string:
				gotText = `"` + v + `"`
			default:
				gotText = strings.TrimSpace(toString(v))
			}
			if gotText != tt.want || toString(rec["statecode"]) != "1" {
				t.Fatalf("stored %v, want new_wrapcode %s and the call completed", rec, tt.want)
			}
		})
	}
}

func toString(v any) string {
	if s, ok := v.(interface{ String() string }); ok {
		return s.String()
	}
	return ""
}
