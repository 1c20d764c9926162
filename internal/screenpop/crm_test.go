package screenpop_test

import (
	"context"
	"testing"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/dataverse"
	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/sandbox/sandboxtest"
	"github.com/ctibridge/ctibridge/internal/screenpop"
)

// TestCompiledQueriesRunUnchangedAgainstTheSandbox runs the queries the
// engine compiles from the sample config (the reference's rules plus one per
// call type) through the Web API client against the sandbox CRM, and checks
// they find the seeded records: what a correct search must find for each
// demo number.
func TestCompiledQueriesRunUnchangedAgainstTheSandbox(t *testing.T) {
	cfg, err := config.Load("../../testdata/sample.json")
	if err != nil {
		t.Fatal(err)
	}
	engine, err := screenpop.New(cfg, "AU")
	if err != nil {
		t.Fatal(err)
	}
	_, crm := sandboxtest.NewTestServer(t, sandbox.Options{Seed: true, SeedContacts: 50})
	client, err := dataverse.New(dataverse.Config{OrgURL: crm.URL})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		callType   interaction.CallType
		demoNumber string
		// the event carries the number as ipSCAPE does: E.164 without "+"
		wantIDs []string
	}{
		{"inbound, one contact", interaction.CallInbound, "single-contact", ids("single-contact")},
		{"inbound, a shared landline", interaction.CallInbound, "several-contacts", ids("several-contacts")},
		{"inbound, nobody", interaction.CallInbound, "no-match", nil},
		{"inbound, number only in mobilephone", interaction.CallInbound, "mobile-contact", ids("mobile-contact")},
		{"outbound, the campaign lead", interaction.CallOutbound, "lead-match", ids("lead-match")},
		{"manual, the supplier account", interaction.CallManual, "account-match", ids("account-match")},
		{"preview, lead phone 1", interaction.CallPreview, "single-contact", ids("single-contact")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			number := sandbox.DemoNumberByKey(tt.demoNumber).E164[1:]
			doc := `{"id":"e","type":"callAlerting","agentId":"1001","interaction":{"agentInteractionId":"IX","callType":"` + string(tt.callType) +
				`","activity":{"customerCli":"` + number + `"},"leadData":{"phones":[{"index":1,"phone":"` + number + `"}]}}}`
			ev, err := interaction.DecodeEvent([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			d, err := engine.Decide(ev)
			if err != nil {
				t.Fatal(err)
			}
			page, err := client.RetrieveMultiple(context.Background(), d.EntitySet, d.Query)
			if err != nil {
				t.Fatalf("query %s: %v", d.Query, err)
			}
			key := cfg.Entities[d.Entity].Key
			var got []string
			for _, r := range page.Records {
				got = append(got, r[key].(string))
			}
			if !sameSet(got, tt.wantIDs) {
				t.Fatalf("%s %s found %v, want %v", d.EntitySet, d.Query, got, tt.wantIDs)
			}
		})
	}
}

func ids(demoNumber string) []string {
	var out []string
	for _, r := range sandbox.DemoNumberByKey(demoNumber).Records {
		out = append(out, r.ID)
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x] == 0 {
			return false
		}
		seen[x]--
	}
	return true
}

// TestVariantsFindEveryWritingInTheSandbox stores one number the three ways
// people type it, and a neighbour's number, and checks that one caller ID
// finds the three and not the neighbour, through the Web API client and the
// sandbox's own $filter evaluation.
func TestVariantsFindEveryWritingInTheSandbox(t *testing.T) {
	cfg, err := config.Load("testdata/variants.json")
	if err != nil {
		t.Fatal(err)
	}
	engine, err := screenpop.New(cfg, "AU")
	if err != nil {
		t.Fatal(err)
	}
	_, crm := sandboxtest.NewTestServer(t, sandbox.Options{})
	client, err := dataverse.New(dataverse.Config{OrgURL: crm.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := map[string]bool{}
	for _, c := range []struct {
		name, column, number string
		match                bool
	}{
		{"Ada Parens", "telephone1", "(02) 9999 0000", true},
		{"Bo International", "telephone1", "+61 2 9999 0000", true},
		{"Cy Digits", "telephone1", "0299990000", true},
		{"Di Mobile Column", "mobilephone", "02-9999-0000", true},
		{"Ed Neighbour", "telephone1", "(02) 9999 0001", false},
	} {
		id, err := client.Create(ctx, "contacts", map[string]string{"fullname": c.name, c.column: c.number})
		if err != nil {
			t.Fatal(err)
		}
		want[id] = c.match
	}
	ev, err := interaction.DecodeEvent([]byte(`{"id":"e","type":"callAlerting","agentId":"1001","interaction":{"agentInteractionId":"IX","callType":"inbound","activity":{"customerCli":"61299990000"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := engine.Decide(ev)
	if err != nil {
		t.Fatal(err)
	}
	page, err := client.RetrieveMultiple(ctx, "contacts", d.LookupQuery)
	if err != nil {
		t.Fatalf("query %s: %v", d.LookupQuery, err)
	}
	found := map[string]bool{}
	for _, r := range page.Records {
		found[r["contactid"].(string)] = true
	}
	for id, match := range want {
		if found[id] != match {
			t.Errorf("contact %s found %t, want %t (query %s)", id, found[id], match, d.LookupQuery)
		}
	}
}
