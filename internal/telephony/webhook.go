package telephony

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ctibridge/ctibridge/internal/interaction"
)

// Webhook defaults.
const (
	DefaultTolerance      = 5 * time.Minute
	DefaultMaxBody        = 1 << 20 // 1 MiB
	DefaultReplayCapacity = 1 << 20 // about 30 MB of replay memory when full
)

// AgentStateEventType is the "type" of a webhook event that reports an agent
// state change instead of a call event (ipSCAPE's onAgentPresenceChange).
const AgentStateEventType = "agentState"

// WebhookOptions configures NewWebhook.
type WebhookOptions struct {
	// Secret is the shared secret events are signed with, and the one
	// outbound commands are signed with. Required; use at least 32 random
	// bytes.
	Secret []byte
	// PreviousSecrets are still accepted on incoming events while the
	// platform moves to Secret: rotate by adding the new secret as Secret,
	// the old one here, and removing it once the platform signs with the new.
	PreviousSecrets [][]byte
	// Tolerance is how far a request's timestamp may be from Now, either way
	// (default 5m). It also bounds how long replay memory is kept.
	Tolerance time.Duration
	// MaxBody is the largest request body accepted, in bytes (default 1 MiB);
	// larger bodies are refused with 413.
	MaxBody int64
	// ReplayCapacity caps the signed requests remembered for replay
	// detection (default 1,048,576, about 30 MB). At the cap new requests
	// are refused with 503 until entries expire; see docs/webhook.md.
	ReplayCapacity int
	// Now is the clock timestamps are checked against (default time.Now).
	Now func() time.Time
	// OutboundURL, when set, is where Dial, SetAgentState and Wrap POST
	// signed commands (the platform's side of the integration). Without it
	// they return ErrNotSupported.
	OutboundURL string
	// HTTPClient sends outbound commands (default: a client with a 10s
	// timeout).
	HTTPClient *http.Client
}

// Webhook is the telephony provider for platforms that push events: an
// http.Handler for POST /api/v1/events that authenticates each request by its
// HMAC signature and delivers the events to the Sink of Run. The protocol is
// described in docs/webhook.md.
type Webhook struct {
	secrets     [][]byte // Secret first
	tolerance   time.Duration
	maxBody     int64
	now         func() time.Time
	outboundURL string
	client      *http.Client
	replay      *replayMemory
	// replayStore, when set, holds replay's entries across restarts.
	replayStore ReplayStore
	// expiredAt is the last second replayStore's expired entries were
	// deleted: once a second is enough, and keeps it off the hot path.
	expiredAt atomic.Int64
	runs      runSlot
}

// ReplayStore keeps the replay memory's entries (a request's timestamp in
// unix seconds, and a key derived from its signature) across restarts.
// store.WebhookReplay implements it.
type ReplayStore interface {
	// LoadReplay calls each for every entry whose timestamp is at or after
	// since.
	LoadReplay(ctx context.Context, since int64, each func(ts int64, key [16]byte)) error
	// AddReplay records an entry; it returns once the entry is as durable
	// as the events it guards.
	AddReplay(ctx context.Context, ts int64, key [16]byte) error
	// ForgetReplay removes an entry.
	ForgetReplay(ctx context.Context, ts int64, key [16]byte) error
	// ExpireReplay deletes the entries whose timestamp is before before.
	ExpireReplay(ctx context.Context, before int64) error
}

// KeepReplayIn makes the replay memory survive restarts: it loads the
// entries rs holds that are still within the tolerance, and from then on
// records every request accepted in rs before its events are delivered.
// Without it, a request captured before a restart could be sent again
// after it. Call it before Run.
func (w *Webhook) KeepReplayIn(ctx context.Context, rs ReplayStore) error {
	since := w.now().Unix() - w.replay.tolerance
	if err := rs.ExpireReplay(ctx, since); err != nil {
		return fmt.Errorf("webhook replay memory: delete expired entries: %w", err)
	}
	if err := rs.LoadReplay(ctx, since, func(ts int64, key [16]byte) { w.replay.restore(ts, key) }); err != nil {
		return fmt.Errorf("webhook replay memory: load: %w", err)
	}
	w.replayStore = rs
	return nil
}

