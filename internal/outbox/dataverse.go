package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/dataverse"
)

// DataverseExecutor runs writes through the Dataverse Web API client, as
// the application user, or as the write's Caller when it has one
// (impersonation: CallerObjectId or MSCRMCallerID on every request the
// write costs, its fallbacks and reads included).
type DataverseExecutor struct {
	Client *dataverse.Client
	// Log receives what the executor drops to save a write (a refused
	// party or regarding record); nil discards it.
	Log *slog.Logger
}

func (x DataverseExecutor) log() *slog.Logger {
	if x.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return x.Log
}

// Execute implements Executor.
func (x DataverseExecutor) Execute(ctx context.Context, _ string, w activity.Write) (string, error) {
	ctx = asCaller(ctx, w.Caller)
	id, err := x.execute(ctx, w)
	id, err = x.fallBack(ctx, w, id, err)
	return id, wrapError(err)
}

// ExecuteBatch implements BatchExecutor: the writes go as one $batch that
// continues past a failing write, and each write's answer then goes
// through the same fallbacks as Execute's, which send what they need alone.
func (x DataverseExecutor) ExecuteBatch(ctx context.Context, writes []BatchWrite) ([]Outcome, error) {
	out := make([]Outcome, len(writes))
	if len(writes) > 0 {
		caller := writes[0].Write.Caller
		for _, bw := range writes[1:] {
			if bw.Write.Caller.Key() != caller.Key() {
				// Not the outbox's way (splitByCaller): refused as a whole,
				// so that each write is sent alone, as its own caller.
				return nil, errors.New("outbox: a batch mixes writes of different callers")
			}
		}
		// On the $batch request and on each of its operations (see
		// dataverse.WithCallerObjectID).
		ctx = asCaller(ctx, caller)
	}
	requests := make([]dataverse.BatchRequest, 0, len(writes))
	sent := make([]int, 0, len(writes)) // index in writes of each request
	for i, bw := range writes {
		r, err := batchRequest(bw.Write)
		if err != nil {
			// Refused before sending, as Execute would: not the batch's fault.
			out[i].Err = err
			continue
		}
		requests = append(requests, r)
		sent = append(sent, i)
	}
	if len(requests) == 0 {
		return out, nil
	}
	results, err := x.Client.BatchIndependent(ctx, requests)
	if err != nil {
		return nil, wrapError(err)
	}
	for j, res := range results {
		w := writes[sent[j]].Write
		id, err := batchAnswer(w, res)
		id, err = x.fallBack(ctx, w, id, err)
		out[sent[j]] = Outcome{RecordID: id, Err: wrapError(err)}
	}
	return out, nil
}

// fallBack turns the first answer to w into its outcome, sending what a
// refusal calls for: w again without what Dataverse refused, or a read of
// the record to see whether w already ran.
func (x DataverseExecutor) fallBack(ctx context.Context, w activity.Write, id string, err error) (string, error) {
	if err != nil && w.Op == activity.OpUpdate && w.Step == activity.StepRelate && refusedBinding(err) {
		if bare, stripped := withoutParties(w); stripped {
			// A party Dataverse refuses (an agent user unknown to this
			// environment) must not cost the agent's choice of regarding.
			id, err = x.execute(ctx, bare)
		}
	}
	if err != nil && w.Op != activity.OpUpdate && refusedBinding(err) {
		// A related record that Dataverse refuses (deleted since the pop,
		// an agent user unknown to this environment) must not cost the
		// activity itself. The parties go first, keeping the regarding
		// record; only when that is refused too is the activity created
		// unrelated, and the agent can still relate it from the widget.
		// Either way the log says what was dropped.
		if bare, stripped := withoutParties(w); stripped {
			x.log().Warn("Dataverse refused the activity's parties; writing it without them",
				"write", w.IdempotencyKey, "err", err)
			id, err = x.execute(ctx, bare)
			w = bare
		}
		if err != nil && refusedBinding(err) {
			if bare, stripped := withoutRelations(w); stripped {
				x.log().Warn("Dataverse refused the activity's regarding record; writing it unrelated",
					"write", w.IdempotencyKey, "err", err)
				id, err = x.execute(ctx, bare)
			}
		}
	}
	if err != nil && w.Op == activity.OpCreate && errors.Is(err, dataverse.ErrPreconditionFailed) {
		// A duplicate of a create whose primary key the planner chose may
		// be this very create, sent before a crash or a lost answer: it is
		// done only if a read finds the record, holding this interaction.
		found, foundID, checkErr := x.createdBefore(ctx, w)
		switch {
		case found:
			return foundID, nil
		case checkErr != nil:
			return "", checkErr
		}
	}
	if err != nil {
		applied, checkErr := x.alreadyApplied(ctx, w, err)
		if applied {
			// A state change that ran before a crash or a lost answer: the
			// record is already where the write would put it.
			return w.RecordID, nil
		}
		if checkErr != nil {
			// The record could not be read (throttled, unavailable): the
			// refusal may be this very write having run, so it is not
			// final. Try it all again later.
			return "", checkErr
		}
	}
	return id, err
}

