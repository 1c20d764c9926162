package dataverse

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"
)

const throttledBody = `{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}`

// TestRetryPolicy drives each operation through scripted failures and checks
// how often it was sent, how long it waited between sends, and the outcome.
func TestRetryPolicy(t *testing.T) {
	// The client's clock is frozen at now; contexts use the real clock, so
	// now must be the real time for deadlines to mean anything.
	now := time.Now().Truncate(time.Second)
	getContacts := func(ctx context.Context, c *Client) error {
		_, err := c.RetrieveMultiple(ctx, "contacts", "?$select=fullname")
		return err
	}
	createCall := func(ctx context.Context, c *Client) error {
		_, err := c.Create(ctx, "phonecalls", map[string]any{"subject": "Call"})
		return err
	}
	created := answer{status: 204, header: map[string]string{"OData-EntityId": "{base}/api/data/v9.2/phonecalls(" + callID + ")"}}
	ok := answer{status: 200, body: `{"value":[]}`}
	tests := []struct {
		name      string
		configure func(*Config)
		answers   []answer
		call      func(ctx context.Context, c *Client) error
		// ctx adds to the call's context.
		ctx       func(context.Context) context.Context
		wantSends int
		wantWaits []time.Duration
		// check inspects the error (nil: the call must succeed).
		check func(t *testing.T, err error)
	}{
		{
			name:      "429 with Retry-After seconds waits that long, then succeeds",
			answers:   []answer{{status: 429, header: map[string]string{"Retry-After": "1"}, body: throttledBody}, ok},
			call:      getContacts,
			wantSends: 2, wantWaits: durations(time.Second),
		},
		{
			name:      "429 with Retry-After as an HTTP date",
			answers:   []answer{{status: 429, header: map[string]string{"Retry-After": now.Add(3 * time.Second).Format(http.TimeFormat)}}, ok},
			call:      getContacts,
			wantSends: 2, wantWaits: durations(3 * time.Second),
		},
		{
			name:      "503 without Retry-After backs off exponentially",
			answers:   []answer{{status: 503}, {status: 503}, {status: 503}, ok},
			call:      getContacts,
			wantSends: 4, wantWaits: durations(250*time.Millisecond, 500*time.Millisecond, time.Second),
		},
		{
			name:      "backoff stops growing at MaxBackoff",
			configure: func(c *Config) { c.BaseBackoff, c.MaxBackoff, c.MaxAttempts = time.Second, 3*time.Second, 6 },
			answers:   []answer{{status: 503}, {status: 503}, {status: 503}, {status: 503}, {status: 503}, ok},
			call:      getContacts,
			wantSends: 6, wantWaits: durations(time.Second, 2*time.Second, 3*time.Second, 3*time.Second, 3*time.Second),
		},
		{
			name:      "retries exhausted: the last 429 as a typed error",
			configure: func(c *Config) { c.MaxAttempts = 3 },
			answers:   []answer{{status: 429, header: map[string]string{"Retry-After": "2"}, body: throttledBody}},
			call:      getContacts,
			wantSends: 3, wantWaits: durations(2*time.Second, 2*time.Second),
			check: func(t *testing.T, err error) {
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, ErrThrottled) || !e.Retryable() {
					t.Fatalf("err = %v, want a retryable ErrThrottled *Error", err)
				}
				if e.Status != 429 || e.Attempts != 3 || e.RetryAfter != 2*time.Second || e.Code != "0x80072322" {
					t.Errorf("error = %+v", e)
				}
			},
		},
		{
			name:      "a create is resent after 429: Dataverse did not run it",
			answers:   []answer{{status: 429, header: map[string]string{"Retry-After": "1"}}, created},
			call:      createCall,
			wantSends: 2, wantWaits: durations(time.Second),
		},
		{
			name:      "a create is not resent after a dropped connection",
			answers:   []answer{{drop: true}, created},
			call:      createCall,
			wantSends: 1,
			check: func(t *testing.T, err error) {
				var e *Error
				if !errors.As(err, &e) || e.Status != 0 || e.Err == nil || !e.Retryable() || e.Attempts != 1 {
					t.Fatalf("err = %v, want a network *Error after 1 attempt", err)
				}
			},
		},
		{
			name:      "a create marked retry-safe is resent after a dropped connection",
			ctx:       WithRetrySafe,
			answers:   []answer{{drop: true}, created},
			call:      createCall,
			wantSends: 2, wantWaits: durations(250 * time.Millisecond),
		},
		{
			name:      "a read is resent after a dropped connection",
			answers:   []answer{{drop: true}, ok},
			call:      getContacts,
			wantSends: 2, wantWaits: durations(250 * time.Millisecond),
		},
		{
			name:    "an update is resent after a dropped connection",
			answers: []answer{{drop: true}, {status: 204}},
			call: func(ctx context.Context, c *Client) error {
				return c.Update(ctx, ByID("phonecalls", callID), map[string]any{"subject": "x"})
			},
			wantSends: 2, wantWaits: durations(250 * time.Millisecond),
		},
		{
			name:      "502 is resent for a read",
			answers:   []answer{{status: 502}, ok},
			call:      getContacts,
			wantSends: 2, wantWaits: durations(250 * time.Millisecond),
		},
		{
			name:      "502 is not resent for a create: the gateway may have passed it on",
			answers:   []answer{{status: 502}, created},
			call:      createCall,
			wantSends: 1,
			check: func(t *testing.T, err error) {
				var e *Error
				if !errors.As(err, &e) || e.Status != 502 || !e.Retryable() {
					t.Fatalf("err = %v, want a retryable 502 *Error", err)
				}
			},
		},
		{
			name:    "a delete whose first attempt was lost and whose resend finds nothing succeeds",
			answers: []answer{{drop: true}, {status: 404, body: `{"error":{"code":"0x80040217","message":"Does Not Exist"}}`}},
			call: func(ctx context.Context, c *Client) error {
				return c.Delete(ctx, ByID("contacts", contactID))
			},
			wantSends: 2, wantWaits: durations(250 * time.Millisecond),
		},
		{
			name:    "a delete of a missing record is ErrNotFound",
			answers: []answer{{status: 404, body: `{"error":{"code":"0x80040217","message":"Does Not Exist"}}`}},
			call: func(ctx context.Context, c *Client) error {
				return c.Delete(ctx, ByID("contacts", contactID))
			},
			wantSends: 1,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("err = %v, want ErrNotFound", err)
				}
			},
		},
		{
			name:    "a create-only whose first attempt was lost says the record may be its own",
			answers: []answer{{drop: true}, {status: 412, body: `{"error":{"code":"0x80060892","message":"exists"}}`}},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.CreateOnly(ctx, "phonecalls", "new_agentinteractionid", "IX-9", map[string]any{})
				return err
			},
			wantSends: 2, wantWaits: durations(250 * time.Millisecond),
			check: func(t *testing.T, err error) {
				var ae *AlreadyExistsError
				if !errors.As(err, &ae) || !ae.AfterRetry {
					t.Fatalf("err = %v, want AlreadyExistsError with AfterRetry", err)
				}
			},
		},
		{
			name:    "the context deadline comes before Retry-After: no wait, the 429 at once",
			answers: []answer{{status: 429, header: map[string]string{"Retry-After": "60"}, body: throttledBody}, ok},
			ctx: func(ctx context.Context) context.Context {
				ctx, cancel := context.WithDeadline(ctx, now.Add(10*time.Second))
				t.Cleanup(cancel)
				return ctx
			},
			call:      getContacts,
			wantSends: 1,
			check: func(t *testing.T, err error) {
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, ErrThrottled) || e.RetryAfter != time.Minute {
					t.Fatalf("err = %v, want ErrThrottled with Retry-After 1m", err)
				}
			},
		},
		{
			name:      "MaxAttempts 1 never resends",
			configure: func(c *Config) { c.MaxAttempts = 1 },
			answers:   []answer{{status: 503}, ok},
			call:      getContacts,
			wantSends: 1,
			check: func(t *testing.T, err error) {
				var e *Error
				if !errors.As(err, &e) || e.Status != 503 || e.Attempts != 1 {
					t.Fatalf("err = %v, want the 503 after 1 attempt", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeDataverse(t, tt.answers...)
			c, sleeps := newTestClient(t, f.srv.URL, tt.configure)
			c.now = func() time.Time { return now }
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx(ctx)
			}
			err := tt.call(ctx, c)
			if tt.check != nil {
				tt.check(t, err)
			} else if err != nil {
				t.Fatalf("err = %v, want success", err)
			}
			if n := len(f.requests()); n != tt.wantSends {
				t.Errorf("sent %d times, want %d", n, tt.wantSends)
			}
			if got := sleeps.recorded(); !reflect.DeepEqual(got, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
			st := c.Stats()
			if st.Calls != 1 || st.Requests != uint64(tt.wantSends) || st.Retries != uint64(len(tt.wantWaits)) {
				t.Errorf("stats = %+v, want 1 call, %d requests, %d retries", st, tt.wantSends, len(tt.wantWaits))
			}
		})
	}
}