// NewWebhook checks the options and returns a webhook provider.
func NewWebhook(opts WebhookOptions) (*Webhook, error) {
	if len(opts.Secret) == 0 {
		return nil, errors.New("webhook secret is empty: set a shared secret of at least 32 random bytes")
	}
	secrets := [][]byte{opts.Secret}
	for i, s := range opts.PreviousSecrets {
		if len(s) == 0 {
			return nil, fmt.Errorf("webhook previous secret %d is empty: remove it or set it to the secret being rotated out", i)
		}
		secrets = append(secrets, s)
	}
	w := &Webhook{
		secrets:     secrets,
		tolerance:   opts.Tolerance,
		maxBody:     opts.MaxBody,
		now:         opts.Now,
		outboundURL: opts.OutboundURL,
		client:      opts.HTTPClient,
	}
	switch {
	case w.tolerance < 0:
		return nil, fmt.Errorf("webhook tolerance %v is negative: use a positive duration such as 5m", w.tolerance)
	case w.tolerance == 0:
		w.tolerance = DefaultTolerance
	}
	switch {
	case w.maxBody < 0:
		return nil, fmt.Errorf("webhook max body %d is negative: use a size in bytes such as %d", w.maxBody, DefaultMaxBody)
	case w.maxBody == 0:
		w.maxBody = DefaultMaxBody
	}
	capacity := opts.ReplayCapacity
	switch {
	case capacity < 0:
		return nil, fmt.Errorf("webhook replay capacity %d is negative: use a number of entries such as %d", capacity, DefaultReplayCapacity)
	case capacity == 0:
		capacity = DefaultReplayCapacity
	}
	w.replay = newReplayMemory(w.tolerance, capacity)
	if w.now == nil {
		w.now = time.Now
	}
	if w.client == nil {
		w.client = &http.Client{Timeout: 10 * time.Second}
	}
	return w, nil
}

// Name returns "webhook".
func (w *Webhook) Name() string { return "webhook" }

// Running reports whether Run is in progress, i.e. events are accepted.
func (w *Webhook) Running() bool { return w.runs.running() }

// Run delivers the events of incoming requests to sink until ctx ends; while
// it is not running, requests are answered 503. It returns once requests in
// progress have finished with the sink: their deliveries are cancelled when
// ctx ends.
func (w *Webhook) Run(ctx context.Context, sink Sink) error {
	if sink == nil {
		return errors.New("webhook: Run needs a sink")
	}
	return w.runs.serve(ctx, sink, "webhook")
}

// apiError is an error response: a stable code for programs, a message for
// people, and for event problems the JSON path of the offending value.
type apiError struct {
	status     int
	code       string
	message    string
	path       string
	retryAfter time.Duration
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// The error codes, by status. Messages are written at the point of use so they
// can name the value and the fix.
const (
	codeMethodNotAllowed   = "method_not_allowed"         // 405
	codeMissingTimestamp   = "missing_timestamp"          // 401
	codeInvalidTimestamp   = "invalid_timestamp"          // 401
	codeTimestampTolerance = "timestamp_out_of_tolerance" // 401
	codeMissingSignature   = "missing_signature"          // 401
	codeInvalidSignature   = "invalid_signature"          // 401
	codeReplayed           = "replayed"                   // 401
	codeBodyTooLarge       = "body_too_large"             // 413
	codeUnreadableBody     = "unreadable_body"            // 400
	codeInvalidJSON        = "invalid_json"               // 400
	codeEmptyBatch         = "empty_batch"                // 400
	codeInvalidEvent       = "invalid_event"              // 400
	codeEventRefused       = "event_refused"              // 422
	codeUnavailable        = "unavailable"                // 503
	codeReplayMemoryFull   = "replay_memory_full"         // 503
	codeNotRunning         = "not_running"                // 503
)

func unauthorized(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: code, message: fmt.Sprintf(format, args...)}
}

// ServeHTTP handles POST /api/v1/events: it authenticates the request,
// decodes and validates every event in it, then delivers them in order.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	accepted, err := w.serve(rw, r)
	if err != nil {
		writeError(rw, err, accepted)
		return
	}
	writeJSON(rw, http.StatusAccepted, map[string]int{"accepted": accepted})
}

