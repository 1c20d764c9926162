package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/internal/telephony"
)

// sender plays the telephony platform: it sends the scenario's events on
// schedule, each signed (docs/webhook.md), from a pool of workers.
type sender struct {
	sc     Scenario
	url    string // .../api/v1/events
	secret []byte // nil sends unsigned events (the relay)
	http   *http.Client
	track  *tracker
	// retry resends an event until it is accepted, as a platform does with
	// webhooks: after connection failures, 5xx and 429, each time signed
	// afresh. Without it every failure is counted and the event dropped.
	retry   bool
	workers int
}

type dueEvent struct {
	ev  ScheduledEvent
	due time.Duration
}

// run sends every event of the scenario and returns when the last one has
// been answered (or dropped), or ctx ends.
func (s *sender) run(ctx context.Context) {
	work := make(chan dueEvent, s.workers)
	var wg sync.WaitGroup
	for range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				s.track.sendLag.Add(s.track.since() - d.due)
				s.deliver(ctx, d.ev)
			}
		}()
	}
	gen := NewGenerator(s.sc)
	origin := s.track.since()
	s.track.sendOrigin.Store(int64(origin))
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		ev, ok := gen.Next()
		if !ok {
			break
		}
		due := origin + ev.At
		if wait := due - s.track.since(); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		// A full queue blocks here: the schedule slips, and sendLag shows by
		// how much (the rate reported is the rate achieved).
		select {
		case work <- dueEvent{ev: ev, due: due}:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
}

func (s *sender) deliver(ctx context.Context, ev ScheduledEvent) {
	for attempt := 0; ; attempt++ {
		body := s.sc.Body(ev, time.Now())
		if ev.Kind == Alerting {
			s.track.presenting(ev.Call)
		}
		status, wait, err := s.post(ctx, body)
		s.track.status(status)
		if err == nil {
			s.track.accept()
			return
		}
		if !s.retry || wait == 0 || ctx.Err() != nil {
			s.track.fail(fmt.Sprintf("webhook_%d", status), fmt.Sprintf("%s of %s: %v", ev.Kind, s.sc.InteractionID(ev.Call), err))
			return
		}
		// Re-signing within the same second would make the same signed
		// request, which the server may remember: wait at least into the
		// next second.
		wait = max(wait, time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		select {
		case <-ctx.Done():
			s.track.fail("webhook_gave_up", fmt.Sprintf("%s of %s: run ended after %d attempts: %v", ev.Kind, s.sc.InteractionID(ev.Call), attempt+1, err))
			return
		case <-time.After(wait):
		}
	}
}

// post sends one signed event. It returns the status (0 without a
// response) and, for failures worth retrying, how long to wait first.
func (s *sender) post(ctx context.Context, body []byte) (int, time.Duration, error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.secret != nil {
		ts, sig := telephony.Sign(s.secret, time.Now(), body)
		req.Header.Set(telephony.TimestampHeader, ts)
		req.Header.Set(telephony.SignatureHeader, sig)
	}
	sent := s.track.since()
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, 500 * time.Millisecond, err
	}
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	s.track.postLatency.Add(s.track.since() - sent)
	if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK {
		return resp.StatusCode, 0, nil
	}
	err = fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(reply))
	switch {
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests:
		return resp.StatusCode, time.Second, err
	case resp.StatusCode == http.StatusUnauthorized && errorCode(reply) == "replayed":
		// The server already has this very request (sent again within the
		// same second after a lost response): a new signature is a new
		// request, and the event id makes it harmless.
		return resp.StatusCode, time.Second, err
	}
	return resp.StatusCode, 0, err
}

func errorCode(reply []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(reply, &e)
	return e.Error.Code
}
