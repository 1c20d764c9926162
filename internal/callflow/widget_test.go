package callflow

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/screenpop"
)

// encodingNotifier encodes every message as the hub does, reading all of it.
type encodingNotifier struct{}

func (encodingNotifier) Send(_ string, msg any) int {
	json.Marshal(msg)
	return 1
}

// TestARelateAndTheCallsEventsAtOnce relates a call while its events
// arrive. Run under -race: the call message a relate sends must not read
// the call once its lock is let go, when the next event may change it.
func TestARelateAndTheCallsEventsAtOnce(t *testing.T) {
	cfg, err := config.Load("../../testdata/sample.json")
	if err != nil {
		t.Fatal(err)
	}
	engine, err := screenpop.New(cfg, "AU")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := storedFlow(t)
	f.opt.Notifier, f.opt.Engine = encodingNotifier{}, engine
	f.SetEngine(engine)
	ctx := context.Background()
	event := func(id, typ string) *interaction.Event {
		ev, err := interaction.DecodeEvent(fmt.Appendf(nil, `{"id": %q, "type": %q, "agentId": "1001",
			"interaction": {"agentInteractionId": "IX-1", "callType": "inbound", "activity": {"customerCli": "61299990000"}}}`, id, typ))
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	if err := f.HandleEvent(ctx, event("e1", "callAlerting")); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 20 {
			relate := fmt.Appendf(nil, `{"interactionId": "IX-1", "person": {"entity": "contact", "id": "00000000-0000-0000-0000-%012d"}}`, i)
			if err := f.HandleWidgetMessage(ctx, "1001", agent.WidgetMessage{Type: "relate", Raw: relate}); err != nil {
				t.Errorf("relate %d: %v", i, err)
			}
		}
	})
	wg.Go(func() {
		for i := range 20 {
			// Stale and duplicate events still change and save the call.
			if err := f.HandleEvent(ctx, event(fmt.Sprintf("s%d", i), "callStarted")); err != nil {
				t.Errorf("event %d: %v", i, err)
			}
		}
	})
	wg.Wait()
}
