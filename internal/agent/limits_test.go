package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// readAll reads ws until it fails or n messages are read (n < 0: no
// bound), and returns the messages and the read's error (the close, when
// the server closed it).
func readAll(ws *websocket.Conn, n int, timeout time.Duration) ([]map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var msgs []map[string]string
	for len(msgs) != n {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return msgs, err
		}
		var m map[string]string
		json.Unmarshal(data, &m)
		msgs = append(msgs, m)
	}
	return msgs, nil
}

func TestExcessWidgetMessagesAreRefusedWithTheirRef(t *testing.T) {
	_, _, handler, srv := newTestSessions(t)
	_, token := login(t, srv, `{"agentId":"1001","pin":"1234"}`)
	ws, _, err := dial(t, srv, token)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	read(t, ws) // hello
	const sent = 3 * widgetMessageBurst
	got := make(chan []map[string]string, 1)
	go func() {
		msgs, _ := readAll(ws, sent, 5*time.Second) // an ack or a refusal each
		got <- msgs
	}()
	ctx := context.Background()
	for i := range sent {
		if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"ping","ref":"r`+strconv.Itoa(i)+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	var refused []map[string]string
	for _, m := range <-got {
		if m["code"] == "too_many_messages" {
			refused = append(refused, m)
		}
	}
	if len(refused) == 0 {
		t.Fatalf("%d messages at once: none refused, want too_many_messages past the burst of %d", sent, widgetMessageBurst)
	}
	if last := refused[len(refused)-1]; last["ref"] != "r"+strconv.Itoa(sent-1) {
		t.Errorf("last refusal = %v, want the ref of the last message sent", last)
	}
	handler.mu.Lock()
	processed := len(handler.msgs)
	handler.mu.Unlock()
	if processed+len(refused) != sent {
		t.Errorf("processed %d and refused %d of %d messages: a refused message must not be processed", processed, len(refused), sent)
	}
	if processed > widgetMessageBurst+int(widgetMessageRate) {
		t.Errorf("processed %d messages sent at once, want about the burst of %d", processed, widgetMessageBurst)
	}
}

func TestAWidgetThatKeepsFloodingIsClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("floods for widgetFloodClose")
	}
	_, _, _, srv := newTestSessions(t)
	_, token := login(t, srv, `{"agentId":"1001","pin":"1234"}`)
	ws, _, err := dial(t, srv, token)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	read(t, ws) // hello
	closed := make(chan error, 1)
	go func() {
		_, err := readAll(ws, -1, widgetFloodClose+5*time.Second)
		closed <- err
	}()
	start := time.Now()
	tick := time.NewTicker(time.Second / (4 * widgetMessageRate)) // four times the rate
	defer tick.Stop()
	for {
		select {
		case err := <-closed:
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "too many messages" {
				t.Fatalf("flooding socket ended with %v, want a policy-violation close for too many messages", err)
			}
			if d := time.Since(start); d < widgetFloodClose {
				t.Fatalf("closed after %v of flooding, want %v first", d, widgetFloodClose)
			}
			return
		case <-tick.C:
			ws.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping"}`))
		}
	}
}

func TestSocketsPerAgentAreCapped(t *testing.T) {
	_, _, _, srv := newTestSessions(t)
	_, token := login(t, srv, `{"agentId":"1001","pin":"1234"}`)
	var open []*websocket.Conn
	for range maxSocketsPerAgent {
		ws, _, err := dial(t, srv, token)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		read(t, ws) // hello
		open = append(open, ws)
	}
	_, resp, err := dial(t, srv, token)
	if err == nil {
		t.Fatalf("socket %d of one agent opened, want 429", maxSocketsPerAgent+1)
	}
	var body struct{ Error struct{ Code string } }
	if resp != nil {
		json.NewDecoder(resp.Body).Decode(&body)
	}
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests || body.Error.Code != "too_many_sockets" {
		t.Fatalf("socket %d of one agent: %v %+v, want 429 too_many_sockets", maxSocketsPerAgent+1, resp, body)
	}
	_, other := login(t, srv, `{"agentId":"1002","pin":"1234"}`)
	ws, _, err := dial(t, srv, other)
	if err != nil {
		t.Fatalf("another agent's socket: %v", err)
	}
	ws.CloseNow()

	// A closed socket frees its place.
	open[0].Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		ws, _, err := dial(t, srv, token)
		if err == nil {
			ws.CloseNow()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after one of %d sockets closed, a new one: %v", maxSocketsPerAgent, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
