// Package outbox is the durable queue of CRM writes. Every write the
// activity planner produces is stored in the store, in the same transaction as
// the call state that implied it, before anything is sent to the CRM. Writes
// run in order per interaction, are retried with backoff (honouring the
// CRM's Retry-After), and survive a restart: a process killed mid-call
// loses nothing, and because every write is idempotent (upsert by the
// interaction id, or a state change that is the same the second time), a
// write that ran just before the kill and runs again duplicates nothing.
// Writes of different interactions that are due together go to the CRM
// in one request when the executor can batch (BatchExecutor), each still
// with an outcome of its own.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/dataverse"
	"github.com/ctibridge/ctibridge/internal/store"
)

// Executor runs one CRM write and returns the id of the record written.
type Executor interface {
	Execute(ctx context.Context, interactionID string, w activity.Write) (recordID string, err error)
}

// BatchExecutor is an Executor that can also run writes of different
// interactions together, in one request to the CRM.
type BatchExecutor interface {
	Executor
	// ExecuteBatch runs writes, no two of the same interaction and all
	// made as the same caller (activity.Write.Caller), and returns
	// one Outcome per write, in order, each what Execute would have
	// returned for it. An error means the batch failed as a whole (the CRM
	// throttled or refused it, or could not be reached) and no write has an
	// outcome.
	ExecuteBatch(ctx context.Context, writes []BatchWrite) ([]Outcome, error)
}

// BatchWrite is one write of a batch, with its interaction.
type BatchWrite struct {
	InteractionID string
	Write         activity.Write
}

// Outcome is what became of one write of a batch.
type Outcome struct {
	RecordID string
	Err      error
}

// Retryable is implemented by executor errors that say whether trying again
// can help (throttling, a 5xx, a lost connection) and how long the CRM asked
// to wait. Errors that don't implement it are treated as permanent.
type Retryable interface {
	Retryable() bool
	RetryAfterDelay() time.Duration
}

// Status of a queued write.
const (
	StatusPending = "pending"
	StatusDone    = "done"
	StatusFailed  = "failed" // permanent error: kept with its message for an operator
	// StatusSuperseded: replaced by a later write of the same step of its
	// interaction before it went out (activity.Step.Replaces).
	StatusSuperseded = "superseded"
)

// Options tune the outbox.
type Options struct {
	// Concurrency is how many interactions' writes run at once (default 8).
	Concurrency int
	// BaseBackoff and MaxBackoff bound the retry delay (defaults 500ms, 5m).
	BaseBackoff, MaxBackoff time.Duration
	// MaxBatch is how many writes, of as many interactions, may go to the
	// CRM in one request when several are due at once and the executor is
	// a BatchExecutor (default 100, at most 1000, Dataverse's limit per
	// $batch; 1 sends every write alone). A write due alone goes alone.
	MaxBatch int
	// MaxAttempts after which a retryable write is marked failed (default
	// 0: keep trying; a CRM outage must not lose activities).
	MaxAttempts int
	// PollInterval is how often the queue is checked without a Notify
	// (default 1s).
	PollInterval time.Duration
	// Retention is how long written (done) writes are kept before Run
	// deletes them, hourly (default 7 days; negative keeps them for ever).
	// Failed writes are kept for an operator; pending ones until written.
	Retention time.Duration
	// Observe, if set, is called after every attempt (for metrics).
	Observe func(w activity.Write, outcome string, err error)
	// ObserveBatch, if set, is called after every batch the CRM answered,
	// with the number of writes in it (for metrics).
	ObserveBatch func(writes int)
	Log          *slog.Logger
	Now          func() time.Time
}

// Queue is the outbox table (internal/store.Outbox, on SQLite or
// PostgreSQL).
type Queue interface {
	Enqueue(ctx context.Context, interactionID string, writes []store.QueuedWrite, now time.Time) error
	DueHeads(ctx context.Context, now time.Time, limit int, each func(store.Head) bool) error
	Record(ctx context.Context, outcomes []store.Outcome) error
	Depth(ctx context.Context) (int, error)
	Entries(ctx context.Context, interactionID string) ([]store.Entry, error)
	Sweep(ctx context.Context, cutoff time.Time) (int64, error)
	RecordID(ctx context.Context, idempotencyKey string) (string, error)
}

// Outbox is the durable write queue over the store's outbox table.
type Outbox struct {
	queue Queue
	exec  Executor
	opt   Options
	wake  chan struct{}

	mu       sync.Mutex
	inFlight map[string]bool // interaction ids being worked on
}

