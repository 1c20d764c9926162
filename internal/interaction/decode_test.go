package interaction

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// minimal is a valid event the invalid cases below break one field of.
const minimal = `{"id": "e1", "type": "callStarted", "agentId": "1042",
 "interaction": {"agentInteractionId": "AI-1", "callType": "inbound"}}`

func TestDecodeEventFields(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want Event
	}{
		{
			name: "minimal event has zero time and empty activity",
			doc:  minimal,
			want: Event{ID: "e1", Type: CallStarted, AgentID: "1042",
				Interaction: Interaction{AgentInteractionID: "AI-1", CallType: CallInbound}},
		},
		{
			name: "numeric ids and wrap code keep their literal digits",
			doc: `{"id": 90071992547409931, "type": "callWrapped", "agentId": 1042, "timestamp": "2025-03-04T09:20:30Z",
			  "interaction": {"agentInteractionId": 123456789012345678, "callType": "inbound",
			    "activity": {"activityId": 5512001, "campaignId": 31, "wrapCode": 3, "wrapDescription": "Sale"}}}`,
			want: Event{ID: "90071992547409931", Type: CallWrapped, AgentID: "1042",
				Time: time.Date(2025, 3, 4, 9, 20, 30, 0, time.UTC),
				Interaction: Interaction{AgentInteractionID: "123456789012345678", CallType: CallInbound,
					Activity: Activity{ActivityID: "5512001", CampaignID: "31", WrapCode: "3", WrapDescription: "Sale"}}},
		},
		{
			name: "wrap code as a string is kept as is",
			doc: `{"id": "e2", "type": "callWrapped", "agentId": "1042",
			  "interaction": {"agentInteractionId": "AI-1", "callType": "outbound", "activity": {"wrapCode": "SALE-01"}}}`,
			want: Event{ID: "e2", Type: CallWrapped, AgentID: "1042",
				Interaction: Interaction{AgentInteractionID: "AI-1", CallType: CallOutbound, Activity: Activity{WrapCode: "SALE-01"}}},
		},
		{
			name: "every activity field and the lead with its phones",
			doc: `{"id": "e3", "type": "previewAllocated", "agentId": "1042", "timestamp": "2025-03-04T20:15:02.5+11:00",
			  "interaction": {"agentInteractionId": "AI-1", "callType": "preview",
			    "activity": {"activityId": "A1", "customerCli": "+61299990000", "sourcePhoneNumber": "+61280001000",
			      "destinationPhoneNumber": "+61299990000", "campaignId": "C1", "campaignName": "Win-back",
			      "queueName": "Sales", "wrapCode": null, "wrapDescription": "", "notes": "n"},
			    "leadData": {"leadId": "L1", "name": "Sam O'Brien", "phoneIndex": 2,
			      "phones": [{"index": 1, "phone": "0299990000", "type": "home"}, {"index": 2, "phone": "0412345678"}]}}}`,
			want: Event{ID: "e3", Type: PreviewAllocated, AgentID: "1042",
				Time: time.Date(2025, 3, 4, 20, 15, 2, 5e8, time.FixedZone("", 11*3600)),
				Interaction: Interaction{AgentInteractionID: "AI-1", CallType: CallPreview,
					Activity: Activity{ActivityID: "A1", CustomerCLI: "+61299990000", SourcePhoneNumber: "+61280001000",
						DestinationPhoneNumber: "+61299990000", CampaignID: "C1", CampaignName: "Win-back", QueueName: "Sales", Notes: "n"},
					LeadData: &Lead{LeadID: "L1", Name: "Sam O'Brien", PhoneIndex: 2, Phones: []LeadPhone{
						{Index: 1, Phone: "0299990000", Type: "home"}, {Index: 2, Phone: "0412345678"}}}}},
		},
		{
			name: "null activity and lead read as absent",
			doc: `{"id": "e4", "type": "callAlerting", "agentId": "1042", "timestamp": null,
			  "interaction": {"agentInteractionId": "AI-1", "callType": "manual", "activity": null, "leadData": null}}`,
			want: Event{ID: "e4", Type: CallAlerting, AgentID: "1042",
				Interaction: Interaction{AgentInteractionID: "AI-1", CallType: CallManual}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := DecodeEvent([]byte(tt.doc))
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if !ev.Time.Equal(tt.want.Time) {
				t.Errorf("Time = %v, want %v", ev.Time, tt.want.Time)
			}
			got := *ev
			got.Document, got.Time, tt.want.Time = nil, time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decoded\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeEventKeepsDocumentForConfigPaths(t *testing.T) {
	ev, err := DecodeEvent([]byte(`{"id": "e1", "type": "callStarted", "agentId": "1042",
	  "interaction": {"agentInteractionId": "AI-1", "callType": "inbound",
	    "activity": {"customerCli": "+61299990000", "score": 4.5}, "custom": {"vip": true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	ix := ev.Document["interaction"].(map[string]any)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{name: "typed field also in document", got: ix["activity"].(map[string]any)["customerCli"], want: "+61299990000"},
		{name: "unknown number kept as json.Number", got: ix["activity"].(map[string]any)["score"], want: json.Number("4.5")},
		{name: "unknown object kept", got: ix["custom"], want: map[string]any{"vip": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestDecodeEventErrors(t *testing.T) {
	deep := strings.Repeat(`{"a":`, MaxEventDepth) + `1` + strings.Repeat(`}`, MaxEventDepth)
	tooDeep := `{"x":` + strings.Repeat(`[`, MaxEventDepth) + strings.Repeat(`]`, MaxEventDepth) + `}`
	tests := []struct {
		name     string
		doc      string
		wantPath string
		wantMsg  string // substring of Msg
	}{
		{name: "empty input", doc: "", wantMsg: "empty"},
		{name: "only whitespace", doc: " \n ", wantMsg: "empty"},
		{name: "not an object", doc: `["callStarted"]`, wantMsg: "is a list; an event is a JSON object"},
		{name: "syntax error names line and column",
			doc:     "{\n  \"id\": \"e1\",\n  \"type\": callStarted\n}",
			wantMsg: "invalid JSON at line 3, column 11: invalid character 'c'"},
		{name: "truncated document", doc: "{\"id\": \"e1\",\n \"type\"", wantMsg: "JSON ends early at line 2, column 8"},
		{name: "two documents", doc: minimal + "\n" + minimal, wantMsg: "unexpected data after the event at line 3, column 1"},
		{name: "over the size limit", doc: `{"pad": "` + strings.Repeat("x", MaxEventBytes) + `"}`, wantMsg: "over the 1048576-byte limit"},
		{name: "nested past the depth limit", doc: tooDeep, wantMsg: "nested more than 32 levels deep at line 1, column 37"},
		{name: "brackets inside strings do not count as nesting", doc: `{"x": "` + strings.Repeat("[", 100) + `\"{"}`,
			wantPath: "id", wantMsg: "missing"},
		{name: "missing id", doc: `{"type": "callStarted"}`, wantPath: "id", wantMsg: "missing; it must hold a unique id"},
		{name: "blank id", doc: `{"id": "  ", "type": "callStarted"}`, wantPath: "id", wantMsg: "is blank"},
		{name: "id of the wrong type", doc: `{"id": true}`, wantPath: "id", wantMsg: "is the boolean true; write a string"},
		{name: "missing type", doc: `{"id": "e1"}`, wantPath: "type", wantMsg: "missing; it must hold one of previewAllocated, callAlerting, callStarted, callFailed, callHangup or callWrapped"},
		{name: "unknown type", doc: `{"id": "e1", "type": "callParked"}`, wantPath: "type",
			wantMsg: `"callParked" is not an event type; use previewAllocated, callAlerting, callStarted, callFailed, callHangup or callWrapped`},
		{name: "timestamp not RFC 3339", doc: `{"id": "e1", "type": "callStarted", "timestamp": "04/03/2025 09:15"}`,
			wantPath: "timestamp", wantMsg: `"04/03/2025 09:15" is not an RFC 3339 time`},
		{name: "epoch timestamp", doc: `{"id": "e1", "type": "callStarted", "timestamp": 1741079702}`,
			wantPath: "timestamp", wantMsg: `"1741079702" is not an RFC 3339 time`},
		{name: "missing agent", doc: `{"id": "e1", "type": "callStarted"}`, wantPath: "agentId", wantMsg: "missing"},
		{name: "missing interaction", doc: `{"id": "e1", "type": "callStarted", "agentId": "1"}`, wantPath: "interaction", wantMsg: "missing"},
		{name: "interaction not an object", doc: `{"id": "e1", "type": "callStarted", "agentId": "1", "interaction": "AI-1"}`,
			wantPath: "interaction", wantMsg: `is the string "AI-1"; it must be an object`},
		{name: "missing interaction id", doc: `{"id": "e1", "type": "callStarted", "agentId": "1", "interaction": {"callType": "inbound"}}`,
			wantPath: "interaction.agentInteractionId", wantMsg: "missing"},
		{name: "missing call type", doc: `{"id": "e1", "type": "callStarted", "agentId": "1", "interaction": {"agentInteractionId": "AI-1"}}`,
			wantPath: "interaction.callType", wantMsg: "missing; it must hold one of manual, inbound, outbound or preview"},
		{name: "unknown call type", doc: `{"id": "e1", "type": "callStarted", "agentId": "1", "interaction": {"agentInteractionId": "AI-1", "callType": "fax"}}`,
			wantPath: "interaction.callType", wantMsg: `"fax" is not a call type; use manual, inbound, outbound or preview`},
		{name: "call type is case sensitive", doc: `{"id": "e1", "type": "callStarted", "agentId": "1", "interaction": {"agentInteractionId": "AI-1", "callType": "Inbound"}}`,
			wantPath: "interaction.callType", wantMsg: `"Inbound" is not a call type`},
		{name: "preview allocation for an inbound call", doc: `{"id": "e1", "type": "previewAllocated", "agentId": "1", "interaction": {"agentInteractionId": "AI-1", "callType": "inbound"}}`,
			wantPath: "interaction.callType", wantMsg: `a preview allocation is always callType "preview"`},
		{name: "activity not an object", doc: `{"id": "e1", "type": "callStarted", "agentId": "1", "interaction": {"agentInteractionId": "AI-1", "callType": "inbound", "activity": []}}`,
			wantPath: "interaction.activity", wantMsg: "is a list; it must be an object"},
		{name: "wrap code as an object", doc: `{"id": "e1", "type": "callWrapped", "agentId": "1", "interaction": {"agentInteractionId": "AI-1", "callType": "inbound", "activity": {"wrapCode": {"code": 3}}}}`,
			wantPath: "interaction.activity.wrapCode", wantMsg: "is an object; write a string"},
		{name: "phones not a list", doc: `{"id": "e1", "type": "callStarted", "agentId": "1", "interaction": {"agentInteractionId": "AI-1", "callType": "outbound", "leadData": {"phones": {"index": 1}}}}`,
			wantPath: "interaction.leadData.phones", wantMsg: "is an object; phones is a list"},
		{name: "phone not an object", doc: `{"id": "e1", "type": "callStarted", "agentId": "1", "interaction": {"agentInteractionId": "AI-1", "callType": "outbound", "leadData": {"phones": ["0299990000"]}}}`,
			wantPath: "interaction.leadData.phones[0]", wantMsg: `is the string "0299990000"; each phone is an object`},
		{name: "phone index as a string", doc: `{"id": "e1", "type": "callStarted", "agentId": "1", "interaction": {"agentInteractionId": "AI-1", "callType": "outbound", "leadData": {"phones": [{"index": 1, "phone": "1"}, {"index": "2", "phone": "2"}]}}}`,
			wantPath: "interaction.leadData.phones[1].index", wantMsg: `is the string "2"; it must be a whole JSON number from 1`},
		{name: "phone index zero", doc: `{"id": "e1", "type": "callStarted", "agentId": "1", "interaction": {"agentInteractionId": "AI-1", "callType": "outbound", "leadData": {"phones": [{"index": 0, "phone": "1"}]}}}`,
			wantPath: "interaction.leadData.phones[0].index", wantMsg: "is the number 0; it must be a whole JSON number from 1"},
		{name: "phone index fractional", doc: `{"id": "e1", "type": "callStarted", "agentId": "1", "interaction": {"agentInteractionId": "AI-1", "callType": "outbound", "leadData": {"phones": [{"index": 1.5, "phone": "1"}]}}}`,
			wantPath: "interaction.leadData.phones[0].index", wantMsg: "is the number 1.5"},
		{name: "phone index missing", doc: `{"id": "e1", "type": "callStarted", "agentId": "1", "interaction": {"agentInteractionId": "AI-1", "callType": "outbound", "leadData": {"phones": [{"phone": "1"}]}}}`,
			wantPath: "interaction.leadData.phones[0].index", wantMsg: "missing; number the lead's phones from 1"},
		{name: "phone index negative lead phoneIndex", doc: `{"id": "e1", "type": "callStarted", "agentId": "1", "interaction": {"agentInteractionId": "AI-1", "callType": "outbound", "leadData": {"phoneIndex": -1}}}`,
			wantPath: "interaction.leadData.phoneIndex", wantMsg: "is the number -1; it must be a whole JSON number from 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := DecodeEvent([]byte(tt.doc))
			if err == nil {
				t.Fatalf("DecodeEvent accepted it: %+v", ev)
			}
			var ee *EventError
			if !errors.As(err, &ee) {
				t.Fatalf("error %T %v, want *EventError", err, err)
			}
			if ee.Path != tt.wantPath || !strings.Contains(ee.Msg, tt.wantMsg) {
				t.Errorf("error = %q (path %q)\nwant path %q and message containing %q", err, ee.Path, tt.wantPath, tt.wantMsg)
			}
		})
	}
	if _, err := DecodeEvent([]byte(deep)); err == nil || strings.Contains(err.Error(), "nested") {
		t.Errorf("a document exactly %d levels deep must pass the depth check, got %v", MaxEventDepth, err)
	}
}

func TestEventErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  *EventError
		want string
	}{
		{name: "field error starts with its path", err: &EventError{Path: "interaction.callType", Msg: "missing"}, want: "interaction.callType: missing"},
		{name: "document error starts with event", err: &EventError{Msg: "empty; send one JSON object"}, want: "event: empty; send one JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

// loadCall decodes the events of one testdata/calls file, in file order.
func loadCall(t testing.TB, name string) []*Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "calls", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	events := make([]*Event, len(raws))
	for i, raw := range raws {
		if events[i], err = DecodeEvent(raw); err != nil {
			t.Fatalf("%s event %d: %v", name, i, err)
		}
	}
	return events
}

func TestDecodeEventExamples(t *testing.T) {
	tests := []struct {
		name  string
		types []EventType
	}{
		{name: "inbound", types: []EventType{CallAlerting, CallStarted, CallHangup, CallWrapped}},
		{name: "outbound", types: []EventType{CallAlerting, CallStarted, CallHangup, CallWrapped}},
		{name: "preview", types: []EventType{PreviewAllocated, CallAlerting, CallStarted, CallHangup, CallWrapped}},
		{name: "manual", types: []EventType{CallAlerting, CallStarted, CallHangup, CallWrapped}},
		{name: "outbound-failed", types: []EventType{CallAlerting, CallFailed, CallWrapped}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := loadCall(t, tt.name)
			var got []EventType
			for _, ev := range events {
				got = append(got, ev.Type)
			}
			if !reflect.DeepEqual(got, tt.types) {
				t.Errorf("event types %v, want %v", got, tt.types)
			}
		})
	}
}

// typicalEvent is a realistic ~1.5 KB callWrapped event.
const typicalEvent = `{
  "id": "evt-8c1f0e7a-3b52-4d7e-9a43-0f6c2b1d9e55",
  "type": "callWrapped",
  "timestamp": "2025-03-04T09:20:30.125+11:00",
  "agentId": "1042",
  "agentFullName": "Alex Agent",
  "interaction": {
    "agentInteractionId": "AI-99812",
    "callType": "outbound",
    "activity": {
      "activityId": 5512093,
      "customerCli": "+61299990000",
      "sourcePhoneNumber": "+61280001000",
      "destinationPhoneNumber": "+61299990000",
      "campaignId": 44,
      "campaignName": "Renewals Q1",
      "activityStatusName": "Answered",
      "dialStatusName": "Connected",
      "wrapCode": 3,
      "wrapDescription": "Sale",
      "notes": "Renewed for 12 months; send the confirmation by email.",
      "timestamps": {
        "created": "2025-03-04T09:14:51+11:00",
        "answered": "2025-03-04T09:15:07+11:00",
        "hangUp": "2025-03-04T09:19:42+11:00",
        "wrapUp": "2025-03-04T09:20:30+11:00"
      },
      "durations": {"ivr": 0, "queue": 0, "hold": 14, "talk": 275, "wrap": 48, "interaction": 339},
      "recording": {"recorded": true, "id": "rec-5512093", "format": "mp3"}
    },
    "leadData": {
      "leadId": "L-20931",
      "name": "Jane Citizen",
      "phoneIndex": 1,
      "phones": [
        {"index": 1, "phone": "0299990000", "type": "home"},
        {"index": 2, "phone": "0412345678", "type": "mobile"},
        {"index": 3, "phone": "+442079460018", "type": "work"}
      ],
      "custom": {"policy": "HX-220931", "renewalDate": "2025-07-01", "segment": "gold"}
    }
  }
}`

func BenchmarkDecodeEvent(b *testing.B) {
	data := []byte(typicalEvent)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEvent(data); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(typicalEvent))
	f.Add([]byte(`{"id": 1, "type": "callWrapped", "agentId": 2, "timestamp": "2025-03-04T20:15:02.5+11:00",
	  "interaction": {"agentInteractionId": 3, "callType": "preview", "activity": {"wrapCode": 4},
	  "leadData": {"phoneIndex": 1, "phones": [{"index": 1, "phone": 61299990000}]}}}`))
	f.Add([]byte(`{"id": "e", "type": "x"`))
	f.Add([]byte(`[[[[[[]]]]]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := DecodeEvent(data)
		if err != nil {
			var ee *EventError
			if !errors.As(err, &ee) {
				t.Fatalf("error %T, want *EventError: %v", err, err)
			}
			return
		}
		// The typed event re-encodes and decodes to the same event.
		typed, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("re-encoding the typed event: %v", err)
		}
		again, err := DecodeEvent(typed)
		if err != nil {
			t.Fatalf("re-decoding the typed event %s: %v", typed, err)
		}
		assertSameEvent(t, again, ev)
		// So does the whole document, extra data included.
		doc, err := json.Marshal(ev.Document)
		if err != nil {
			t.Fatalf("re-encoding the document: %v", err)
		}
		again, err = DecodeEvent(doc)
		if err != nil {
			t.Fatalf("re-decoding the document %s: %v", doc, err)
		}
		assertSameEvent(t, again, ev)
		if !reflect.DeepEqual(again.Document, ev.Document) {
			t.Fatalf("document changed on re-encoding:\n got %v\nwant %v", again.Document, ev.Document)
		}
	})
}

func assertSameEvent(t *testing.T, got, want *Event) {
	t.Helper()
	if !got.Time.Equal(want.Time) {
		t.Fatalf("time %v, want %v", got.Time, want.Time)
	}
	g, w := *got, *want
	g.Document, w.Document, g.Time, w.Time = nil, nil, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("event changed on re-encoding:\n got %+v\nwant %+v", g, w)
	}
}

// TestDocsExamplesDecode keeps docs/events.md honest: every ```json block
// there is an event that decodes, and together they show every event type
// and every call type.
func TestDocsExamplesDecode(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	eventTypes := map[EventType]bool{}
	callTypes := map[CallType]bool{}
	blocks := strings.Split(string(doc), "```json\n")[1:]
	for i, block := range blocks {
		end := strings.Index(block, "```")
		if end < 0 {
			t.Fatalf("json block %d is not closed", i)
		}
		ev, err := DecodeEvent([]byte(block[:end]))
		if err != nil {
			t.Errorf("json block %d: %v", i, err)
			continue
		}
		eventTypes[ev.Type] = true
		callTypes[ev.Interaction.CallType] = true
	}
	tests := []struct {
		name    string
		missing []string
	}{
		{name: "every event type has an example"},
		{name: "every call type has an example"},
	}
	for _, et := range EventTypes {
		if !eventTypes[et] {
			tests[0].missing = append(tests[0].missing, string(et))
		}
	}
	for _, ct := range CallTypes {
		if !callTypes[ct] {
			tests[1].missing = append(tests[1].missing, string(ct))
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.missing) > 0 {
				t.Errorf("docs/events.md has no example of %v (%d json blocks)", tt.missing, len(blocks))
			}
		})
	}
}
