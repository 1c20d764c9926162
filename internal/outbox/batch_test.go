package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/dataverse"
	"github.com/ctibridge/ctibridge/internal/sandbox"
	"github.com/ctibridge/ctibridge/internal/sandbox/sandboxtest"
	"github.com/ctibridge/ctibridge/internal/store"
	"github.com/ctibridge/ctibridge/internal/testclock"
)

// crm is a sandbox CRM with the reference alternate key, the Dataverse
// executor writing to it, and a store for the outbox.
type crm struct {
	sb     *sandbox.Sandbox
	client *dataverse.Client
	x      DataverseExecutor
	db     *store.DB
}

func newCRM(t *testing.T) crm {
	t.Helper()
	sb, srv := sandboxtest.NewTestServer(t, sandbox.Options{AlternateKey: "new_agentinteractionid"})
	// One attempt per call: retries are the outbox's, as in the server.
	client, err := dataverse.New(dataverse.Config{OrgURL: srv.URL, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return crm{sb: sb, client: client, x: DataverseExecutor{Client: client}, db: openDB(t, "")}
}

// requests returns the sandbox's count of HTTP requests and of operations
// inside $batch requests, as "METHOD set" → count.
func (c crm) requests() (sent, batched map[string]int64) {
	st := c.sb.Stats()
	return st.Requests, st.BatchOperations
}

// phoneCalls returns the phone calls in the CRM by subject.
func (c crm) phoneCalls(t *testing.T) map[string]dataverse.Record {
	t.Helper()
	page, err := c.client.RetrieveMultiple(context.Background(), "phonecalls", "?$select=subject,statecode,_regardingobjectid_value,new_agentinteractionid")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]dataverse.Record{}
	for _, r := range page.Records {
		out[fmt.Sprint(r["subject"])] = r
	}
	return out
}

// upsertCall is the phone call a connected call writes, by its alternate key.
func upsertCall(ix string) activity.Write {
	return activity.Write{Op: activity.OpUpsert, EntitySet: "phonecalls", Entity: "phonecall",
		KeyColumn: "new_agentinteractionid", KeyValue: ix, Body: map[string]any{"subject": "Call " + ix},
		IdempotencyKey: ix + "/create-activity", Step: activity.StepCreateActivity}
}

// createCall is the phone call written without an alternate key: a create
// with the primary key the planner derived.
func createCall(ix, id string) activity.Write {
	return activity.Write{Op: activity.OpCreate, EntitySet: "phonecalls", Entity: "phonecall", RecordID: id,
		Body:           map[string]any{"activityid": id, "subject": "Call " + ix},
		IdempotencyKey: ix + "/create-activity", Step: activity.StepCreateActivity}
}

// wrapCall writes the wrap and completes the call made by create.
func wrapCall(ix string, create activity.Write) activity.Write {
	return activity.Write{Op: activity.OpUpdate, EntitySet: "phonecalls", Entity: "phonecall",
		KeyColumn: create.KeyColumn, KeyValue: create.KeyValue, RecordID: create.RecordID,
		Body:           map[string]any{"description": "Wrap: Sale (1)", "statecode": 1, "statuscode": 4},
		IdempotencyKey: ix + "/wrap", Step: activity.StepWrap}
}

// relateCall sets the call's regarding record.
func relateCall(ix string, create activity.Write, contactID string) activity.Write {
	return activity.Write{Op: activity.OpUpdate, EntitySet: "phonecalls", Entity: "phonecall",
		KeyColumn: create.KeyColumn, KeyValue: create.KeyValue, RecordID: create.RecordID,
		Body:           map[string]any{"regardingobjectid_contact_phonecall@odata.bind": "/contacts(" + contactID + ")"},
		IdempotencyKey: ix + "/relate/1", Step: activity.StepRelate}
}

func entries(t *testing.T, o *Outbox, ix string) []Entry {
	t.Helper()
	es, err := o.Entries(context.Background(), ix)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestSeveralDueWritesGoToTheCRMAsOneBatch(t *testing.T) {
	c := newCRM(t)
	ixs := []string{"IX-1", "IX-2", "IX-3", "IX-4", "IX-5"}
	for _, ix := range ixs {
		enqueue(t, c.db, ix, upsertCall(ix))
	}
	var sizes []int
	opt := quietOptions()
	opt.ObserveBatch = func(n int) { sizes = append(sizes, n) }
	o := New(store.NewOutbox(c.db), c.x, opt)
	drain(t, o)

	sent, batched := c.requests()
	if sent["POST $batch"] != 1 || sent["PATCH phonecalls"] != 0 || batched["PATCH phonecalls"] != 5 {
		t.Errorf("requests %v, batched %v; want the 5 upserts in one $batch", sent, batched)
	}
	if !slices.Equal(sizes, []int{5}) {
		t.Errorf("observed batches %v, want one of 5", sizes)
	}
	calls := c.phoneCalls(t)
	for _, ix := range ixs {
		e := entries(t, o, ix)[0]
		if e.Status != StatusDone || e.Attempts != 1 || e.RecordID == "" || calls["Call "+ix]["activityid"] != e.RecordID {
			t.Errorf("%s: %+v, want done once with the id of %v", ix, e, calls["Call "+ix])
		}
	}
}

func TestALoneWriteIsNotBatched(t *testing.T) {
	c := newCRM(t)
	enqueue(t, c.db, "IX-1", upsertCall("IX-1"))
	drain(t, New(store.NewOutbox(c.db), c.x, quietOptions()))
	if sent, _ := c.requests(); sent["PATCH phonecalls"] != 1 || sent["POST $batch"] != 0 {
		t.Errorf("requests %v, want the lone upsert sent alone", sent)
	}
}

func TestMaxBatchOneSendsEveryWriteAlone(t *testing.T) {
	c := newCRM(t)
	for _, ix := range []string{"IX-1", "IX-2", "IX-3"} {
		enqueue(t, c.db, ix, upsertCall(ix))
	}
	opt := quietOptions()
	opt.MaxBatch = 1
	drain(t, New(store.NewOutbox(c.db), c.x, opt))
	if sent, _ := c.requests(); sent["PATCH phonecalls"] != 3 || sent["POST $batch"] != 0 {
		t.Errorf("requests %v, want three lone upserts", sent)
	}
}

// Each batch holds one write per interaction, so a call's relate and wrap
// follow its create in later batches, and a call with more writes than the
// others finishes alone.
func TestBatchesKeepEachCallsWritesInOrder(t *testing.T) {
	c := newCRM(t)
	contactID, err := c.client.Create(context.Background(), "contacts", map[string]any{"lastname": "Lee"})
	if err != nil {
		t.Fatal(err)
	}
	c.sb.ResetStats()
	one := upsertCall("IX-1")
	enqueue(t, c.db, "IX-1", one, relateCall("IX-1", one, contactID), wrapCall("IX-1", one))
	for _, ix := range []string{"IX-2", "IX-3"} {
		create := upsertCall(ix)
		enqueue(t, c.db, ix, create, wrapCall(ix, create))
	}
	o := New(store.NewOutbox(c.db), c.x, quietOptions())
	drain(t, o)

	sent, batched := c.requests()
	// Batches: the three creates; IX-1's relate with the two wraps; then
	// IX-1's wrap alone.
	if sent["POST $batch"] != 2 || batched["PATCH phonecalls"] != 6 || sent["PATCH phonecalls"] != 1 {
		t.Errorf("requests %v, batched %v; want two $batch of three and IX-1's wrap alone", sent, batched)
	}
	calls := c.phoneCalls(t)
	for _, ix := range []string{"IX-1", "IX-2", "IX-3"} {
		for _, e := range entries(t, o, ix) {
			if e.Status != StatusDone {
				t.Errorf("%s: %+v, want done", e.Write.IdempotencyKey, e)
			}
		}
		if fmt.Sprint(calls["Call "+ix]["statecode"]) != "1" {
			t.Errorf("%s: %v, want completed", ix, calls["Call "+ix])
		}
	}
	if got := calls["Call IX-1"]["_regardingobjectid_value"]; got != contactID {
		t.Errorf("IX-1 regarding %v, want %s", got, contactID)
	}
}

// A related record Dataverse cannot find fails only its own part; the
// activity is then created unrelated, alone, as a lone write would be.
func TestARefusedBindingInABatchStillCreatesTheActivityUnrelated(t *testing.T) {
	c := newCRM(t)
	refused := upsertCall("IX-1")
	refused.Body["regardingobjectid_contact_phonecall@odata.bind"] = "/contacts(00000000-0000-0000-0000-0000000000ff)"
	enqueue(t, c.db, "IX-1", refused)
	enqueue(t, c.db, "IX-2", upsertCall("IX-2"))
	o := New(store.NewOutbox(c.db), c.x, quietOptions())
	drain(t, o)

	sent, batched := c.requests()
	if sent["POST $batch"] != 1 || batched["PATCH phonecalls"] != 2 || sent["PATCH phonecalls"] != 1 {
		t.Errorf("requests %v, batched %v; want one $batch of two, then IX-1 again alone", sent, batched)
	}
	calls := c.phoneCalls(t)
	if r, ok := calls["Call IX-1"]; !ok || r["_regardingobjectid_value"] != nil {
		t.Errorf("IX-1 call = %v, want it created without regarding", r)
	}
	for _, ix := range []string{"IX-1", "IX-2"} {
		if e := entries(t, o, ix)[0]; e.Status != StatusDone || e.Attempts != 1 {
			t.Errorf("%s: %+v, want done in one attempt", ix, e)
		}
	}
}

// A write Dataverse refuses for good fails alone; the others of its batch
// are done.
func TestAPermanentlyRefusedWriteFailsAloneInItsBatch(t *testing.T) {
	c := newCRM(t)
	bad := upsertCall("IX-2")
	bad.Body["new_nosuchcolumn"] = "x"
	enqueue(t, c.db, "IX-1", upsertCall("IX-1"))
	enqueue(t, c.db, "IX-2", bad)
	enqueue(t, c.db, "IX-3", upsertCall("IX-3"))
	o := New(store.NewOutbox(c.db), c.x, quietOptions())
	drain(t, o)

	if sent, _ := c.requests(); sent["POST $batch"] != 1 || sent["PATCH phonecalls"] != 0 {
		t.Errorf("requests %v, want one $batch and nothing sent again", sent)
	}
	if e := entries(t, o, "IX-2")[0]; e.Status != StatusFailed || !strings.Contains(e.LastError, "new_nosuchcolumn") {
		t.Errorf("IX-2: %+v, want failed with the CRM's message", e)
	}
	for _, ix := range []string{"IX-1", "IX-3"} {
		if e := entries(t, o, ix)[0]; e.Status != StatusDone {
			t.Errorf("%s: %+v, want done", ix, e)
		}
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func TestAThrottledBatchRetriesEveryWriteAfterRetryAfter(t *testing.T) {
	c := newCRM(t)
	if err := c.sb.SetFaults(sandbox.Faults{ThrottleCount: 1, RetryAfterSeconds: 30, EntitySets: []string{"$batch"}}); err != nil {
		t.Fatal(err)
	}
	ixs := []string{"IX-1", "IX-2", "IX-3"}
	for _, ix := range ixs {
		enqueue(t, c.db, ix, upsertCall(ix))
	}
	clk := testclock.New(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	outcomes := map[string]int{}
	opt := quietOptions()
	opt.Now = clk.Now
	opt.Observe = func(_ activity.Write, outcome string, _ error) { mu.Lock(); outcomes[outcome]++; mu.Unlock() }
	o := New(store.NewOutbox(c.db), c.x, opt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	retried := func() bool { mu.Lock(); defer mu.Unlock(); return outcomes["retry"] == 3 }
	waitFor(t, "the throttled batch's writes to be rescheduled", retried)
	for _, ix := range ixs {
		e := entries(t, o, ix)[0]
		var next int64
		c.db.QueryRow(`SELECT next_attempt_at FROM outbox WHERE seq = ?`, e.Seq).Scan(&next)
		if e.Status != StatusPending || !strings.Contains(e.LastError, "429") || time.UnixMilli(next).Sub(clk.Now()) < 30*time.Second {
			t.Errorf("%s: %+v next attempt at %v, want pending until the 30 s Retry-After", ix, e, time.UnixMilli(next).UTC())
		}
	}
	time.Sleep(50 * time.Millisecond) // polls that must not send anything
	if sent, _ := c.requests(); sent["POST $batch"] != 1 {
		t.Fatalf("requests %v before Retry-After, want the throttled $batch only", sent)
	}

	clk.Advance(31 * time.Second)
	waitFor(t, "the writes to be done", func() bool { n, _ := o.Depth(context.Background()); return n == 0 })
	sent, batched := c.requests()
	if sent["POST $batch"] != 2 || batched["PATCH phonecalls"] != 3 || sent["PATCH phonecalls"] != 0 {
		t.Errorf("requests %v, batched %v; want the batch sent again whole after Retry-After", sent, batched)
	}
	if n := len(c.phoneCalls(t)); n != 3 {
		t.Errorf("%d phone calls, want 3", n)
	}
}

// A batch sent just before the process was killed, its answers never
// recorded, is sent again after the restart. Each part then meets its own
// earlier effect: a derived-id create answers 412, an upsert updates its
// record, a completion finds its record completed; all count as done,
// without a second record.
func TestABatchSentAgainAfterACrashDuplicatesNothing(t *testing.T) {
	c := newCRM(t)
	ctx := context.Background()
	creates := []BatchWrite{
		{"IX-1", createCall("IX-1", "0f8fad5b-d9cb-469f-a165-70867728950e")},
		{"IX-2", createCall("IX-2", "7c9e6679-7425-40de-944b-e07fc1f90ae7")},
		{"IX-3", upsertCall("IX-3")},
	}
	var wraps []BatchWrite
	for _, bw := range creates {
		wraps = append(wraps, BatchWrite{bw.InteractionID, wrapCall(bw.InteractionID, bw.Write)})
		enqueue(t, c.db, bw.InteractionID, bw.Write, wraps[len(wraps)-1].Write)
	}
	sentBeforeTheCrash := func(batch []BatchWrite) {
		t.Helper()
		outcomes, err := c.x.ExecuteBatch(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, oc := range outcomes {
			if oc.Err != nil {
				t.Fatalf("%s before the crash: %v", batch[i].Write.IdempotencyKey, oc.Err)
			}
		}
	}

	// The creates went out, then the process died.
	sentBeforeTheCrash(creates)
	// After the restart they go out again and are recorded; then the wraps
	// went out, and the process died again.
	o := New(store.NewOutbox(c.db), c.x, quietOptions())
	heads, err := o.dueHeads(ctx, 10)
	if err != nil || len(heads) != 3 {
		t.Fatalf("due after the first restart: %v, %v; want the three creates", heads, err)
	}
	o.attemptBatch(ctx, c.x, heads)
	for _, e := range heads {
		o.release(e.InteractionID)
	}
	sentBeforeTheCrash(wraps)
	// After the second restart the wraps go out again.
	o = New(store.NewOutbox(c.db), c.x, quietOptions())
	drain(t, o)

	calls := c.phoneCalls(t)
	if len(calls) != 3 {
		t.Errorf("%d phone calls, want 3: %v", len(calls), calls)
	}
	for _, bw := range creates {
		ix := bw.InteractionID
		if fmt.Sprint(calls["Call "+ix]["statecode"]) != "1" {
			t.Errorf("%s: %v, want completed", ix, calls["Call "+ix])
		}
		es := entries(t, o, ix)
		for _, e := range es {
			if e.Status != StatusDone || e.Attempts != 1 {
				t.Errorf("%s: %+v, want done on the first attempt after its restart", e.Write.IdempotencyKey, e)
			}
		}
		if es[0].RecordID != fmt.Sprint(calls["Call "+ix]["activityid"]) {
			t.Errorf("%s create recorded id %q, want the existing record's", ix, es[0].RecordID)
		}
	}
}

// batchingExecutor runs writes as scriptedExecutor does and records which
// went alone and which in batches; whole batches fail as batchErrs says.
type batchingExecutor struct {
	*scriptedExecutor
	bmu       sync.Mutex
	alone     []string
	batches   [][]string
	batchErrs []error
}

func (x *batchingExecutor) Execute(ctx context.Context, ix string, w activity.Write) (string, error) {
	x.bmu.Lock()
	x.alone = append(x.alone, w.IdempotencyKey)
	x.bmu.Unlock()
	return x.scriptedExecutor.Execute(ctx, ix, w)
}

func (x *batchingExecutor) ExecuteBatch(ctx context.Context, writes []BatchWrite) ([]Outcome, error) {
	x.bmu.Lock()
	var keys []string
	for _, bw := range writes {
		keys = append(keys, bw.Write.IdempotencyKey)
	}
	x.batches = append(x.batches, keys)
	var err error
	if len(x.batchErrs) > 0 {
		err, x.batchErrs = x.batchErrs[0], x.batchErrs[1:]
	}
	x.bmu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make([]Outcome, len(writes))
	for i, bw := range writes {
		out[i].RecordID, out[i].Err = x.scriptedExecutor.Execute(ctx, bw.InteractionID, bw.Write)
	}
	return out, nil
}

func TestAWriteThatFailedInABatchIsRetriedAloneWhileTheOthersAreDone(t *testing.T) {
	db := openDB(t, "")
	for _, ix := range []string{"IX-1", "IX-2", "IX-3"} {
		enqueue(t, db, ix, write(ix, "create"))
	}
	x := &batchingExecutor{scriptedExecutor: &scriptedExecutor{fail: map[string][]error{"IX-2/create": {temporary{}}}}}
	o := New(store.NewOutbox(db), x, quietOptions())
	drain(t, o)
	if fmt.Sprint(x.batches) != "[[IX-1/create IX-2/create IX-3/create]]" || fmt.Sprint(x.alone) != "[IX-2/create]" {
		t.Errorf("batches %v, alone %v; want one batch of three, then IX-2 alone", x.batches, x.alone)
	}
	for ix, attempts := range map[string]int{"IX-1": 1, "IX-2": 2, "IX-3": 1} {
		if e := entries(t, o, ix)[0]; e.Status != StatusDone || e.Attempts != attempts {
			t.Errorf("%s: %+v, want done after %d attempts", ix, e, attempts)
		}
	}
}

func TestABatchRefusedAsAWholeIsSentOneWriteAtATime(t *testing.T) {
	db := openDB(t, "")
	for _, ix := range []string{"IX-1", "IX-2", "IX-3"} {
		enqueue(t, db, ix, write(ix, "create"))
	}
	x := &batchingExecutor{scriptedExecutor: &scriptedExecutor{}, batchErrs: []error{errors.New("400 the $batch body is not valid multipart")}}
	o := New(store.NewOutbox(db), x, quietOptions())
	drain(t, o)
	if len(x.batches) != 1 || fmt.Sprint(x.alone) != "[IX-1/create IX-2/create IX-3/create]" {
		t.Errorf("batches %v, alone %v; want the refused batch's writes sent one by one", x.batches, x.alone)
	}
	for _, ix := range []string{"IX-1", "IX-2", "IX-3"} {
		if e := entries(t, o, ix)[0]; e.Status != StatusDone || e.Attempts != 1 {
			t.Errorf("%s: %+v, want done in one attempt", ix, e)
		}
	}
}

// Under retries, no batch holds two writes of one call, and each call's
// writes succeed in the order they were queued.
func TestBatchesNeverReorderACallsWrites(t *testing.T) {
	db := openDB(t, "")
	steps := []string{"create", "relate", "wrap"}
	fail := map[string][]error{}
	for i := range 20 {
		ix := fmt.Sprintf("IX-%d", i)
		var ws []activity.Write
		for _, s := range steps {
			ws = append(ws, write(ix, s))
		}
		enqueue(t, db, ix, ws...)
		if i%3 == 0 {
			fail[ix+"/"+steps[(i/3)%len(steps)]] = []error{temporary{}, temporary{}}
		}
	}
	failures := map[string]int{}
	for k, errs := range fail {
		failures[k] = len(errs)
	}
	x := &batchingExecutor{scriptedExecutor: &scriptedExecutor{fail: fail}}
	opt := quietOptions()
	opt.Concurrency = 2
	opt.MaxBatch = 4
	drain(t, New(store.NewOutbox(db), x, opt))

	for _, b := range x.batches {
		seen := map[string]bool{}
		for _, key := range b {
			ix, _, _ := strings.Cut(key, "/")
			if seen[ix] {
				t.Errorf("batch %v holds two writes of %s", b, ix)
			}
			seen[ix] = true
		}
		if len(b) > 4 {
			t.Errorf("batch %v is over MaxBatch 4", b)
		}
	}
	// Each run of a write is in x.ran; a call's next write may only run
	// once the one before it stopped failing.
	next := map[string]int{}
	for _, key := range strings.Split(x.history(), ",") {
		ix, step, _ := strings.Cut(key, "/")
		if want := steps[next[ix]]; step != want {
			t.Fatalf("%s ran while %s/%s was not done (history %s)", key, ix, want, x.history())
		}
		if failures[key] > 0 {
			failures[key]--
			continue
		}
		next[ix]++
	}
	if len(x.batches) == 0 {
		t.Error("nothing was batched")
	}
}

func TestSplitMakesTheFewestEvenGroups(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		size  int
		sizes []int
	}{
		{name: "nothing", n: 0, size: 100, sizes: nil},
		{name: "one", n: 1, size: 100, sizes: []int{1}},
		{name: "fits one batch", n: 100, size: 100, sizes: []int{100}},
		{name: "one over is two halves, not 100 and 1", n: 101, size: 100, sizes: []int{50, 51}},
		{name: "unbatched", n: 3, size: 1, sizes: []int{1, 1, 1}},
		{name: "uneven", n: 7, size: 3, sizes: []int{2, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			due := make([]Entry, tt.n)
			for i := range due {
				due[i].Seq = int64(i)
			}
			var sizes []int
			var seqs []int64
			for _, g := range split(due, tt.size) {
				sizes = append(sizes, len(g))
				for _, e := range g {
					seqs = append(seqs, e.Seq)
				}
			}
			if !slices.Equal(sizes, tt.sizes) {
				t.Errorf("sizes %v, want %v", sizes, tt.sizes)
			}
			for i, s := range seqs {
				if s != int64(i) {
					t.Fatalf("groups hold %v, want every entry once, in order", seqs)
				}
			}
		})
	}
}

// blockingExecutor holds the writes of one interaction until released.
type blockingExecutor struct {
	scriptedExecutor
	hold    string
	release chan struct{}
}

func (x *blockingExecutor) Execute(ctx context.Context, ix string, w activity.Write) (string, error) {
	if ix == x.hold {
		select {
		case <-x.release:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return x.scriptedExecutor.Execute(ctx, ix, w)
}

// A slow write holds its own slot, not the queue: the writes of other
// calls, queued after it, still go out through the free slots.
func TestASlowWriteDoesNotHoldUpOtherCalls(t *testing.T) {
	db := openDB(t, "")
	x := &blockingExecutor{hold: "IX-1", release: make(chan struct{})}
	opt := quietOptions()
	opt.Concurrency = 2
	o := New(store.NewOutbox(db), x, opt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	enqueue(t, db, "IX-1", write("IX-1", "create"))
	o.Notify()
	waitFor(t, "IX-1 to be taken", func() bool { o.mu.Lock(); defer o.mu.Unlock(); return o.inFlight["IX-1"] })
	enqueue(t, db, "IX-2", write("IX-2", "create"))
	o.Notify()
	waitFor(t, "IX-2 to be written while IX-1 hangs", func() bool { return entries(t, o, "IX-2")[0].Status == StatusDone })
	close(x.release)
	waitFor(t, "IX-1 to be written once released", func() bool { return entries(t, o, "IX-1")[0].Status == StatusDone })
}