// New returns an Outbox over queue running writes with exec.
func New(queue Queue, exec Executor, opt Options) *Outbox {
	if opt.Concurrency <= 0 {
		opt.Concurrency = 8
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 100
	}
	opt.MaxBatch = min(opt.MaxBatch, maxBatch)
	if opt.BaseBackoff <= 0 {
		opt.BaseBackoff = 500 * time.Millisecond
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 5 * time.Minute
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = time.Second
	}
	if opt.Retention == 0 {
		opt.Retention = 7 * 24 * time.Hour
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Outbox{queue: queue, exec: exec, opt: opt, wake: make(chan struct{}, 1), inFlight: make(map[string]bool)}
}

// Encode prepares writes for the queue: each as JSON, with what the
// queue needs to know of it.
func Encode(writes []activity.Write) ([]store.QueuedWrite, error) {
	queued := make([]store.QueuedWrite, len(writes))
	for i, w := range writes {
		if w.IdempotencyKey == "" {
			return nil, fmt.Errorf("write %d (%s %s): has no idempotency key", i, w.Op, w.EntitySet)
		}
		data, err := json.Marshal(w)
		if err != nil {
			return nil, fmt.Errorf("encode write %s: %w", w.IdempotencyKey, err)
		}
		queued[i] = store.QueuedWrite{IdempotencyKey: w.IdempotencyKey, Step: string(w.Step), Replaces: w.Step.Replaces(), Data: string(data)}
	}
	return queued, nil
}

// Enqueue stores writes for an interaction in a transaction of their own.
// A write whose IdempotencyKey is already queued (or done) is skipped.
// (A call's writes are queued with the call, in its transaction:
// internal/store.Calls.SaveAll.)
//
// A write whose step replaces earlier ones (activity.Step.Replaces: a
// relate) supersedes the pending writes of that step of the interaction:
// an agent who changes the selection ten times before the first relate
// goes out costs one request, not ten. The later write runs after
// everything queued before it, so the CRM ends as it would have.
func (o *Outbox) Enqueue(ctx context.Context, interactionID string, writes []activity.Write, now time.Time) error {
	queued, err := Encode(writes)
	if err != nil {
		return err
	}
	return o.queue.Enqueue(ctx, interactionID, queued, now)
}

// Notify wakes the workers after new writes were committed.
func (o *Outbox) Notify() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Depth returns how many writes are pending.
func (o *Outbox) Depth(ctx context.Context) (int, error) {
	return o.queue.Depth(ctx)
}

// Entry is one queued write as stored.
type Entry struct {
	Seq           int64
	InteractionID string
	Write         activity.Write
	Status        string
	Attempts      int
	LastError     string
	RecordID      string
}

// RecordID returns the id of the record the write with idempotencyKey
// wrote, or "" when it has not been written (or was swept). One read by
// the key's unique index.
func (o *Outbox) RecordID(ctx context.Context, idempotencyKey string) (string, error) {
	id, err := o.queue.RecordID(ctx, idempotencyKey)
	if err != nil {
		return "", fmt.Errorf("look up the record written by %s: %w", idempotencyKey, err)
	}
	return id, nil
}

// Entries returns the queued writes of one interaction in order.
func (o *Outbox) Entries(ctx context.Context, interactionID string) ([]Entry, error) {
	stored, err := o.queue.Entries(ctx, interactionID)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(stored))
	for i, s := range stored {
		out[i] = Entry{Seq: s.Seq, InteractionID: s.InteractionID, Status: s.Status, Attempts: s.Attempts, LastError: s.LastError, RecordID: s.RecordID}
		if err := json.Unmarshal([]byte(s.Write), &out[i].Write); err != nil {
			return nil, fmt.Errorf("outbox entry %d: %w", s.Seq, err)
		}
	}
	return out, nil
}

// Timeouts of one attempt. A write that hangs must not hold its slot (and
// its call's later writes) for ever: it is abandoned, and retried, after a
// minute. A batch gets the two minutes Dataverse allows a $batch to run.
const (
	writeTimeout = time.Minute
	batchTimeout = 2 * time.Minute
)

// maxBatch is Dataverse's limit of requests in one $batch.
const maxBatch = dataverse.MaxBatchRequests

