package telephony

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxCommandResponse bounds how much of the platform's reply to a command is
// read: replies are a small JSON object.
const maxCommandResponse = 64 << 10

// command is the JSON body of an outbound command (docs/webhook.md).
type command struct {
	Command string `json:"command"`
	// ID is unique per command, for the platform's logs and deduplication.
	ID            string     `json:"id"`
	AgentID       string     `json:"agentId"`
	Number        string     `json:"number,omitempty"`
	State         AgentState `json:"state,omitempty"`
	Reason        string     `json:"reason,omitempty"`
	InteractionID string     `json:"interactionId,omitempty"`
	WrapCode      string     `json:"wrapCode,omitempty"`
	Notes         string     `json:"notes,omitempty"`
}

// CommandError is the platform's refusal of an outbound command.
type CommandError struct {
	Command string // "dial", "setAgentState", "wrap"
	Status  int    // HTTP status of the reply
	// Code and Message are the reply's {"error": {"code", "message"}}, when
	// it had one.
	Code    string
	Message string
}

func (e *CommandError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "telephony platform refused %s (HTTP %d", e.Command, e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	b.WriteString(")")
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Dial asks the platform to place a manual call. The interaction id is the
// reply's "interactionId", empty if the platform did not give one.
func (w *Webhook) Dial(ctx context.Context, agentID, number string) (string, error) {
	if err := requireArgs("dial", "agentID", agentID, "number", number); err != nil {
		return "", err
	}
	var reply struct {
		InteractionID string `json:"interactionId"`
	}
	err := w.send(ctx, command{Command: "dial", AgentID: agentID, Number: number}, &reply)
	return reply.InteractionID, err
}

// SetAgentState asks the platform to change the agent's state.
func (w *Webhook) SetAgentState(ctx context.Context, agentID string, state AgentState, reason string) error {
	if err := requireArgs("setAgentState", "agentID", agentID); err != nil {
		return err
	}
	if !state.Valid() {
		return fmt.Errorf("setAgentState: state %q is not an agent state: use one of %s", state, agentStateList())
	}
	return w.send(ctx, command{Command: "setAgentState", AgentID: agentID, State: state, Reason: reason}, nil)
}

// Wrap tells the platform the agent wrapped the interaction.
func (w *Webhook) Wrap(ctx context.Context, agentID, interactionID, wrapCode, notes string) error {
	if err := requireArgs("wrap", "agentID", agentID, "interactionID", interactionID, "wrapCode", wrapCode); err != nil {
		return err
	}
	return w.send(ctx, command{Command: "wrap", AgentID: agentID, InteractionID: interactionID, WrapCode: wrapCode, Notes: notes}, nil)
}

// requireArgs checks that named arguments (name, value pairs) are not blank.
func requireArgs(cmd string, pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			return fmt.Errorf("%s: %s is empty", cmd, pairs[i])
		}
	}
	return nil
}

// send POSTs a command signed like incoming events, and decodes a 2xx reply
// into reply when it is not nil and the reply has a body. Commands are not
// retried here: a dial sent twice places two calls, so retrying is the
// caller's decision.
func (w *Webhook) send(ctx context.Context, cmd command, reply any) error {
	if w.outboundURL == "" {
		return fmt.Errorf("%s: %w: set the webhook's outbound URL to send commands to the platform", cmd.Command, ErrNotSupported)
	}
	cmd.ID = "cmd-" + rand.Text()
	body, err := json.Marshal(cmd)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd.Command, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.outboundURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: outbound URL %q: %w", cmd.Command, w.outboundURL, err)
	}
	ts, sig := Sign(w.secrets[0], w.now(), body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(SignatureHeader, sig)
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: sending to the telephony platform: %w", cmd.Command, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCommandResponse))
	if err != nil {
		return fmt.Errorf("%s: reading the telephony platform's reply: %w", cmd.Command, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		cerr := &CommandError{Command: cmd.Command, Status: resp.StatusCode}
		var eb errorBody
		if json.Unmarshal(data, &eb) == nil {
			cerr.Code, cerr.Message = eb.Error.Code, eb.Error.Message
		}
		return cerr
	}
	if reply == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, reply); err != nil {
		return fmt.Errorf("%s: the telephony platform's reply is not the JSON expected: %w", cmd.Command, err)
	}
	return nil
}
