package interaction

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits DecodeEvent enforces before it builds anything from a document.
const (
	// MaxEventBytes bounds one event document. A real event is 1-3 KB; the
	// bound leaves room for generous extra data while keeping one bad
	// request from costing more than a few milliseconds and megabytes.
	MaxEventBytes = 1 << 20
	// MaxEventDepth bounds object and array nesting. The event format itself
	// nests five levels (interaction.leadData.phones[0]); 32 leaves extra
	// data plenty of room and keeps the decoder's recursion shallow.
	MaxEventDepth = 32
)

// Limits on the ids of an event. Ids are printable ASCII without spaces
// (! to ~), so no two different ids look alike in a log or the CRM, and
// none carries a control character into a log line, a query or a header.
// Real platforms' ids fit: SIP Call-IDs ("a84b4c76e66710@pc33.example.com"),
// Asterisk linkedids ("1712345678.42"), UUIDs, ipSCAPE's numbers.
const (
	// MaxAgentIDBytes bounds agentId, as login does (agent.ValidateAgentID):
	// an agent receives the calls of the id they log in with.
	MaxAgentIDBytes = 64
	// MaxInteractionIDBytes bounds interaction.agentInteractionId: twice
	// the longest Call-ID seen from common SIP stacks.
	MaxInteractionIDBytes = 128
	// MaxEventIDBytes bounds id, which browser sources build from the
	// interaction id ("sip:<agentInteractionId>:callAlerting").
	MaxEventIDBytes = 256
)

// EventTypes lists every event type in lifecycle order.
var EventTypes = []EventType{PreviewAllocated, CallAlerting, CallStarted, CallFailed, CallHangup, CallWrapped}

// EventError is a problem with one event document: Path is the JSON path of
// the offending value ("interaction.callType"), empty when the problem is the
// document as a whole (syntax, size, nesting).
type EventError struct {
	Path string
	Msg  string
}

func (e *EventError) Error() string {
	if e.Path == "" {
		return "event: " + e.Msg
	}
	return e.Path + ": " + e.Msg
}

// DecodeEvent decodes and validates one event document.
//
// The document is decoded once, numbers kept as json.Number so ids keep every
// digit; the typed fields are filled from that decoded tree and the tree is
// kept in Event.Document for config paths. Fields the event format does not
// define are allowed and reachable through Document only.
//
// Fields that hold text (ids, numbers, names, wrap codes) take a JSON string
// or a JSON number, whose literal text is kept: ipSCAPE sends ids and wrap
// codes as numbers. A JSON null counts as absent.
func DecodeEvent(data []byte) (*Event, error) {
	if len(data) > MaxEventBytes {
		return nil, &EventError{Msg: fmt.Sprintf("%d bytes is over the %d-byte limit; move bulky extra data out of the event", len(data), MaxEventBytes)}
	}
	if err := checkDepth(data); err != nil {
		return nil, err
	}
	// The decoder would turn invalid UTF-8 into U+FFFD, and so two
	// different ids into one.
	if !utf8.Valid(data) {
		return nil, invalidUTF8(data)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, syntaxError(data, err)
	}
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		line, col := position(data, len(data)-len(rest))
		return nil, &EventError{Msg: fmt.Sprintf("unexpected data after the event at line %d, column %d; send one JSON object per event", line, col)}
	}
	doc, ok := root.(map[string]any)
	if !ok {
		return nil, &EventError{Msg: fmt.Sprintf("is %s; an event is a JSON object such as {\"id\": \"e1\", \"type\": \"callStarted\", ...}", describe(root))}
	}
	ev := &Event{Document: doc}
	if err := fillEvent(ev, object{m: doc}); err != nil {
		return nil, err
	}
	return ev, nil
}

