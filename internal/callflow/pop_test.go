package callflow

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/screenpop"
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