// serve does the work of ServeHTTP; accepted is how many events the sink
// took, -1 when delivery never started (the response then has no
// "accepted").
func (w *Webhook) serve(rw http.ResponseWriter, r *http.Request) (accepted int, _ *apiError) {
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		return -1, &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed, message: r.Method + " is not allowed: send events with POST"}
	}
	// The headers are checked before the body is read, so requests that
	// cannot be genuine cost nothing more.
	tsHeader := r.Header.Get(TimestampHeader)
	if tsHeader == "" {
		return -1, unauthorized(codeMissingTimestamp, "the %s header is missing: send the unix time in seconds the request was signed at", TimestampHeader)
	}
	ts, perr := strconv.ParseInt(tsHeader, 10, 64)
	if perr != nil {
		return -1, unauthorized(codeInvalidTimestamp, "the %s header %q is not a unix time in whole seconds, such as 1741080902", TimestampHeader, tsHeader)
	}
	if skew := w.now().Sub(time.Unix(ts, 0)); skew > w.tolerance || skew < -w.tolerance {
		direction := "in the past"
		if skew < 0 {
			direction, skew = "in the future", -skew
		}
		return -1, unauthorized(codeTimestampTolerance, "the %s header %s is %v %s, beyond the tolerance of %v: sign each request as it is sent and keep the sender's clock synchronised (NTP)",
			TimestampHeader, tsHeader, skew.Round(time.Second), direction, w.tolerance)
	}
	sigHeader := r.Header.Get(SignatureHeader)
	if sigHeader == "" {
		return -1, unauthorized(codeMissingSignature, "the %s header is missing: send v1=<hex HMAC-SHA256 of timestamp + \".\" + body>", SignatureHeader)
	}
	sigs, ok := parseSignatures(sigHeader)
	if !ok {
		return -1, unauthorized(codeInvalidSignature, "the %s header has no valid signature: send up to %d comma-separated values of the form v1=<64 hex digits>", SignatureHeader, maxSignatures)
	}

	if r.ContentLength > w.maxBody {
		return -1, w.tooLarge()
	}
	body, rerr := io.ReadAll(http.MaxBytesReader(rw, r.Body, w.maxBody))
	if rerr != nil {
		if _, tooBig := errors.AsType[*http.MaxBytesError](rerr); tooBig {
			return -1, w.tooLarge()
		}
		return -1, &apiError{status: http.StatusBadRequest, code: codeUnreadableBody, message: "the request body could not be read: " + rerr.Error()}
	}

	key, matched := w.verify(tsHeader, body, sigs)
	if !matched {
		return -1, unauthorized(codeInvalidSignature, "the signature does not match the body: sign the exact bytes sent, as HMAC-SHA256(secret, timestamp + \".\" + body) in hex, with the shared secret")
	}

	run := w.runs.acquire()
	if run == nil {
		return -1, &apiError{status: http.StatusServiceUnavailable, code: codeNotRunning, message: "ctibridge is not accepting events right now (starting or stopping): retry shortly", retryAfter: time.Second}
	}
	defer run.inflight.Done()

	switch outcome, wait := w.replay.remember(w.now().Unix(), ts, key); outcome {
	case replaySeen:
		return -1, unauthorized(codeReplayed, "this signed request was already received: sign every request afresh, with a new timestamp, even when resending the same events")
	case replayFull:
		return -1, &apiError{status: http.StatusServiceUnavailable, code: codeReplayMemoryFull, retryAfter: wait,
			message: "too many requests within the timestamp tolerance to remember them all: batch events into fewer requests, and retry after the Retry-After seconds"}
	}
	items, batch, derr := decodeBody(body, w.now)
	if derr != nil {
		return -1, derr
	}
	accepted, serr := w.deliver(r.Context(), run, items, batch)
	if serr != nil && serr.status >= 500 {
		// Nothing on the sender's side was wrong: let it retry the very
		// same request, whose signature is otherwise spent.
		w.forgetReplay(r.Context(), ts, key)
		return accepted, serr
	}
	w.storeReplay(r.Context(), ts, key)
	return accepted, serr
}

// storeReplay records a request in replayStore, if any, once its events
// are delivered: the store's single connection is shared with the calls'
// transactions, and waiting for it before delivery put the wait in front
// of every screen pop (p99 event→pop 1.4 ms → 18 ms at 500 events/s). A
// request replayed after a restart that came before this write, or after
// a failed one, has its events deduplicated by id, so nothing is done
// twice; the in-process memory refuses it meanwhile.
func (w *Webhook) storeReplay(ctx context.Context, ts int64, key replayKey) {
	if w.replayStore == nil {
		return
	}
	ctx = context.WithoutCancel(ctx) // the request's end must not undo the record
	if err := w.replayStore.AddReplay(ctx, ts, key); err != nil {
		return // the store's trouble shows on /readyz
	}
	now := w.now().Unix()
	if last := w.expiredAt.Load(); now > last && w.expiredAt.CompareAndSwap(last, now) {
		// A failure leaves the rows for the next second's attempt; they
		// are refused by the timestamp check meanwhile.
		_ = w.replayStore.ExpireReplay(ctx, now-w.replay.tolerance)
	}
}

