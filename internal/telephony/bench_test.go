package telephony

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/internal/interaction"
	"github.com/ctibridge/ctibridge/internal/store"
)

// nopSink accepts every event.
type nopSink struct{}

func (nopSink) HandleEvent(context.Context, *interaction.Event) error { return nil }

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the handler, not a recorder.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// signedPool is a pool of distinct signed requests, since the replay memory
// refuses a request it has seen: the benchmark cycles through them and
// empties the replay memory each time round (once every len(pool) requests).
type signedPool struct {
	bodies  [][]byte
	readers []*bytes.Reader
	reqs    []*http.Request
}

func newSignedPool(b *testing.B, size int, body func(i int) []byte) *signedPool {
	b.Helper()
	p := &signedPool{}
	for i := range size {
		data := body(i)
		ts, sig := Sign(testSecret, testNow, data)
		r := bytes.NewReader(data)
		req, err := http.NewRequest(http.MethodPost, "http://ctibridge.test/api/v1/events", r)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(TimestampHeader, ts)
		req.Header.Set(SignatureHeader, sig)
		p.bodies, p.readers, p.reqs = append(p.bodies, data), append(p.readers, r), append(p.reqs, req)
	}
	return p
}

func typicalEvent(b *testing.B) []byte {
	b.Helper()
	data, err := os.ReadFile("testdata/outbound_event.json")
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// benchmarkHandler sends the pool's requests through the real handler.
// With rs, the replay memory is kept in it, as serve keeps it in the store.
func benchmarkHandler(b *testing.B, pool *signedPool, eventsPerRequest int, rs ReplayStore) {
	w, err := NewWebhook(WebhookOptions{Secret: testSecret, Now: func() time.Time { return testNow }})
	if err != nil {
		b.Fatal(err)
	}
	if rs != nil {
		if err := w.KeepReplayIn(context.Background(), rs); err != nil {
			b.Fatal(err)
		}
	}
	w.runs.current = &run{sink: nopSink{}, ctx: context.Background()}
	rw := &discardWriter{header: http.Header{}}
	b.SetBytes(int64(len(pool.bodies[0])))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		n := i % len(pool.reqs)
		if n == 0 && i > 0 {
			w.replay = newReplayMemory(w.tolerance, DefaultReplayCapacity)
		}
		i++
		pool.readers[n].Reset(pool.bodies[n])
		clear(rw.header)
		w.ServeHTTP(rw, pool.reqs[n])
		if rw.status != http.StatusAccepted {
			b.Fatalf("request %d: status %d", i, rw.status)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*eventsPerRequest), "ns/event")
}

// BenchmarkWebhook measures what the webhook costs per request: signature
// verification (HMAC-SHA256 of the body), replay check, decoding and
// validating the events into interaction.Event, and the response.
func BenchmarkWebhook(b *testing.B) {
	event := typicalEvent(b)
	withID := func(i int) []byte {
		return bytes.Replace(event, []byte("evt-out-1"), fmt.Appendf(nil, "evt-%06d", i), 1)
	}
	b.Run("one event", func(b *testing.B) {
		benchmarkHandler(b, newSignedPool(b, 4096, withID), 1, nil)
	})
	b.Run("one event, replay memory in the store", func(b *testing.B) {
		db, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "ctibridge.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		rs := store.NewWebhookReplay(db)
		defer rs.Close()
		benchmarkHandler(b, newSignedPool(b, 4096, withID), 1, rs)
	})
	b.Run("batch of 10", func(b *testing.B) {
		batch := func(i int) []byte {
			items := make([]string, 10)
			for j := range items {
				items[j] = string(withID(i*10 + j))
			}
			return []byte("[" + strings.Join(items, ",") + "]")
		}
		benchmarkHandler(b, newSignedPool(b, 1024, batch), 10, nil)
	})
	b.Run("verify only", func(b *testing.B) {
		w, err := NewWebhook(WebhookOptions{Secret: testSecret})
		if err != nil {
			b.Fatal(err)
		}
		ts, sig := Sign(testSecret, testNow, event)
		sigs, _ := parseSignatures(sig)
		b.SetBytes(int64(len(event)))
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := w.verify(ts, event, sigs); !ok {
				b.Fatal("signature does not verify")
			}
		}
	})
	b.Run("decode only", func(b *testing.B) {
		b.SetBytes(int64(len(event)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := decodeBody(event, time.Now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
