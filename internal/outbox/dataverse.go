package outbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/internal/activity"
	"github.com/ctibridge/ctibridge/internal/dataverse"
)

// DataverseExecutor runs writes through the Dataverse Web API client, as
// the application user (or the agent, when the client impersonates).
type DataverseExecutor struct {
	Client *dataverse.Client
}

// Execute implements Executor.
func (x DataverseExecutor) Execute(ctx context.Context, _ string, w activity.Write) (string, error) {
	id, err := x.execute(ctx, w)
	if err != nil && w.Op == activity.OpUpdate && w.Step == activity.StepRelate && refusedBinding(err) {
		if bare, stripped := withoutParties(w); stripped {
			// A party Dataverse refuses (an agent user unknown to this
			// environment) must not cost the agent's choice of regarding.
			id, err = x.execute(ctx, bare)
		}
	}
	if err != nil && w.Op != activity.OpUpdate && refusedBinding(err) {
		if bare, stripped := withoutRelations(w); stripped {
			// A related record that Dataverse refuses (deleted since the
			// pop, an agent user unknown to this environment) must not cost
			// the activity itself: create it unrelated, and the agent can
			// still relate it from the widget.
			id, err = x.execute(ctx, bare)
		}
	}
	if err != nil && x.alreadyApplied(ctx, w, err) {
		// A state change that ran before a crash or a lost answer: the
		// record is already where the write would put it.
		return w.RecordID, nil
	}
	return id, wrapError(err)
}

func (x DataverseExecutor) execute(ctx context.Context, w activity.Write) (string, error) {
	switch w.Op {
	case activity.OpUpsert:
		if w.KeyColumn == "" {
			return "", fmt.Errorf("write %s: upsert without keyColumn", w.IdempotencyKey)
		}
		id, _, err := x.Client.Upsert(ctx, w.EntitySet, w.KeyColumn, w.KeyValue, w.Body)
		return id, err
	case activity.OpCreate:
		id, err := x.Client.Create(ctx, w.EntitySet, w.Body)
		if w.RecordID != "" && errors.Is(err, dataverse.ErrPreconditionFailed) {
			// The planner chose the primary key: a duplicate is this very
			// create, sent before a crash or a lost answer.
			return w.RecordID, nil
		}
		return id, err
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
		return "", fmt.Errorf("write %s: unknown op %q", w.IdempotencyKey, w.Op)
	}
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
	case w.KeyColumn != "":
		return dataverse.ByKey(w.EntitySet, w.KeyColumn, w.KeyValue), nil
	}
	return dataverse.Ref{}, fmt.Errorf("write %s: update has no record id or key", w.IdempotencyKey)
}

// alreadyApplied reports whether a refused state-changing update finds its
// record already in the target state: Dataverse refuses updates of a
// completed activity, and the wrap that completed it may be the very write
// being retried.
func (x DataverseExecutor) alreadyApplied(ctx context.Context, w activity.Write, err error) bool {
	want, ok := w.Body["statecode"]
	if w.Op != activity.OpUpdate || !ok || !errors.Is(err, dataverse.ErrBadRequest) {
		return false
	}
	ref, terr := target(w)
	if terr != nil {
		return false
	}
	rec, rerr := x.Client.RetrieveRef(ctx, ref, "?$select=statecode")
	if rerr != nil {
		return false
	}
	got, ok := rec["statecode"]
	return ok && fmt.Sprint(got) == fmt.Sprint(want)
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