// Run works the queue until ctx ends. It returns after the writes in
// progress have finished.
//
// The queue is read only when a slot is free, so writes that come due
// while every slot is busy wait in the table and go out together: one due
// write goes alone, several go as batches of up to MaxBatch, one slot
// each, when the executor can batch.
func (o *Outbox) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, o.opt.Concurrency)
	ticker := time.NewTicker(o.opt.PollInterval)
	defer ticker.Stop()
	if o.opt.Retention > 0 {
		wg.Go(func() { o.sweepHourly(ctx) })
	}
	bx, canBatch := o.exec.(BatchExecutor)
	batchSize := 1
	if canBatch {
		batchSize = o.opt.MaxBatch
	}
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		// Only this loop takes slots, so as many as are free now stay free
		// until it takes them: claim no more heads than they can carry.
		free := cap(slots) - len(slots) + 1
		due, err := o.dueHeads(ctx, free*batchSize)
		if err != nil && ctx.Err() == nil {
			o.opt.Log.Error("read outbox", "err", err)
		}
		// A $batch carries one caller (impersonation): writes made as
		// different agents go in different batches. Groups past the free
		// slots wait below for one to free.
		groups := splitByCaller(due, batchSize)
		for i, group := range groups {
			if i > 0 {
				slots <- struct{}{} // free, as counted above
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				if len(group) == 1 {
					o.attempt(ctx, group[0])
				} else {
					o.attemptBatch(ctx, bx, group)
				}
				for _, e := range group {
					o.release(e.InteractionID)
				}
				o.Notify()
			}()
		}
		if len(groups) == 0 {
			<-slots
		}
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-ticker.C:
		}
	}
}

