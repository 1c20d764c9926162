// Package testclock is a clock tests set and move by hand, for the Now
// options of the outbox, the webhook, the Dataverse client and the sandbox.
package testclock

import (
	"sync"
	"time"
)

// Clock is safe for concurrent use: the code under test reads it while the
// test moves it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock showing t.
func New(t time.Time) *Clock { return &Clock{now: t} }

// Now is the time the clock shows.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock d forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
