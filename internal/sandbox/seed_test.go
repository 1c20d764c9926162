package sandbox_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ctibridge/ctibridge/internal/sandbox"
)

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestSeedDemoNumbers(t *testing.T) {
	_, srv := newServer(t, seeded())
	sets := map[string]string{"contact": "contacts", "account": "accounts", "lead": "leads"}
	keys := map[string]string{"contact": "contactid", "account": "accountid", "lead": "leadid"}
	phoneCols := map[string][]string{"contact": {"telephone1", "telephone2", "mobilephone"}, "account": {"telephone1", "telephone2"}, "lead": {"telephone1", "mobilephone"}}

	type holder struct{ entity, id, column, stored string }
	var all []holder
	for entity, set := range sets {
		cols := strings.Join(phoneCols[entity], ",")
		r := call(t, srv, "GET", api+set+q("$select", cols), "")
		wantStatus(t, r, 200)
		for _, rec := range r.values(t) {
			for _, c := range phoneCols[entity] {
				if s, ok := rec[c].(string); ok {
					all = append(all, holder{entity, rec[keys[entity]].(string), c, s})
				}
			}
		}
	}
	if len(all) < 150 {
		t.Fatalf("only %d phone numbers seeded", len(all))
	}

	for _, d := range sandbox.DemoNumbers {
		t.Run(d.Key, func(t *testing.T) {
			// The national significant number identifies the number in any
			// format it is written in.
			nsn := digits(d.E164)[len(digits(d.E164))-8:]
			var holders []string
			for _, h := range all {
				if strings.HasSuffix(digits(h.stored), nsn) {
					holders = append(holders, h.entity+":"+h.id)
				}
			}
			var want []string
			for _, r := range d.Records {
				want = append(want, r.Entity+":"+r.ID)
			}
			slices.Sort(holders)
			slices.Sort(want)
			if !slices.Equal(holders, want) {
				t.Errorf("records holding %s = %v, want exactly %v", d.E164, holders, want)
			}
			for _, r := range d.Records {
				filter := fmt.Sprintf("%s eq '%s'", r.Column, strings.ReplaceAll(r.Stored, "'", "''"))
				res := call(t, srv, "GET", api+sets[r.Entity]+q("$select", keys[r.Entity], "$filter", filter), "")
				wantStatus(t, res, 200)
				n := 0
				for _, d2 := range d.Records {
					if d2.Entity == r.Entity && d2.Stored == r.Stored && d2.Column == r.Column {
						n++
					}
				}
				if got := len(res.values(t)); got != n {
					t.Errorf("$filter=%s on %s found %d, want %d", filter, sets[r.Entity], got, n)
				}
				rec := call(t, srv, "GET", api+sets[r.Entity]+"("+r.ID+")", "").json(t)
				name := rec["fullname"]
				if r.Entity == "account" {
					name = rec["name"]
				}
				if name != r.Name {
					t.Errorf("%s %s is named %v, want %q", r.Entity, r.ID, name, r.Name)
				}
			}
		})
	}
	dnp := sandbox.DemoNumberByKey("do-not-phone").Records[0]
	if call(t, srv, "GET", api+"contacts("+dnp.ID+")/donotphone", "").json(t)["value"] != true {
		t.Error("the do-not-phone contact allows phone calls")
	}
}

func TestSeedFormatsVary(t *testing.T) {
	_, srv := newServer(t, seeded())
	r := call(t, srv, "GET", api+"contacts"+q("$select", "telephone1", "$filter", "telephone1 ne null"), "")
	shapes := map[string]bool{}
	for _, v := range r.values(t) {
		s := v["telephone1"].(string)
		switch {
		case strings.HasPrefix(s, "+"):
			shapes["plus"] = true
		case strings.HasPrefix(s, "("):
			shapes["parens"] = true
		case strings.Contains(s, " "):
			shapes["spaced"] = true
		default:
			shapes["digits"] = true
		}
		if strings.HasPrefix(s, "+44") || strings.HasPrefix(s, "0207") || strings.HasPrefix(s, "020 ") {
			shapes["uk"] = true
		}
		if strings.Contains(s, "555-") || strings.Contains(s, "555.") {
			shapes["us"] = true
		}
	}
	for _, want := range []string{"plus", "parens", "spaced", "digits", "uk", "us"} {
		if !shapes[want] {
			t.Errorf("no seeded telephone1 has the %s shape", want)
		}
	}
}

func TestSeedIsDeterministicAndRepeatable(t *testing.T) {
	snapshot := func(sb *sandbox.Sandbox) []string {
		srv := newServerFor(t, sb)
		r := call(t, srv, "GET", api+"contacts"+q("$select", "contactid,fullname,telephone1,mobilephone", "$orderby", "contactid"), "")
		var out []string
		for _, v := range r.values(t) {
			out = append(out, fmt.Sprint(v["contactid"], v["fullname"], v["telephone1"], v["mobilephone"]))
		}
		return out
	}
	ctx := context.Background()
	a, err := sandbox.Open(ctx, seeded())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sandbox.Open(ctx, seeded())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	first, second := snapshot(a), snapshot(b)
	known := 0
	for _, d := range sandbox.DemoNumbers {
		for _, r := range d.Records {
			if r.Entity == "contact" {
				known++
			}
		}
	}
	if len(first) != 120+known || !slices.Equal(first, second) {
		t.Errorf("two seeds differ or have the wrong size (%d and %d contacts)", len(first), len(second))
	}
	if err := a.Seed(ctx, 120); err != nil {
		t.Fatalf("seeding again: %v", err)
	}
	if again := snapshot(a); !slices.Equal(again, first) {
		t.Errorf("seeding again changed the data: %d contacts", len(again))
	}
}

func TestPersistenceAcrossOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "crm.db")
	opts := testOptions()
	opts.Path = path
	sb, err := sandbox.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := newServerFor(t, sb)
	id := createRecord(t, srv, "phonecalls", `{"subject":"kept","new_agentinteractionid":"IX-P"}`)
	etag := call(t, srv, "GET", api+"phonecalls("+id+")", "").json(t)["@odata.etag"].(string)
	srv.Close()
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen with one more custom column: the table gains it, data stays.
	opts.ExtraColumns = append(opts.ExtraColumns, "new_queue", "new_holdseconds:int")
	sb2, err := sandbox.Open(ctx, opts)
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	defer sb2.Close()
	srv2 := newServerFor(t, sb2)
	got := call(t, srv2, "GET", api+"phonecalls(new_agentinteractionid='IX-P')", "")
	wantStatus(t, got, 200)
	m := got.json(t)
	if m["subject"] != "kept" || m["activityid"] != id {
		t.Errorf("record after reopen = %v", m)
	}
	if _, ok := m["new_queue"]; !ok {
		t.Error("the new custom column is missing after reopen")
	}
	wantStatus(t, call(t, srv2, "PATCH", api+"phonecalls("+id+")", `{"new_holdseconds":42,"new_queue":"Sales"}`), 204)
	if now := call(t, srv2, "GET", api+"phonecalls("+id+")", "").json(t)["@odata.etag"]; now == etag {
		t.Error("ETag did not advance after reopen and update")
	}
}

func TestOpenRejectsBadColumns(t *testing.T) {
	tests := []struct {
		name string
		opts sandbox.Options
		msg  string
	}{
		{name: "bad name", opts: sandbox.Options{ExtraColumns: []string{"new wrap"}}, msg: "ExtraColumns[0]"},
		{name: "bad type", opts: sandbox.Options{ExtraColumns: []string{"new_x:blob"}}, msg: "unknown type"},
		{name: "clash with a built-in column", opts: sandbox.Options{ExtraColumns: []string{"subject"}}, msg: "already exists"},
		{name: "non-string alternate key", opts: sandbox.Options{ExtraColumns: []string{"new_k:int"}, AlternateKey: "new_k"}, msg: "AlternateKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb, err := sandbox.Open(context.Background(), tt.opts)
			if err == nil {
				sb.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
	// Schema names in the config are lower-cased, and typed custom columns
	// keep their types.
	_, srv := newServer(t, sandbox.Options{
		ExtraColumns: []string{"new_WrapCode", "new_score:decimal", "new_when:datetime", "new_ref:guid", "new_flag:bool", "new_count:int"},
		AlternateKey: "new_agentInteractionId",
	})
	wantStatus(t, call(t, srv, "PATCH", api+"tasks(new_agentinteractionid='T-1')",
		`{"subject":"x","new_wrapcode":"A","new_score":12.5,"new_when":"2025-03-01T20:30:00+10:00","new_ref":"{ABCDEF01-2345-6789-ABCD-EF0123456789}","new_flag":true,"new_count":3}`), 204)
	m := call(t, srv, "GET", api+"tasks(new_agentinteractionid='T-1')", "").json(t)
	want := map[string]any{"new_wrapcode": "A", "new_score": 12.5, "new_when": "2025-03-01T10:30:00Z", "new_ref": "abcdef01-2345-6789-abcd-ef0123456789", "new_flag": true, "new_count": float64(3)}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	wantError(t, call(t, srv, "PATCH", api+"tasks(new_agentinteractionid='T-1')", `{"new_score":"high"}`), 400, "0x80048d19", "Edm.Decimal")
	wantError(t, call(t, srv, "PATCH", api+"tasks(new_agentinteractionid='T-1')", `{"new_ref":"not-a-guid"}`), 400, "0x80048d19", "Edm.Guid")
}

func TestConcurrentWrites(t *testing.T) {
	_, srv := newServer(t, testOptions())
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan string, workers*each*2)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("IX-%d-%d", w, i)
				r := call(t, srv, "PATCH", api+"phonecalls(new_agentinteractionid='"+key+"')", `{"subject":"call"}`)
				if r.status != 204 {
					errs <- fmt.Sprintf("upsert %s: %d %s", key, r.status, r.body)
				}
				// Every worker also upserts one shared key.
				r = call(t, srv, "PATCH", api+"phonecalls(new_agentinteractionid='IX-SHARED')", fmt.Sprintf(`{"description":"w%d"}`, w))
				if r.status != 204 {
					errs <- fmt.Sprintf("shared upsert: %d %s", r.status, r.body)
				}
				if r := call(t, srv, "GET", api+"phonecalls"+q("$top", "5"), ""); r.status != 200 {
					errs <- fmt.Sprintf("read: %d", r.status)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	r := call(t, srv, "GET", api+"phonecalls/$count", "")
	if string(r.body) != fmt.Sprint(workers*each+1) {
		t.Errorf("phonecalls = %s, want %d", r.body, workers*each+1)
	}
}
