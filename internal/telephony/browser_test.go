package telephony

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/interaction"
)

// agentSink records what the browser provider delivers.
type agentSink struct {
	mu     sync.Mutex
	events []*interaction.Event
	owners []string
	states []AgentStateChange
}

func (s *agentSink) HandleEvent(context.Context, *interaction.Event) error {
	return errors.New("a browser event must come with its session's agent")
}

func (s *agentSink) HandleEventFor(_ context.Context, agentID string, ev *interaction.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events, s.owners = append(s.events, ev), append(s.owners, agentID)
	return nil
}

func (s *agentSink) HandleAgentState(_ context.Context, c AgentStateChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states = append(s.states, c)
	return nil
}

func runningBrowser(t *testing.T, sink Sink) *Browser {
	t.Helper()
	b := NewBrowser("sip", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, sink) }()
	t.Cleanup(func() { cancel(); <-done })
	for !b.Running() {
		time.Sleep(time.Millisecond)
	}
	return b
}

func TestBrowserDeliversEventsAsTheSessionsAgent(t *testing.T) {
	sink := &agentSink{}
	b := runningBrowser(t, sink)
	ctx := context.Background()
	msg := `{"type":"telephonyEvent","event":{"id":"sip:c1:callAlerting","type":"callAlerting","agentId":"1002",
		"interaction":{"agentInteractionId":"c1","callType":"inbound","activity":{"customerCli":"+61299990000"}}}}`
	if err := b.HandleWidgetEvent(ctx, "1001", []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := b.HandleWidgetEvent(ctx, "1001", []byte(`{"type":"telephonyEvent","event":{"id":"s1","type":"agentState","agentId":"1002","state":"paused","reason":"Lunch"}}`)); err != nil {
		t.Fatal(err)
	}
	if len(sink.events) != 1 || sink.owners[0] != "1001" || sink.events[0].AgentID != "1001" || sink.events[0].Interaction.Activity.CustomerCLI != "+61299990000" {
		t.Fatalf("delivered %+v to %v", sink.events, sink.owners)
	}
	if got := sink.events[0].Document["agentId"]; got != "1001" {
		t.Errorf("the event document's agentId = %v: config paths must read the session's agent", got)
	}
	if len(sink.states) != 1 || sink.states[0].AgentID != "1001" || sink.states[0].State != AgentPaused || sink.states[0].Reason != "Lunch" {
		t.Fatalf("states = %+v", sink.states)
	}
}

func TestBrowserRefusesAFloodOfEvents(t *testing.T) {
	b := runningBrowser(t, &agentSink{})
	ctx := context.Background()
	var refused int
	for i := range browserEventBurst + 20 {
		msg := fmt.Sprintf(`{"event":{"id":"e%d","type":"callAlerting","interaction":{"agentInteractionId":"c%d","callType":"inbound"}}}`, i, i)
		if err := b.HandleWidgetEvent(ctx, "1001", []byte(msg)); errors.Is(err, ErrTooManyEvents) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if refused < 15 {
		t.Fatalf("%d of %d events refused; a flood must be cut at the burst of %d", refused, browserEventBurst+20, browserEventBurst)
	}
	// Another agent's bucket is its own.
	if err := b.HandleWidgetEvent(ctx, "1002", []byte(`{"event":{"id":"x","type":"callAlerting","interaction":{"agentInteractionId":"x","callType":"inbound"}}}`)); err != nil {
		t.Fatalf("agent 1002: %v", err)
	}
}

func TestBrowserRefusesEventsWhileNotRunning(t *testing.T) {
	b := NewBrowser("ipscape", nil)
	err := b.HandleWidgetEvent(context.Background(), "1001", []byte(`{"event":{"id":"x","type":"callAlerting","interaction":{"agentInteractionId":"x","callType":"inbound"}}}`))
	var coded interface{ ErrorCode() string }
	if !errors.As(err, &coded) || coded.ErrorCode() != "unavailable" {
		t.Fatalf("err = %v, want unavailable", err)
	}
	if _, err := b.Dial(context.Background(), "1001", "+61299990000"); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Dial: %v, want ErrNotSupported (the browser dials)", err)
	}
}