// checkDepth rejects documents nested deeper than MaxEventDepth before the
// decoder spends time on them.
func checkDepth(data []byte) error {
	depth := 0
	inString, escaped := false, false
	for i, b := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
			continue
		}
		switch b {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > MaxEventDepth {
				line, col := position(data, i)
				return &EventError{Msg: fmt.Sprintf("nested more than %d levels deep at line %d, column %d; flatten the extra data", MaxEventDepth, line, col)}
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// invalidUTF8 describes the first byte of data that is not UTF-8, with the
// JSON path of the value (or key) it is in.
func invalidUTF8(data []byte) *EventError {
	bad := 0
	for bad < len(data) {
		r, size := utf8.DecodeRune(data[bad:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		bad += size
	}
	line, col := position(data, bad)
	path, inKey := pathAt(data, bad)
	what := "is"
	if inKey {
		what = "has a key that is"
	}
	return &EventError{Path: path, Msg: fmt.Sprintf("%s not valid UTF-8 (byte 0x%02x at line %d, column %d); send text as UTF-8", what, data[bad], line, col)}
}

// pathAt returns the JSON path of the string that holds data[offset]
// ("interaction.activity.notes", "[2].id"); inKey is true when the string
// is an object key, the path then being the object's. The path is "" when
// the offset is outside every string, or the document is not valid JSON.
func pathAt(data []byte, offset int) (path string, inKey bool) {
	type level struct {
		array   bool
		index   int
		key     string
		wantKey bool
	}
	var stack []level
	pathOf := func(n int) string {
		var b strings.Builder
		for _, l := range stack[:n] {
			if l.array {
				b.WriteString("[" + strconv.Itoa(l.index) + "]")
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(l.key)
		}
		return b.String()
	}
	// filled moves the innermost container past the value just read.
	filled := func() {
		if len(stack) == 0 {
			return
		}
		top := &stack[len(stack)-1]
		if top.array {
			top.index++
		} else {
			top.wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		before := int(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		after := int(dec.InputOffset())
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{':
				stack = append(stack, level{wantKey: true})
			case '[':
				stack = append(stack, level{array: true})
			default:
				stack = stack[:len(stack)-1]
				filled()
			}
		case string:
			if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].wantKey {
				if offset >= before && offset < after {
					return pathOf(n - 1), true
				}
				stack[n-1].key, stack[n-1].wantKey = tok, false
				continue
			}
			if offset >= before && offset < after {
				return pathOf(len(stack)), false
			}
			filled()
		default:
			filled()
		}
	}
}

// checkID reports what is wrong with id as an id of at most limit bytes of
// printable ASCII without spaces; "" when nothing is.
func checkID(id string, limit int) string {
	if len(id) > limit {
		return fmt.Sprintf("is %d bytes long; an id is at most %d bytes", len(id), limit)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return fmt.Sprintf("has the byte 0x%02x at offset %d; an id is printable ASCII (! to ~) without spaces or control characters", c, i)
		}
	}
	return ""
}

// CheckAgentID checks an agent id as login does: at most MaxAgentIDBytes of
// printable ASCII without spaces. The error's path is "agentId".
func CheckAgentID(id string) error {
	if msg := checkID(id, MaxAgentIDBytes); msg != "" {
		return &EventError{Path: "agentId", Msg: msg}
	}
	return nil
}

// syntaxError turns a decoder error into an EventError with a line and column.
func syntaxError(data []byte, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		// Offset counts the bytes read, including the offending one.
		line, col := position(data, int(se.Offset)-1)
		return &EventError{Msg: fmt.Sprintf("invalid JSON at line %d, column %d: %s", line, col, se.Error())}
	case errors.Is(err, io.EOF):
		return &EventError{Msg: "empty; send one JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := position(data, len(data))
		return &EventError{Msg: fmt.Sprintf("JSON ends early at line %d, column %d; the document is truncated", line, col)}
	}
	return &EventError{Msg: err.Error()}
}

// position returns the 1-based line and column (in bytes) of data[offset].
func position(data []byte, offset int) (line, col int) {
	offset = max(0, min(offset, len(data)))
	before := data[:offset]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = offset - bytes.LastIndexByte(before, '\n')
	return line, col
}

const callTypeList = "manual, inbound, outbound or preview"

func fillEvent(ev *Event, doc object) error {
	var err error
	if ev.ID, err = doc.requiredText("id", `a unique id per event, e.g. "evt-0001", so redeliveries are recognised`); err != nil {
		return err
	}
	if msg := checkID(ev.ID, MaxEventIDBytes); msg != "" {
		return &EventError{Path: "id", Msg: msg}
	}
	typ, err := doc.requiredText("type", "one of "+eventTypeList)
	if err != nil {
		return err
	}
	ev.Type = EventType(typ)
	if !knownEventType(ev.Type) {
		return &EventError{Path: "type", Msg: fmt.Sprintf("%q is not an event type; use %s", typ, eventTypeList)}
	}
	stamp, err := doc.text("timestamp")
	if err != nil {
		return err
	}
	if stamp != "" {
		if ev.Time, err = time.Parse(time.RFC3339Nano, stamp); err != nil {
			return &EventError{Path: doc.at("timestamp"), Msg: fmt.Sprintf("%q is not an RFC 3339 time; write it like 2025-03-04T09:15:02Z or 2025-03-04T20:15:02+11:00", stamp)}
		}
	}
	if ev.AgentID, err = doc.requiredText("agentId", "the telephony agent's id"); err != nil {
		return err
	}
	if err := CheckAgentID(ev.AgentID); err != nil {
		return err
	}
	ix, ok, err := doc.object("interaction")
	if err != nil {
		return err
	}
	if !ok {
		return &EventError{Path: "interaction", Msg: "missing; every event carries the interaction it is about"}
	}
	return fillInteraction(&ev.Interaction, ix, ev.Type)
}

func fillInteraction(in *Interaction, ix object, typ EventType) error {
	var err error
	if in.AgentInteractionID, err = ix.requiredText("agentInteractionId", "the telephony platform's interaction id, the same on every event of one call"); err != nil {
		return err
	}
	if msg := checkID(in.AgentInteractionID, MaxInteractionIDBytes); msg != "" {
		return &EventError{Path: ix.at("agentInteractionId"), Msg: msg}
	}
	ct, err := ix.requiredText("callType", "one of "+callTypeList)
	if err != nil {
		return err
	}
	in.CallType = CallType(ct)
	switch in.CallType {
	case CallManual, CallInbound, CallOutbound, CallPreview:
	default:
		return &EventError{Path: ix.at("callType"), Msg: fmt.Sprintf("%q is not a call type; use %s", ct, callTypeList)}
	}
	if typ == PreviewAllocated && in.CallType != CallPreview {
		return &EventError{Path: ix.at("callType"), Msg: fmt.Sprintf("%q on a previewAllocated event; a preview allocation is always callType \"preview\"", ct)}
	}
	act, ok, err := ix.object("activity")
	if err != nil {
		return err
	}
	if ok {
		if err := fillActivity(&in.Activity, act); err != nil {
			return err
		}
	}
	lead, ok, err := ix.object("leadData")
	if err != nil {
		return err
	}
	if ok {
		in.LeadData = &Lead{}
		if err := fillLead(in.LeadData, lead); err != nil {
			return err
		}
	}
	return nil
}

func fillActivity(a *Activity, o object) error {
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"activityId", &a.ActivityID},
		{"customerCli", &a.CustomerCLI},
		{"sourcePhoneNumber", &a.SourcePhoneNumber},
		{"destinationPhoneNumber", &a.DestinationPhoneNumber},
		{"campaignId", &a.CampaignID},
		{"campaignName", &a.CampaignName},
		{"queueName", &a.QueueName},
		{"wrapCode", &a.WrapCode},
		{"wrapDescription", &a.WrapDescription},
		{"notes", &a.Notes},
	} {
		v, err := o.text(f.key)
		if err != nil {
			return err
		}
		*f.dst = v
	}
	return nil
}

func fillLead(l *Lead, o object) error {
	var err error
	if l.LeadID, err = o.text("leadId"); err != nil {
		return err
	}
	if l.Name, err = o.text("name"); err != nil {
		return err
	}
	if l.PhoneIndex, _, err = o.whole("phoneIndex", 0); err != nil {
		return err
	}
	raw, ok := o.m["phones"]
	if !ok || raw == nil {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		return &EventError{Path: o.at("phones"), Msg: fmt.Sprintf("is %s; phones is a list such as [{\"index\": 1, \"phone\": \"0299990000\"}]", describe(raw))}
	}
	l.Phones = make([]LeadPhone, 0, len(list))
	for i, item := range list {
		lp, err := decodePhone(item)
		if err != nil {
			// Paths are built only on error: most events decode cleanly.
			ee := err.(*EventError)
			path := o.at("phones") + "[" + strconv.Itoa(i) + "]"
			if ee.Path != "" {
				path += "." + ee.Path
			}
			ee.Path = path
			return ee
		}
		l.Phones = append(l.Phones, lp)
	}
	return nil
}

// decodePhone reads one of leadData.phones; error paths are relative to it.
func decodePhone(item any) (LeadPhone, error) {
	var lp LeadPhone
	m, ok := item.(map[string]any)
	if !ok {
		return lp, &EventError{Msg: fmt.Sprintf("is %s; each phone is an object such as {\"index\": 1, \"phone\": \"0299990000\"}", describe(item))}
	}
	p := object{m: m}
	index, found, err := p.whole("index", 1)
	if err != nil {
		return lp, err
	}
	if !found {
		return lp, &EventError{Path: "index", Msg: "missing; number the lead's phones from 1 so config paths such as phones.index=1[phone] can pick one"}
	}
	lp.Index = index
	if lp.Phone, err = p.text("phone"); err != nil {
		return lp, err
	}
	if lp.Type, err = p.text("type"); err != nil {
		return lp, err
	}
	return lp, nil
}

func knownEventType(t EventType) bool {
	for _, known := range EventTypes {
		if t == known {
			return true
		}
	}
	return false
}

// eventTypeList is "previewAllocated, ..., callWrapped" for messages.
var eventTypeList = func() string {
	names := make([]string, len(EventTypes))
	for i, t := range EventTypes {
		names[i] = string(t)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}()

// object is one decoded JSON object and its path, for typed reads with
// errors that name the field.
type object struct {
	m    map[string]any
	path string
}

func (o object) at(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

// text reads a string field, or a number as its literal text. Absent and
// null read as "".
func (o object) text(key string) (string, error) {
	switch v := o.m[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	default:
		return "", &EventError{Path: o.at(key), Msg: fmt.Sprintf("is %s; write a string", describe(v))}
	}
}

// requiredText is text that must be present and not blank; want says what
// the field should hold.
func (o object) requiredText(key, want string) (string, error) {
	v, err := o.text(key)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(v) == "" {
		if _, present := o.m[key]; present && o.m[key] != nil {
			return "", &EventError{Path: o.at(key), Msg: "is blank; it must hold " + want}
		}
		return "", &EventError{Path: o.at(key), Msg: "missing; it must hold " + want}
	}
	return v, nil
}

// object reads a nested object; ok is false when it is absent or null.
func (o object) object(key string) (object, bool, error) {
	switch v := o.m[key].(type) {
	case nil:
		return object{}, false, nil
	case map[string]any:
		return object{m: v, path: o.at(key)}, true, nil
	default:
		return object{}, false, &EventError{Path: o.at(key), Msg: fmt.Sprintf("is %s; it must be an object", describe(v))}
	}
}

// whole reads a JSON number that is a whole number of at least least; found
// is false when the field is absent or null.
func (o object) whole(key string, least int) (n int, found bool, err error) {
	v, present := o.m[key]
	if !present || v == nil {
		return 0, false, nil
	}
	num, ok := v.(json.Number)
	if ok {
		n, convErr := strconv.Atoi(num.String())
		if convErr == nil && n >= least {
			return n, true, nil
		}
	}
	return 0, false, &EventError{Path: o.at(key), Msg: fmt.Sprintf("is %s; it must be a whole JSON number from %d, e.g. %d", describe(v), least, max(least, 1))}
}

// describe names a decoded JSON value for error messages.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		if len(v) > 40 {
			return fmt.Sprintf("the string %q...", v[:40])
		}
		return fmt.Sprintf("the string %q", v)
	case json.Number:
		return "the number " + v.String()
	case bool:
		return "the boolean " + strconv.FormatBool(v)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