// sweepHourly deletes written writes past the retention, at start and
// then every hour, until ctx ends.
func (o *Outbox) sweepHourly(ctx context.Context) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if n, err := o.Sweep(ctx, o.opt.Now().Add(-o.opt.Retention)); err != nil && ctx.Err() == nil {
			o.opt.Log.Error("sweep written writes from the outbox", "err", err)
		} else if n > 0 {
			o.opt.Log.Info("swept written writes from the outbox", "writes", n, "written_before", o.opt.Now().Add(-o.opt.Retention).Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Sweep deletes the writes that were written (done), or replaced before
// they were sent (superseded), before cutoff and returns how many. Without
// it the table grows with every call. A done write is needed only while
// its call may still see redelivered events, which find their call in the
// calls table: deleting one costs at most a repeated, idempotent request
// if it is ever planned again.
func (o *Outbox) Sweep(ctx context.Context, cutoff time.Time) (int64, error) {
	n, err := o.queue.Sweep(ctx, cutoff)
	if err != nil {
		return n, fmt.Errorf("sweep outbox: %w", err)
	}
	return n, nil
}

// splitByCaller cuts due into groups of at most size whose writes are
// made as one caller (activity.Write.Caller), each as split cuts it.
func splitByCaller(due []Entry, size int) [][]Entry {
	var keys []string
	byCaller := map[string][]Entry{}
	for _, e := range due {
		k := e.Write.Caller.Key()
		if _, ok := byCaller[k]; !ok {
			keys = append(keys, k)
		}
		byCaller[k] = append(byCaller[k], e)
	}
	if len(keys) == 1 {
		return split(due, size)
	}
	var groups [][]Entry
	for _, k := range keys {
		groups = append(groups, split(byCaller[k], size)...)
	}
	return groups
}

// split cuts due into the fewest groups of at most size, as even as can be.
func split(due []Entry, size int) [][]Entry {
	if len(due) == 0 {
		return nil
	}
	n := (len(due) + size - 1) / size
	groups := make([][]Entry, 0, n)
	for i := range n {
		groups = append(groups, due[i*len(due)/n:(i+1)*len(due)/n])
	}
	return groups
}

// dueHeads claims up to want first pending writes of interactions, those
// that are due and not already being worked on.
func (o *Outbox) dueHeads(ctx context.Context, want int) ([]Entry, error) {
	if want <= 0 {
		return nil, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	// The heads being worked on are still pending and come back too.
	limit := want + len(o.inFlight)
	var out []Entry
	err := o.queue.DueHeads(ctx, o.opt.Now(), limit, func(h store.Head) bool {
		if o.inFlight[h.InteractionID] {
			return true
		}
		e := Entry{Seq: h.Seq, InteractionID: h.InteractionID, Attempts: h.Attempts}
		if err := json.Unmarshal([]byte(h.Write), &e.Write); err != nil {
			// Cannot happen for rows Enqueue wrote; keep the row for an operator.
			o.opt.Log.Error("undecodable outbox entry", "seq", e.Seq, "err", err)
			return true
		}
		o.inFlight[e.InteractionID] = true
		out = append(out, e)
		return len(out) < want
	})
	return out, err
}

func (o *Outbox) release(interactionID string) {
	o.mu.Lock()
	delete(o.inFlight, interactionID)
	o.mu.Unlock()
}

// attempt runs one write alone.
func (o *Outbox) attempt(ctx context.Context, e Entry) {
	execCtx, cancel := context.WithTimeout(ctx, writeTimeout)
	id, err := o.exec.Execute(execCtx, e.InteractionID, e.Write)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: the write stays pending and runs after restart
	}
	o.record(ctx, []attempted{{e, id, err}})
}

// attemptBatch runs writes of different interactions in one request.
func (o *Outbox) attemptBatch(ctx context.Context, bx BatchExecutor, batch []Entry) {
	writes := make([]BatchWrite, len(batch))
	for i, e := range batch {
		writes[i] = BatchWrite{InteractionID: e.InteractionID, Write: e.Write}
	}
	execCtx, cancel := context.WithTimeout(ctx, batchTimeout)
	outcomes, err := bx.ExecuteBatch(execCtx, writes)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: the writes stay pending and run after restart
	}
	if err == nil && len(outcomes) != len(batch) {
		err = fmt.Errorf("outbox: the executor answered %d writes of a batch of %d", len(outcomes), len(batch))
	}
	results := make([]attempted, len(batch))
	switch {
	case err == nil:
		if o.opt.ObserveBatch != nil {
			o.opt.ObserveBatch(len(batch))
		}
		for i, e := range batch {
			results[i] = attempted{e, outcomes[i].RecordID, outcomes[i].Err}
		}
	case isRetryable(err):
		// Throttled or unreachable as a whole: every write waits its
		// Retry-After and is tried again, alone or in another batch.
		for i, e := range batch {
			results[i] = attempted{e, "", err}
		}
	default:
		// Refused as a whole, for a reason no write of it is known to
		// have: each runs alone and gets an answer of its own.
		o.opt.Log.Warn("CRM refused a batch, sending its writes one by one", "writes", len(batch), "err", err)
		for _, e := range batch {
			o.attempt(ctx, e)
		}
		return
	}
	o.record(ctx, results)
}

// attempted is a write with what its attempt returned.
type attempted struct {
	e        Entry
	recordID string
	err      error
}

// record stores the outcomes of attempts (a batch's in one transaction):
// done, retry later, or failed for good.
func (o *Outbox) record(ctx context.Context, results []attempted) {
	now := o.opt.Now()
	outcomes := make([]string, len(results))
	updates := make([]store.Outcome, len(results))
	for i, r := range results {
		e, err := r.e, r.err
		attempts := e.Attempts + 1
		updates[i] = store.Outcome{Seq: e.Seq, Attempts: attempts, At: now}
		switch {
		case err == nil:
			outcomes[i] = "done"
			updates[i].Status, updates[i].RecordID = StatusDone, r.recordID
		case isRetryable(err) && (o.opt.MaxAttempts == 0 || attempts < o.opt.MaxAttempts):
			outcomes[i] = "retry"
			delay := o.backoff(attempts, err)
			o.opt.Log.Warn("CRM write failed, will retry", "interaction", e.InteractionID, "step", e.Write.Step, "attempt", attempts, "retry_in", delay.String(), "err", err)
			updates[i].Status, updates[i].NextAttempt, updates[i].LastError = StatusPending, now.Add(delay), err.Error()
		default:
			outcomes[i] = "failed"
			o.opt.Log.Error("CRM write failed permanently", "interaction", e.InteractionID, "step", e.Write.Step, "attempt", attempts, "err", err)
			updates[i].Status, updates[i].LastError = StatusFailed, err.Error()
		}
	}
	// The store runs these to their end even when ctx has ended: the
	// attempts did run.
	err := o.queue.Record(ctx, updates)
	if err != nil {
		// The writes ran but their outcomes could not be recorded: they
		// stay pending and run again, which the idempotent writes make safe.
		o.opt.Log.Error("record outbox outcome", "writes", len(results), "err", err)
	}
	if o.opt.Observe != nil {
		for i, r := range results {
			o.opt.Observe(r.e.Write, outcomes[i], r.err)
		}
	}
}

func isRetryable(err error) bool {
	var r Retryable
	return errors.As(err, &r) && r.Retryable()
}

// backoff is exponential with full jitter, never shorter than the CRM's
// Retry-After.
func (o *Outbox) backoff(attempts int, err error) time.Duration {
	d := o.opt.BaseBackoff << min(attempts-1, 20)
	if d > o.opt.MaxBackoff || d <= 0 {
		d = o.opt.MaxBackoff
	}
	d = time.Duration(rand.Int64N(int64(d)) + 1)
	var r Retryable
	if errors.As(err, &r) {
		if after := r.RetryAfterDelay(); after > d {
			d = after
		}
	}
	return d
}
