package callflow

import (
	"testing"
	"time"
)

func TestInteractionLocksSerialiseOneInteractionOnly(t *testing.T) {
	var l interactionLocks
	unlockA := l.lock("IX-A")

	// Another interaction is not held up.
	otherDone := make(chan struct{})
	go func() { l.lock("IX-B")(); close(otherDone) }()
	select {
	case <-otherDone:
	case <-time.After(5 * time.Second):
		t.Fatal("IX-B waited for IX-A's lock")
	}

	// The same interaction waits until it is unlocked.
	sameDone := make(chan struct{})
	go func() { l.lock("IX-A")(); close(sameDone) }()
	select {
	case <-sameDone:
		t.Fatal("a second holder of IX-A got the lock while it was held")
	case <-time.After(50 * time.Millisecond):
	}
	unlockA()
	<-sameDone

	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.locks) != 0 {
		t.Fatalf("%d locks left after every holder unlocked, want 0", len(l.locks))
	}
}
