package dataverse

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// parseRetryAfter reads a Retry-After header: delay seconds (Dataverse sends
// whole seconds; a fraction is tolerated) or an HTTP date. Zero means absent
// or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs > 24*3600 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// backoff is the full-jitter exponential delay before retry number retry
// (1 for the first retry): uniformly random in [0, min(max, base·2^(retry-1))].
// Full jitter spreads a crowd of clients that failed together, so they do not
// come back together.
func backoff(retry int, base, max time.Duration, jitter func(time.Duration) time.Duration) time.Duration {
	ceiling := base
	for i := 1; i < retry && ceiling < max; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, max)
	return jitter(ceiling)
}

// fullJitter returns a random duration in [0, ceiling].
func fullJitter(ceiling time.Duration) time.Duration {
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// sleepContext waits d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryStatus reports whether an HTTP status may succeed on resending, and
// whether resending is safe for a request that is not idempotent.
//
// 429 is Dataverse's service protection answer: the request was refused
// before it ran, so any request may be resent. 503 is likewise the service
// refusing work. 502 and 504 come from gateways that may have passed the
// request on, so only idempotent requests are resent.
func retryStatus(status int) (retry, safeForAll bool) {
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true, true
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return true, false
	}
	return false, false
}
