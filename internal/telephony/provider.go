// Package telephony connects ctibridge to the telephony platform: every
// provider delivers call events (internal/interaction) to a Sink and takes the
// agent's commands (click-to-dial, state changes, wrap) back to the platform.
//
// Two providers live here: Webhook, the production one, where the platform
// POSTs signed events (docs/webhook.md); and Simulator, an in-process
// ipSCAPE-like platform for the demo and tests.
package telephony

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/internal/interaction"
)

// Sink receives every event a provider delivers. An error means the event was
// refused (malformed) and is reported back to the sender.
//
// The webhook maps a Sink error to an HTTP status: an *interaction.EventError
// is 400, an error wrapping ErrUnavailable (or a context error) is 503 so the
// platform retries, and anything else is 422 (refused, do not retry as is).
type Sink interface {
	HandleEvent(ctx context.Context, ev *interaction.Event) error
}

// AgentStateSink is implemented by sinks that also want agent state changes
// (Ready, Paused, OnCall, ...). Providers check for it with a type assertion
// on the Sink passed to Run; a sink without it simply does not get them.
type AgentStateSink interface {
	HandleAgentState(ctx context.Context, change AgentStateChange) error
}

// AgentStateChange is one agent's new state.
type AgentStateChange struct {
	AgentID string     `json:"agentId"`
	State   AgentState `json:"state"`
	// Reason is the pause reason when State is Paused ("Lunch", "Auto Pause").
	Reason string    `json:"reason,omitempty"`
	Time   time.Time `json:"timestamp"`
}

// Provider is one telephony platform integration.
type Provider interface {
	// Name identifies the provider in logs and metrics ("webhook", "simulator").
	Name() string
	// Run delivers events to sink until ctx ends, then returns nil once
	// nothing of the provider is running any more. It returns an error only
	// when the provider cannot run (already running elsewhere, ...).
	Run(ctx context.Context, sink Sink) error
	// Dial places a manual call for the agent (click-to-dial). The returned
	// interaction id is empty when the platform assigns it later; the call's
	// events carry it.
	Dial(ctx context.Context, agentID, number string) (interactionID string, err error)
	// SetAgentState asks the platform to change the agent's state; agents
	// request Ready, Paused (with a reason) or LoggedOut.
	SetAgentState(ctx context.Context, agentID string, state AgentState, reason string) error
	// Wrap ends the interaction with a wrap code: the agent wrapped in the widget.
	Wrap(ctx context.Context, agentID, interactionID, wrapCode, notes string) error
}

// ErrNotSupported is returned by provider commands the provider cannot carry
// out, such as a webhook provider without an outbound URL.
var ErrNotSupported = errors.New("telephony: not supported by this provider")

// ErrUnavailable is wrapped by a Sink error that is temporary (storage down,
// shutting down): the webhook answers 503 so the platform retries later.
var ErrUnavailable = errors.New("telephony: temporarily unavailable")

// ErrNotRunning is returned by commands given to a provider whose Run is not
// in progress.
var ErrNotRunning = errors.New("telephony: provider is not running")

// run is one Run in progress of a provider whose events arrive from
// outside, as requests (Webhook) or widget messages (Browser).
type run struct {
	sink Sink
	ctx  context.Context
	// inflight counts deliveries to sink in progress; Run waits for them
	// so nothing calls the sink after Run returns.
	inflight sync.WaitGroup
}

// runSlot holds such a provider's Run in progress, if any.
type runSlot struct {
	mu      sync.Mutex
	current *run // nil when Run is not in progress
}

// serve is the provider's Run: deliveries may acquire the run until ctx
// ends, and serve returns once those in progress have finished.
func (s *runSlot) serve(ctx context.Context, sink Sink, provider string) error {
	r := &run{sink: sink, ctx: ctx}
	s.mu.Lock()
	if s.current != nil {
		s.mu.Unlock()
		return fmt.Errorf("%s: already running; one Run at a time", provider)
	}
	s.current = r
	s.mu.Unlock()

	<-ctx.Done()

	s.mu.Lock()
	s.current = nil
	s.mu.Unlock()
	r.inflight.Wait()
	return nil
}

// running reports whether Run is in progress.
func (s *runSlot) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current != nil
}

// acquire returns the Run in progress, or nil, counting the caller as in
// flight until it calls r.inflight.Done.
func (s *runSlot) acquire() *run {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil {
		s.current.inflight.Add(1)
	}
	return s.current
}