// forgetReplay forgets a request in memory and in replayStore.
func (w *Webhook) forgetReplay(ctx context.Context, ts int64, key replayKey) {
	w.replay.forget(ts, key)
	if w.replayStore != nil {
		// Failing, the entry stays: the sender's retry of the very same
		// request is refused after a restart, and a resend signed afresh
		// goes through.
		_ = w.replayStore.ForgetReplay(ctx, ts, key)
	}
}

func (w *Webhook) tooLarge() *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, code: codeBodyTooLarge,
		message: fmt.Sprintf("the body is larger than %d bytes: split the batch into smaller requests", w.maxBody)}
}

// verify checks the body against every signature with every secret. All
// pairs are compared, each in constant time, so timing tells nothing about
// which secret or how much of a signature matched. The replay key is taken
// from the MAC under the primary secret whichever signature matched, so a
// message signed with two secrets cannot be replayed with just one of them.
func (w *Webhook) verify(timestamp string, body []byte, sigs [][sha256.Size]byte) (key replayKey, matched bool) {
	for i, secret := range w.secrets {
		want := signatureMAC(secret, timestamp, body)
		if i == 0 {
			copy(key[:], want[:])
		}
		for j := range sigs {
			if hmac.Equal(sigs[j][:], want[:]) {
				matched = true
			}
		}
	}
	return key, matched
}

// delivery is one decoded item of a request: a call event or an agent state
// change.
type delivery struct {
	event *interaction.Event
	state *AgentStateChange
}

// decodeBody decodes a request body: one event object, or an array of them.
// A batch is all or nothing at this stage: every item is validated before any
// is delivered, and one malformed item refuses the whole request, naming it
// ("[3].interaction.callType"), so the sender never has to work out which
// part of a batch went through because of a malformed item.
func decodeBody(body []byte, now func() time.Time) (items []delivery, batch bool, _ *apiError) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		d, err := decodeItem(body, now)
		if err != nil {
			return nil, false, invalidEvent(err, "")
		}
		return []delivery{d}, false, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		msg := err.Error()
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			line, col := lineColumn(body, int(se.Offset)-1)
			msg = fmt.Sprintf("line %d, column %d: %s", line, col, se.Error())
		}
		return nil, true, &apiError{status: http.StatusBadRequest, code: codeInvalidJSON, message: "the batch is not valid JSON at " + msg}
	}
	if len(raws) == 0 {
		return nil, true, &apiError{status: http.StatusBadRequest, code: codeEmptyBatch, message: "the batch is an empty array: send at least one event"}
	}
	items = make([]delivery, len(raws))
	for i, raw := range raws {
		d, err := decodeItem(raw, now)
		if err != nil {
			return nil, true, invalidEvent(err, batchPrefix(i))
		}
		items[i] = d
	}
	return items, true, nil
}

// decodeItem decodes one event: a call event by interaction.DecodeEvent, or
// an agent state change. The call event is tried first since it is by far
// the most common, so agent state changes pay for the second decode.
func decodeItem(raw []byte, now func() time.Time) (delivery, *interaction.EventError) {
	ev, err := interaction.DecodeEvent(raw)
	if err == nil {
		return delivery{event: ev}, nil
	}
	ee, ok := errors.AsType[*interaction.EventError](err)
	if !ok {
		ee = &interaction.EventError{Msg: err.Error()}
	}
	if ee.Path == "type" && peekType(raw) == AgentStateEventType {
		change, serr := decodeAgentState(raw, now)
		if serr != nil {
			return delivery{}, serr
		}
		return delivery{state: change}, nil
	}
	return delivery{}, ee
}

func peekType(raw []byte) string {
	var head struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(raw, &head) // a type that is not a string is DecodeEvent's error to report
	return head.Type
}

