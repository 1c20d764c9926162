package callflow

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/internal/activity"
)

// WidgetExecutor runs CRM writes in the agent's browser, through CIF's
// createRecord and updateRecord, for deployments without server
// credentials: the write is sent to the agent's widget as a "writes"
// message and the widget answers "writeResult". Writes still go through the
// durable outbox, so a write whose agent is offline waits for the widget to
// come back rather than being lost.
type WidgetExecutor struct {
	calls   CallAgents
	send    func(agentID string, msg any) int
	Timeout time.Duration

	mu      sync.Mutex
	pending map[string]*pendingWrite // by idempotency key
}

type pendingWrite struct {
	agentID string
	done    chan writeOutcome
}

type writeOutcome struct {
	id  string
	err string
}

// CallAgents tells whose call an interaction is (internal/store.Calls).
type CallAgents interface {
	AgentOf(ctx context.Context, interactionID string) (agentID string, found bool, err error)
}

// NewWidgetExecutor returns an executor that sends writes with send to the
// agents of the calls in calls.
func NewWidgetExecutor(calls CallAgents, send func(agentID string, msg any) int) *WidgetExecutor {
	return &WidgetExecutor{calls: calls, send: send, Timeout: 30 * time.Second, pending: make(map[string]*pendingWrite)}
}

// widgetUnavailable is a retryable error: the agent's widget is offline or
// did not answer in time.
type widgetUnavailable struct{ msg string }

func (e widgetUnavailable) Error() string                  { return e.msg }
func (e widgetUnavailable) Retryable() bool                { return true }
func (e widgetUnavailable) RetryAfterDelay() time.Duration { return 5 * time.Second }

// Execute implements outbox.Executor.
func (x *WidgetExecutor) Execute(ctx context.Context, interactionID string, w activity.Write) (string, error) {
	agentID, found, err := x.calls.AgentOf(ctx, interactionID)
	if err != nil {
		return "", widgetUnavailable{msg: "look up the call's agent: " + err.Error()}
	}
	if !found {
		return "", fmt.Errorf("write %s: call %s is not known", w.IdempotencyKey, interactionID)
	}
	p := &pendingWrite{agentID: agentID, done: make(chan writeOutcome, 1)}
	x.mu.Lock()
	x.pending[w.IdempotencyKey] = p
	x.mu.Unlock()
	defer func() {
		x.mu.Lock()
		delete(x.pending, w.IdempotencyKey)
		x.mu.Unlock()
	}()
	msg := map[string]any{"type": "writes", "interactionId": interactionID, "writes": []activity.Write{w}}
	if x.send(agentID, msg) == 0 {
		return "", widgetUnavailable{msg: fmt.Sprintf("agent %s has no widget connected to write %s through CIF", agentID, w.IdempotencyKey)}
	}
	timer := time.NewTimer(x.Timeout)
	defer timer.Stop()
	select {
	case out := <-p.done:
		if out.err != "" {
			return "", fmt.Errorf("CIF in agent %s's browser: %s", agentID, out.err)
		}
		return out.id, nil
	case <-timer.C:
		return "", widgetUnavailable{msg: fmt.Sprintf("agent %s's widget did not answer write %s in %s", agentID, w.IdempotencyKey, x.Timeout)}
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Resolve delivers a widget's writeResult. It reports false when no write
// of that key waits for that agent.
func (x *WidgetExecutor) Resolve(agentID, idempotencyKey, recordID, errMsg string) bool {
	x.mu.Lock()
	p := x.pending[idempotencyKey]
	x.mu.Unlock()
	if p == nil || p.agentID != agentID {
		return false
	}
	select {
	case p.done <- writeOutcome{id: recordID, err: errMsg}:
		return true
	default:
		return false
	}
}

// WriteResults receives the widgets' writeResult messages.
type WriteResults interface {
	Resolve(agentID, idempotencyKey, recordID, errMsg string) bool
}

// SetWriteResults routes writeResult messages to r (CIF write mode).
func (f *Flow) SetWriteResults(r WriteResults) { f.writeResults = r }
