package telephony

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/store"
	"github.com/ctibridge/ctibridge/internal/testclock"
)

// replayStoreAt opens a store file and its replay table, closed when the
// test ends.
func replayStoreAt(t *testing.T, path string) *store.WebhookReplay {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	rs := store.NewWebhookReplay(db)
	t.Cleanup(func() { rs.Close(); db.Close() })
	return rs
}

// restartedWebhook is a new webhook, as after a restart, keeping its replay
// memory in rs.
func restartedWebhook(t *testing.T, clock *testclock.Clock, rs ReplayStore, sink Sink) *Webhook {
	t.Helper()
	w := startWebhook(t, testOptions(clock), sink)
	if err := w.KeepReplayIn(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWebhookReplayMemorySurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	clock := testclock.New(testNow)
	body := eventJSON("evt-1")

	before := restartedWebhook(t, clock, replayStoreAt(t, path), &recordingSink{})
	if r := serve(t, before, signedRequest(testSecret, testNow, body)); r.Status != http.StatusAccepted {
		t.Fatalf("first delivery: %d %s", r.Status, r.code())
	}

	clock.Advance(time.Minute)
	after := restartedWebhook(t, clock, replayStoreAt(t, path), &recordingSink{})
	if r := serve(t, after, signedRequest(testSecret, testNow, body)); r.code() != codeReplayed {
		t.Fatalf("the same request after a restart: %d %q, want %s", r.Status, r.code(), codeReplayed)
	}
	// Signed afresh, the same events are a new request.
	if r := serve(t, after, signedRequest(testSecret, clock.Now(), body)); r.Status != http.StatusAccepted {
		t.Fatalf("the same events signed afresh: %d %s", r.Status, r.code())
	}
}

func TestWebhookReplayStoreForgetsWhatMayBeRetriedAndWhatExpired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	clock := testclock.New(testNow)
	rs := replayStoreAt(t, path)
	w := restartedWebhook(t, clock, rs, &recordingSink{refuse: refuseNth(0, ErrUnavailable)})

	// A 503 of ours forgets the request in the store too: it may be sent
	// again after a restart.
	failed := signedRequest(testSecret, testNow, eventJSON("evt-1"))
	if r := serve(t, w, failed); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("first attempt: %d, want 503", r.Status)
	}
	if n := countReplay(t, rs, 0); n != 0 {
		t.Fatalf("%d entries after a 503, want 0", n)
	}
	if r := serve(t, w, signedRequest(testSecret, testNow, eventJSON("evt-2"))); r.Status != http.StatusAccepted {
		t.Fatalf("second request: %d", r.Status)
	}
	if n := countReplay(t, rs, 0); n != 1 {
		t.Fatalf("%d entries, want 1", n)
	}

	// Once out of tolerance, entries are deleted by the next request.
	clock.Advance(DefaultTolerance + 3*time.Second)
	if r := serve(t, w, signedRequest(testSecret, clock.Now(), eventJSON("evt-3"))); r.Status != http.StatusAccepted {
		t.Fatalf("later request: %d", r.Status)
	}
	if n := countReplay(t, rs, 0); n != 1 {
		t.Fatalf("%d entries after the first expired, want only the new one", n)
	}
}

func countReplay(t *testing.T, rs ReplayStore, since int64) int {
	t.Helper()
	n := 0
	if err := rs.LoadReplay(context.Background(), since, func(int64, [16]byte) { n++ }); err != nil {
		t.Fatal(err)
	}
	return n
}

// failingReplayStore cannot write, as on a full disk.
type failingReplayStore struct{}

var errDiskFull = errors.New("database or disk is full")

func (failingReplayStore) LoadReplay(context.Context, int64, func(int64, [16]byte)) error { return nil }
func (failingReplayStore) AddReplay(context.Context, int64, [16]byte) error               { return errDiskFull }
func (failingReplayStore) ForgetReplay(context.Context, int64, [16]byte) error            { return errDiskFull }
func (failingReplayStore) ExpireReplay(context.Context, int64) error                      { return nil }

func TestWebhookDeliversARequestItCannotRecord(t *testing.T) {
	sink := &recordingSink{}
	w := restartedWebhook(t, testclock.New(testNow), failingReplayStore{}, sink)
	req := signedRequest(testSecret, testNow, eventJSON("evt-1"))
	if r := serve(t, w, req); r.Status != http.StatusAccepted {
		t.Fatalf("status %d %q, want 202: the events were delivered, and are deduplicated by id if replayed after a restart", r.Status, r.code())
	}
	if sink.callCount() != 1 || w.replay.len() != 1 {
		t.Fatalf("delivered %d events, remembers %d requests; want 1 and 1", sink.callCount(), w.replay.len())
	}
	if r := serve(t, w, signedRequest(testSecret, testNow, eventJSON("evt-1"))); r.Status != http.StatusUnauthorized {
		t.Fatalf("the same request again: %d, want 401 replayed from memory", r.Status)
	}
}