func (x DataverseExecutor) execute(ctx context.Context, w activity.Write) (string, error) {
	switch w.Op {
	case activity.OpUpsert:
		if w.KeyColumn == "" {
			return "", errNoKeyColumn(w)
		}
		id, _, err := x.Client.Upsert(ctx, w.EntitySet, w.KeyColumn, w.KeyValue, w.Body)
		return id, err
	case activity.OpCreate:
		return x.Client.Create(ctx, w.EntitySet, w.Body)
	case activity.OpUpdate:
		ref, err := target(w)
		if err != nil {
			return "", err
		}
		if err := x.Client.Update(ctx, ref, w.Body); err != nil {
			return "", err
		}
		return ref.ID, nil
	default:
		return "", errUnknownOp(w)
	}
}

// batchRequest is the $batch form of what execute sends for w.
func batchRequest(w activity.Write) (dataverse.BatchRequest, error) {
	var r dataverse.BatchRequest
	switch w.Op {
	case activity.OpUpsert:
		if w.KeyColumn == "" {
			return r, errNoKeyColumn(w)
		}
		r = dataverse.BatchUpsertByKey(w.EntitySet, w.KeyColumn, w.KeyValue, w.Body)
	case activity.OpCreate:
		r = dataverse.BatchCreate(w.EntitySet, w.Body)
	case activity.OpUpdate:
		ref, err := target(w)
		if err != nil {
			return r, err
		}
		r = dataverse.BatchUpdate(ref, w.Body)
	default:
		return r, errUnknownOp(w)
	}
	if err := r.Err(); err != nil {
		return r, fmt.Errorf("write %s: %w", w.IdempotencyKey, err)
	}
	return r, nil
}

// batchAnswer reads the id of the record w wrote out of its part of the
// batch's answer, as execute reads it out of a lone request's.
func batchAnswer(w activity.Write, res dataverse.BatchResult) (string, error) {
	if res.Err != nil {
		return "", res.Err
	}
	switch w.Op {
	case activity.OpUpsert:
		id, _, err := res.Response.UpsertedID(w.EntitySet, w.KeyColumn)
		return id, err
	case activity.OpCreate:
		return res.Response.EntityID()
	default:
		ref, err := target(w)
		return ref.ID, err
	}
}

// createdBefore reads the record a refused create (412) names, to tell its
// own earlier success from another record in the way. The record is w's
// when it has w's id and, when w writes the interaction id's column, that
// interaction id; else, when the key is addressable, the record the key
// finds is the call's (made by an earlier version's upsert, or by the
// widget through CIF). It returns a retryable error when the read fails
// for a reason that passes.
func (x DataverseExecutor) createdBefore(ctx context.Context, w activity.Write) (bool, string, error) {
	if w.RecordID == "" {
		return false, "", nil
	}
	query := ""
	if w.KeyColumn != "" {
		query = "?$select=" + w.KeyColumn
	}
	rec, err := x.Client.Retrieve(ctx, w.EntitySet, w.RecordID, query)
	switch {
	case err == nil:
		if w.KeyColumn == "" || fmt.Sprint(rec[w.KeyColumn]) == w.KeyValue {
			return true, w.RecordID, nil
		}
		return false, "", nil
	case isRetryable(wrapError(err)):
		return false, "", err
	case !errors.Is(err, dataverse.ErrNotFound) || w.KeyColumn == "" || !activity.AddressableKey(w.KeyValue):
		return false, "", nil
	}
	rec, err = x.Client.RetrieveRef(ctx, dataverse.ByKey(w.EntitySet, w.KeyColumn, w.KeyValue), "?$select="+w.KeyColumn)
	switch {
	case err == nil:
		if id := primaryID(rec); id != "" {
			return true, id, nil
		}
	case isRetryable(wrapError(err)):
		return false, "", err
	}
	return false, "", nil
}

// primaryID is an activity record's activityid.
func primaryID(rec dataverse.Record) string {
	id, _ := rec["activityid"].(string)
	return id
}

func errNoKeyColumn(w activity.Write) error {
	return fmt.Errorf("write %s: upsert without keyColumn", w.IdempotencyKey)
}

func errUnknownOp(w activity.Write) error {
	return fmt.Errorf("write %s: unknown op %q", w.IdempotencyKey, w.Op)
}

