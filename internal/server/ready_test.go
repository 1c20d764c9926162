package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestReadyIsFalseWhileTheStoreCannotWrite(t *testing.T) {
	h := newHarness(t, sampleConfig)
	get := func() (int, string) {
		req, _ := http.NewRequest("GET", h.url+"/readyz", nil)
		return h.do(req)
	}
	if status, body := get(); status != http.StatusOK || !strings.Contains(body, `"store":"ok"`) {
		t.Fatalf("writable store: /readyz = %d %s", status, body)
	}
	// The store's only connection now refuses writes, as a full disk or a
	// damaged page would make it; reads, such as the outbox depth, still work.
	if _, err := h.srv.DB.ExecContext(context.Background(), "PRAGMA query_only = ON"); err != nil {
		t.Fatal(err)
	}
	status, body := get()
	if status != http.StatusServiceUnavailable || !strings.Contains(body, `"ready":false`) || strings.Contains(body, `"store":"ok"`) {
		t.Fatalf("store that cannot write: /readyz = %d %s, want 503 not ready", status, body)
	}
	if _, err := h.srv.DB.ExecContext(context.Background(), "PRAGMA query_only = OFF"); err != nil {
		t.Fatal(err)
	}
	if status, body := get(); status != http.StatusOK {
		t.Fatalf("writable again: /readyz = %d %s", status, body)
	}
}