// decodeAgentState decodes an agentState event:
//
//	{"id": "evt-1", "type": "agentState", "timestamp": "2025-03-04T09:15:02Z",
//	 "agentId": "1001", "state": "Paused", "reason": "Lunch"}
//
// The timestamp is optional (the time of receipt is used) and the state takes
// any spelling ParseAgentState accepts.
func decodeAgentState(raw []byte, now func() time.Time) (*AgentStateChange, *interaction.EventError) {
	var wire struct {
		AgentID   string `json:"agentId"`
		State     string `json:"state"`
		Reason    string `json:"reason"`
		Timestamp string `json:"timestamp"`
	}
	if err := json.Unmarshal(raw, &wire); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return nil, &interaction.EventError{Path: te.Field, Msg: fmt.Sprintf("is a JSON %s; write a string", te.Value)}
		}
		return nil, &interaction.EventError{Msg: err.Error()}
	}
	if wire.AgentID == "" {
		return nil, &interaction.EventError{Path: "agentId", Msg: "missing; it must hold the telephony agent's id"}
	}
	if err := interaction.CheckAgentID(wire.AgentID); err != nil {
		return nil, err.(*interaction.EventError)
	}
	if wire.State == "" {
		return nil, &interaction.EventError{Path: "state", Msg: "missing; it must hold one of " + agentStateList()}
	}
	state, err := ParseAgentState(wire.State)
	if err != nil {
		return nil, &interaction.EventError{Path: "state", Msg: err.Error()}
	}
	change := &AgentStateChange{AgentID: wire.AgentID, State: state, Reason: wire.Reason, Time: now()}
	if wire.Timestamp != "" {
		if change.Time, err = time.Parse(time.RFC3339Nano, wire.Timestamp); err != nil {
			return nil, &interaction.EventError{Path: "timestamp", Msg: fmt.Sprintf("%q is not an RFC 3339 time; write it like 2025-03-04T09:15:02Z", wire.Timestamp)}
		}
	}
	return change, nil
}

// deliver hands the items to the sink in order and stops at the first
// refusal: the items before it stay delivered (accepted says how many), so
// the sender can resend the rest, or the whole batch, since events are
// deduplicated by id. Deliveries are cancelled if the request or Run ends.
func (w *Webhook) deliver(reqCtx context.Context, run *run, items []delivery, batch bool) (accepted int, _ *apiError) {
	ctx, cancel := context.WithCancel(reqCtx)
	defer cancel()
	stop := context.AfterFunc(run.ctx, cancel)
	defer stop()

	stateSink, wantsStates := run.sink.(AgentStateSink)
	for i, d := range items {
		var err error
		switch {
		case d.event != nil:
			err = run.sink.HandleEvent(ctx, d.event)
		case wantsStates:
			err = stateSink.HandleAgentState(ctx, *d.state)
		}
		if err != nil {
			prefix := ""
			if batch {
				prefix = batchPrefix(i)
			}
			return i, sinkError(err, prefix)
		}
	}
	return len(items), nil
}

// sinkError maps a Sink's refusal to a response; see Sink.
func sinkError(err error, prefix string) *apiError {
	if ee, ok := errors.AsType[*interaction.EventError](err); ok {
		return invalidEvent(ee, prefix)
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, retryAfter: time.Second,
			message: "the event could not be processed right now (" + err.Error() + "): retry the request"}
	}
	where := "the event"
	if prefix != "" {
		where = "event " + prefix
	}
	return &apiError{status: http.StatusUnprocessableEntity, code: codeEventRefused, path: prefix,
		message: where + " was refused: " + err.Error()}
}

func invalidEvent(ee *interaction.EventError, prefix string) *apiError {
	path := joinPath(prefix, ee.Path)
	msg := "event: " + ee.Msg
	if path != "" {
		msg = path + ": " + ee.Msg
	}
	return &apiError{status: http.StatusBadRequest, code: codeInvalidEvent, path: path, message: msg}
}

func batchPrefix(i int) string { return "[" + strconv.Itoa(i) + "]" }

// joinPath puts an event's JSON path under its batch index: "[3]" and
// "interaction.callType" make "[3].interaction.callType".
func joinPath(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case path[0] == '[':
		return prefix + path
	}
	return prefix + "." + path
}

// lineColumn returns the 1-based line and byte column of data[offset].
func lineColumn(data []byte, offset int) (line, col int) {
	offset = max(0, min(offset, len(data)))
	before := data[:offset]
	return 1 + bytes.Count(before, []byte{'\n'}), offset - bytes.LastIndexByte(before, '\n')
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Path    string `json:"path,omitempty"`
	} `json:"error"`
	// Accepted is how many events of the request were delivered before the
	// refusal; absent when none were attempted.
	Accepted *int `json:"accepted,omitempty"`
}

func writeError(rw http.ResponseWriter, e *apiError, accepted int) {
	var body errorBody
	body.Error.Code, body.Error.Message, body.Error.Path = e.code, e.message, e.path
	if accepted >= 0 {
		body.Accepted = &accepted
	}
	if e.status == http.StatusUnauthorized {
		rw.Header().Set("WWW-Authenticate", `Ctibridge-Signature scheme="v1"`)
	}
	if e.retryAfter > 0 {
		rw.Header().Set("Retry-After", strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(rw, e.status, body)
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v) // the client went away; nothing to do
}