// refusedBinding reports a 400 or 404 answer, what Dataverse gives for a
// lookup or party bound to a record it cannot find or accept.
func refusedBinding(err error) bool {
	return errors.Is(err, dataverse.ErrBadRequest) || errors.Is(err, dataverse.ErrNotFound)
}

// withoutRelations returns w without its lookups and activity parties.
func withoutRelations(w activity.Write) (activity.Write, bool) {
	return without(w, func(k string) bool {
		return strings.HasSuffix(k, "@odata.bind") || strings.HasSuffix(k, "_activity_parties")
	})
}

// withoutParties returns w without its activity parties.
func withoutParties(w activity.Write) (activity.Write, bool) {
	return without(w, func(k string) bool { return strings.HasSuffix(k, "_activity_parties") })
}

// without returns w with the body keys drop matches removed, and whether
// any was.
func without(w activity.Write, drop func(key string) bool) (activity.Write, bool) {
	body := make(map[string]any, len(w.Body))
	for k, v := range w.Body {
		if !drop(k) {
			body[k] = v
		}
	}
	stripped := len(body) < len(w.Body)
	w.Body = body
	return w, stripped
}

// target is the record an update addresses: by id when known, else by the
// alternate key.
func target(w activity.Write) (dataverse.Ref, error) {
	switch {
	case w.RecordID != "":
		return dataverse.ByID(w.EntitySet, w.RecordID), nil
	case w.KeyColumn != "" && activity.AddressableKey(w.KeyValue):
		return dataverse.ByKey(w.EntitySet, w.KeyColumn, w.KeyValue), nil
	case w.KeyColumn != "":
		// Microsoft's alternate-key page: Dataverse cannot address a key
		// holding / # < > * % & : \ ? or +, encoded or not.
		return dataverse.Ref{}, fmt.Errorf("write %s: %s %q cannot address a record as an alternate key (it holds one of / # < > * %% & : \\ ? +), and the write has no record id", w.IdempotencyKey, w.KeyColumn, w.KeyValue)
	}
	return dataverse.Ref{}, fmt.Errorf("write %s: update has no record id or key", w.IdempotencyKey)
}

// alreadyApplied reports whether a refused state-changing update finds its
// record already in the target state: Dataverse refuses updates of a
// completed activity, and the wrap that completed it may be the very write
// being retried.
//
// It returns a retryable error when the record could not be read for a
// reason that passes (throttling, an outage): the write is then tried
// again rather than failed for good on a refusal that may be its own
// earlier success.
func (x DataverseExecutor) alreadyApplied(ctx context.Context, w activity.Write, err error) (bool, error) {
	want, ok := w.Body["statecode"]
	if w.Op != activity.OpUpdate || !ok || !errors.Is(err, dataverse.ErrBadRequest) {
		return false, nil
	}
	ref, terr := target(w)
	if terr != nil {
		return false, nil
	}
	rec, rerr := x.Client.RetrieveRef(ctx, ref, "?$select=statecode")
	if rerr != nil {
		if isRetryable(wrapError(rerr)) {
			return false, rerr
		}
		return false, nil
	}
	got, ok := rec["statecode"]
	return ok && fmt.Sprint(got) == fmt.Sprint(want), nil
}

// retryableError adapts the client's errors to the outbox's Retryable.
type retryableError struct {
	err *dataverse.Error
}

func (e retryableError) Error() string { return e.err.Error() }
func (e retryableError) Unwrap() error { return e.err }

// Retryable is the client's answer, and also true for credential and
// privilege failures: an operator fixes those (a secret expired, a role
// was removed) and the activities waiting must then be written, not lost.
func (e retryableError) Retryable() bool { return e.err.Retryable() || e.needsOperator() }

func (e retryableError) RetryAfterDelay() time.Duration {
	if e.needsOperator() {
		return max(e.err.RetryAfter, time.Minute)
	}
	return e.err.RetryAfter
}

func (e retryableError) needsOperator() bool {
	return errors.Is(e.err, dataverse.ErrUnauthorized) || errors.Is(e.err, dataverse.ErrForbidden)
}

func wrapError(err error) error {
	var de *dataverse.Error
	if errors.As(err, &de) {
		return retryableError{de}
	}
	return err
}

// asCaller returns ctx making requests as c (impersonation), or as the
// application user when c is nil: by Entra object id, which Microsoft
// prefers, when the user has one, else by systemuserid.
func asCaller(ctx context.Context, c *activity.Caller) context.Context {
	switch {
	case c == nil:
		return ctx
	case c.ObjectID != "":
		return dataverse.WithCallerObjectID(ctx, c.ObjectID)
	default:
		return dataverse.WithCallerSystemUserID(ctx, c.SystemUserID)
	}
}
