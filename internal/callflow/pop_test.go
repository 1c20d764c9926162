package callflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/screenpop"
	"github.com/ctibridge/ctibridge/internal/store"
)

func TestAPopIsStampedToTheMicrosecond(t *testing.T) {
	received := time.Date(2026, 11, 25, 9, 0, 0, 123_456_789, time.UTC)
	sent := received.Add(250 * time.Microsecond)
	f := New(Options{Now: func() time.Time { return sent }})

	data, err := json.Marshal(f.popMessage("IX-1", &screenpop.Decision{Entity: "contact"}, received))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"receivedAt":1795597200123.456`, `"sentAt":1795597200123.706`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("pop %s lacks %s", data, want)
		}
	}

	// A hello's pop has no event behind it.
	data, _ = json.Marshal(f.popMessage("IX-1", &screenpop.Decision{Entity: "contact"}, time.Time{}))
	if strings.Contains(string(data), "receivedAt") {
		t.Errorf("a pop without its event says when it was received: %s", data)
	}
}

// sentMessage is one message a recordingNotifier was given.
type sentMessage struct {
	agentID string
	msgType string
	data    []byte
}

// recordingNotifier records whom each message was sent to; every agent has
// one widget.
type recordingNotifier struct {
	mu   sync.Mutex
	sent []sentMessage
}

func (n *recordingNotifier) Send(agentID string, msg any) int {
	data, _ := json.Marshal(msg)
	var m struct{ Type string }
	json.Unmarshal(data, &m)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent = append(n.sent, sentMessage{agentID, m.Type, data})
	return 1
}

// pops lists the agents sent a pop, in order.
func (n *recordingNotifier) pops() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, m := range n.sent {
		if m.msgType == "pop" {
			out = append(out, m.agentID)
		}
	}
	return out
}

// poppingFlow is a Flow over an in-memory store with the sample config,
// whose inbound calls pop, changed by each of change.
func poppingFlow(t *testing.T, change ...func(*config.Config)) (*Flow, *store.DB, *recordingNotifier) {
	t.Helper()
	cfg, err := config.Load("../../testdata/sample.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range change {
		c(cfg)
	}
	engine, err := screenpop.New(cfg, "AU")
	if err != nil {
		t.Fatal(err)
	}
	_, db := storedFlow(t)
	n := &recordingNotifier{}
	return New(Options{Calls: store.NewCalls(db), Engine: engine, Notifier: n}), db, n
}

func inboundEvent(t *testing.T, id, typ, agentID, ix string) *interaction.Event {
	t.Helper()
	ev, err := interaction.DecodeEvent(fmt.Appendf(nil, `{"id": %q, "type": %q, "agentId": %q,
		"interaction": {"agentInteractionId": %q, "callType": "inbound", "activity": {"customerCli": "61299990000"}}}`, id, typ, agentID, ix))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// storedRecord reads a call as the store has it.
func storedRecord(t *testing.T, db *store.DB, ix string) *record {
	t.Helper()
	var data string
	if err := db.QueryRow(`SELECT data FROM calls WHERE interaction_id = ?`, ix).Scan(&data); err != nil {
		t.Fatalf("stored call %s: %v", ix, err)
	}
	rec := &record{}
	if err := json.Unmarshal([]byte(data), rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestAPresentingEventThatFailsLeavesThePopToItsRedelivery(t *testing.T) {
	tests := []struct {
		name         string
		break_, mend string
	}{
		{"the call cannot be read", `ALTER TABLE calls RENAME TO calls_away`, `ALTER TABLE calls_away RENAME TO calls`},
		{"the call cannot be saved",
			`CREATE TEMP TRIGGER full_disk BEFORE INSERT ON calls BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`,
			`DROP TRIGGER full_disk`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, db, n := poppingFlow(t)
			ctx := context.Background()
			ev := inboundEvent(t, "e1", "callAlerting", "1001", "IX-1")
			if _, err := db.Exec(tt.break_); err != nil {
				t.Fatal(err)
			}
			if err := f.HandleEvent(ctx, ev); err == nil {
				t.Fatal("the event was processed on a broken store")
			}
			if _, err := db.Exec(tt.mend); err != nil {
				t.Fatal(err)
			}
			// The sender gets a 503 and delivers the event again.
			if err := f.HandleEvent(ctx, inboundEvent(t, "e1", "callAlerting", "1001", "IX-1")); err != nil {
				t.Fatal(err)
			}
			rec := storedRecord(t, db, "IX-1")
			if !rec.Popped || rec.Pop == nil {
				t.Errorf("stored call has popped=%v pop=%v: a widget that connects now gets no pop", rec.Popped, rec.Pop)
			}
			if pops := n.pops(); len(pops) == 0 || pops[len(pops)-1] != "1001" {
				t.Errorf("pops sent to %v, want the redelivery's to 1001", pops)
			}
		})
	}
}

func TestAnEventNamingAnotherAgentLeavesThePopToTheCallsOwn(t *testing.T) {
	tests := []struct {
		name string
		// restart: the call is in the store only, as after a restart;
		// otherwise it is held, but not yet popped by this process.
		restart bool
		// otherPopped: the other agent is sent a pop. A call not held is
		// popped before it is read, with what the event carries, as a new
		// call is; one held is checked first.
		otherPopped bool
	}{
		{name: "call in the store only", restart: true, otherPopped: true},
		{name: "call held in memory", restart: false, otherPopped: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, db, n := poppingFlow(t)
			ctx := context.Background()
			// Agent 1001's call, stored before it was popped.
			if err := f.HandleEvent(ctx, inboundEvent(t, "e0", "callWrapped", "1001", "IX-1")); err != nil {
				t.Fatal(err)
			}
			rec := storedRecord(t, db, "IX-1")
			rec.Call.State, rec.Call.Path, rec.Popped, rec.Pop = interaction.Idle, nil, false, nil
			if err := f.save(ctx, rec, nil); err != nil {
				t.Fatal(err)
			}
			if tt.restart {
				f = New(f.opt)
			} else {
				clear(f.popped)
			}
			n.mu.Lock()
			n.sent = nil
			n.mu.Unlock()

			// A signed event naming agent 1002 for 1001's call.
			err := f.HandleEvent(ctx, inboundEvent(t, "forged", "callAlerting", "1002", "IX-1"))
			var refused *RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("event naming another agent = %v, want refused", err)
			}
			if pops := n.pops(); (len(pops) != 0) != tt.otherPopped {
				t.Fatalf("pops sent to %v before the event was refused, want other agent popped: %v", pops, tt.otherPopped)
			}
			n.mu.Lock()
			n.sent = nil
			n.mu.Unlock()
			// The call's own event still pops, and the pop is stored.
			if err := f.HandleEvent(ctx, inboundEvent(t, "e1", "callAlerting", "1001", "IX-1")); err != nil {
				t.Fatal(err)
			}
			if pops := n.pops(); len(pops) != 1 || pops[0] != "1001" {
				t.Errorf("pops sent to %v, want one to 1001", pops)
			}
			if rec := storedRecord(t, db, "IX-1"); !rec.Popped || rec.Pop == nil {
				t.Errorf("stored call has popped=%v pop=%v, want its pop", rec.Popped, rec.Pop)
			}
		})
	}
}
