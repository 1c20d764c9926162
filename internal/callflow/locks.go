package callflow

import "sync"

// interactionLocks serialise the events and widget messages of each
// interaction, and only of the same interaction: an event never waits
// behind another call's save. (With 4,096 striped locks and a few dozen
// saves in flight under load, by estimate one event in a hundred or two
// shared a stripe with one: the order of the pop's 99th percentile.)
type interactionLocks struct {
	mu    sync.Mutex
	locks map[string]*interactionLock
}

type interactionLock struct {
	sync.Mutex
	users int // holders and waiters; the lock is dropped at 0
}

// lock locks interactionID and returns the function that unlocks it.
func (l *interactionLocks) lock(interactionID string) (unlock func()) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = make(map[string]*interactionLock)
	}
	il := l.locks[interactionID]
	if il == nil {
		il = &interactionLock{}
		l.locks[interactionID] = il
	}
	il.users++
	l.mu.Unlock()

	il.Lock()
	return func() {
		il.Unlock()
		l.mu.Lock()
		if il.users--; il.users == 0 {
			delete(l.locks, interactionID)
		}
		l.mu.Unlock()
	}
}