// TestCancelWhileWaiting: a context cancelled during the Retry-After wait
// ends the call with both the context error and the last answer.
func TestCancelWhileWaiting(t *testing.T) {
	f := newFakeDataverse(t, answer{status: 429, header: map[string]string{"Retry-After": "3600"}, body: throttledBody})
	c, _ := newTestClient(t, f.srv.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waited time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		waited = d
		cancel() // the caller gives up while the client waits an hour
		return sleepContext(ctx, d)
	}
	_, err := c.RetrieveMultiple(ctx, "contacts", "")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v, want context.Canceled joined with the 429", err)
	}
	if waited != time.Hour {
		t.Errorf("waited for %v, want the Retry-After of 1h", waited)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("sent %d times, want 1", n)
	}
}

// TestCancelledBeforeSending: a context already ended sends nothing.
func TestCancelledBeforeSending(t *testing.T) {
	f := newFakeDataverse(t, answer{status: 200, body: `{"value":[]}`})
	c, _ := newTestClient(t, f.srv.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.RetrieveMultiple(ctx, "contacts", "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("sent %d requests, want none", n)
	}
}

// TestConcurrencyCap: no more requests are in flight than MaxConcurrency,
// and the cap is reached. The handler holds the first requests for a moment
// so that an uncapped client would pile every call in at once; a correct
// client passes however long the hold is, so the hold is no timed
// assertion, only the window in which a broken cap shows.
func TestConcurrencyCap(t *testing.T) {
	tests := []struct {
		name  string
		cap   int
		calls int
	}{
		{name: "cap 1", cap: 1, calls: 4},
		{name: "cap 3", cap: 3, calls: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			inFlight, maxInFlight := 0, 0
			release := make(chan struct{})
			var startHold sync.Once
			f := newFakeDataverse(t, answer{status: 200, body: `{"value":[]}`})
			f.onRequest = func(int, *http.Request) {
				startHold.Do(func() { time.AfterFunc(100*time.Millisecond, func() { close(release) }) })
				mu.Lock()
				inFlight++
				maxInFlight = max(maxInFlight, inFlight)
				mu.Unlock()
				<-release
				mu.Lock()
				inFlight--
				mu.Unlock()
			}
			c, _ := newTestClient(t, f.srv.URL, func(cfg *Config) { cfg.MaxConcurrency = tt.cap })
			var wg sync.WaitGroup
			errs := make(chan error, tt.calls)
			for range tt.calls {
				wg.Go(func() {
					_, err := c.RetrieveMultiple(context.Background(), "contacts", "")
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if maxInFlight != tt.cap {
				t.Errorf("at most %d requests were in flight, want exactly the cap %d", maxInFlight, tt.cap)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name string
		v    string
		want time.Duration
	}{
		{name: "seconds", v: "5", want: 5 * time.Second},
		{name: "fraction", v: "0.5", want: 500 * time.Millisecond},
		{name: "HTTP date", v: now.Add(90 * time.Second).Format(http.TimeFormat), want: 90 * time.Second},
		{name: "date in the past", v: now.Add(-time.Minute).Format(http.TimeFormat), want: 0},
		{name: "absent", v: "", want: 0},
		{name: "negative", v: "-3", want: 0},
		{name: "absurd", v: "999999999", want: 0},
		{name: "garbage", v: "soon", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseRetryAfter(tt.v, now); got != tt.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.v, got, tt.want)
			}
		})
	}
}

func TestFullJitterStaysInRange(t *testing.T) {
	tests := []struct {
		name    string
		ceiling time.Duration
	}{
		{name: "zero", ceiling: 0},
		{name: "one nanosecond", ceiling: 1},
		{name: "thirty seconds", ceiling: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 1000 {
				if d := fullJitter(tt.ceiling); d < 0 || d > tt.ceiling {
					t.Fatalf("fullJitter(%v) = %v, outside [0, %v]", tt.ceiling, d, tt.ceiling)
				}
			}
		})
	}
}
