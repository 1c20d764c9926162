package telephony

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// platform is a fake telephony platform receiving outbound commands. It
// checks each command's signature like a real one would.
type platform struct {
	t      *testing.T
	secret []byte
	// reply is the status and body it answers with.
	status int
	reply  string

	mu       sync.Mutex
	received []map[string]any
}

func (p *platform) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts := r.Header.Get(TimestampHeader)
	sec, err := strconv.ParseInt(ts, 10, 64)
	_, want := Sign(p.secret, time.Unix(sec, 0), body)
	if err != nil || !hmac.Equal([]byte(r.Header.Get(SignatureHeader)), []byte(want)) {
		p.t.Errorf("command with a bad signature: timestamp %q signature %q", ts, r.Header.Get(SignatureHeader))
		rw.WriteHeader(http.StatusUnauthorized)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		p.t.Errorf("command Content-Type %q, want application/json", ct)
	}
	var cmd map[string]any
	if err := json.Unmarshal(body, &cmd); err != nil {
		p.t.Errorf("command is not JSON: %s", body)
	}
	p.mu.Lock()
	p.received = append(p.received, cmd)
	p.mu.Unlock()
	rw.WriteHeader(p.status)
	io.WriteString(rw, p.reply)
}

func TestWebhookCommands(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		reply   string
		send    func(ctx context.Context, w *Webhook) (string, error)
		wantCmd map[string]any
		wantID  string
		wantErr string
	}{
		{
			name:   "dial returns the platform's interaction id",
			status: http.StatusOK, reply: `{"interactionId":"IX-77"}`,
			send:    func(ctx context.Context, w *Webhook) (string, error) { return w.Dial(ctx, "1042", "0412345678") },
			wantCmd: map[string]any{"command": "dial", "agentId": "1042", "number": "0412345678"},
			wantID:  "IX-77",
		},
		{
			name:   "dial accepted without an interaction id yet",
			status: http.StatusAccepted, reply: ``,
			send:    func(ctx context.Context, w *Webhook) (string, error) { return w.Dial(ctx, "1042", "0412345678") },
			wantCmd: map[string]any{"command": "dial", "agentId": "1042", "number": "0412345678"},
		},
		{
			name:   "pause with a reason",
			status: http.StatusNoContent,
			send: func(ctx context.Context, w *Webhook) (string, error) {
				return "", w.SetAgentState(ctx, "1042", AgentPaused, "Lunch")
			},
			wantCmd: map[string]any{"command": "setAgentState", "agentId": "1042", "state": "Paused", "reason": "Lunch"},
		},
		{
			name:   "wrap with a code and notes",
			status: http.StatusOK, reply: `{}`,
			send: func(ctx context.Context, w *Webhook) (string, error) {
				return "", w.Wrap(ctx, "1042", "IX-77", "12", "Renewed for 12 months")
			},
			wantCmd: map[string]any{"command": "wrap", "agentId": "1042", "interactionId": "IX-77", "wrapCode": "12", "notes": "Renewed for 12 months"},
		},
		{
			name:   "a refusal carries the platform's code and message",
			status: http.StatusConflict, reply: `{"error":{"code":"agent_busy","message":"agent 1042 is on a call"}}`,
			send:    func(ctx context.Context, w *Webhook) (string, error) { return w.Dial(ctx, "1042", "0412345678") },
			wantCmd: map[string]any{"command": "dial", "agentId": "1042", "number": "0412345678"},
			wantErr: "telephony platform refused dial (HTTP 409 agent_busy): agent 1042 is on a call",
		},
		{
			name:   "a refusal without a JSON body",
			status: http.StatusBadGateway, reply: `upstream down`,
			send: func(ctx context.Context, w *Webhook) (string, error) {
				return "", w.SetAgentState(ctx, "1042", AgentReady, "")
			},
			wantCmd: map[string]any{"command": "setAgentState", "agentId": "1042", "state": "Ready"},
			wantErr: "telephony platform refused setAgentState (HTTP 502)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &platform{t: t, secret: testSecret, status: tt.status, reply: tt.reply}
			srv := httptest.NewServer(p)
			defer srv.Close()
			w, err := NewWebhook(WebhookOptions{Secret: testSecret, OutboundURL: srv.URL, HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			id, err := tt.send(context.Background(), w)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("error: %v", err)
			}
			if tt.wantErr != "" {
				var ce *CommandError
				if err == nil || err.Error() != tt.wantErr || !errors.As(err, &ce) || ce.Status != tt.status {
					t.Fatalf("error %v, want a CommandError %q", err, tt.wantErr)
				}
			}
			if id != tt.wantID {
				t.Errorf("interaction id %q, want %q", id, tt.wantID)
			}
			if len(p.received) != 1 {
				t.Fatalf("platform received %d commands, want 1", len(p.received))
			}
			got := p.received[0]
			if cmdID, _ := got["id"].(string); !strings.HasPrefix(cmdID, "cmd-") {
				t.Errorf("command id %q, want a cmd- id", got["id"])
			}
			delete(got, "id")
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tt.wantCmd)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("command %s, want %s", gotJSON, wantJSON)
			}
		})
	}
}

func TestWebhookCommandsRefusedLocally(t *testing.T) {
	withURL, err := NewWebhook(WebhookOptions{Secret: testSecret, OutboundURL: "http://127.0.0.1:1/unused"})
	if err != nil {
		t.Fatal(err)
	}
	withoutURL, err := NewWebhook(WebhookOptions{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name    string
		err     error
		wantIs  error
		wantMsg string
	}{
		{name: "dial without an outbound URL", err: second(withoutURL.Dial(ctx, "1042", "0412345678")), wantIs: ErrNotSupported},
		{name: "state without an outbound URL", err: withoutURL.SetAgentState(ctx, "1042", AgentReady, ""), wantIs: ErrNotSupported},
		{name: "wrap without an outbound URL", err: withoutURL.Wrap(ctx, "1042", "IX-1", "12", ""), wantIs: ErrNotSupported},
		{name: "dial without a number", err: second(withURL.Dial(ctx, "1042", " ")), wantMsg: "dial: number is empty"},
		{name: "wrap without a wrap code", err: withURL.Wrap(ctx, "1042", "IX-1", "", ""), wantMsg: "wrap: wrapCode is empty"},
		{name: "an unknown state", err: withURL.SetAgentState(ctx, "1042", "Busy", ""), wantMsg: `state "Busy" is not an agent state`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("no error")
			}
			if tt.wantIs != nil && !errors.Is(tt.err, tt.wantIs) {
				t.Errorf("error %v is not %v", tt.err, tt.wantIs)
			}
			if tt.wantMsg != "" && !strings.Contains(tt.err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", tt.err, tt.wantMsg)
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }
