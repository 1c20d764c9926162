package callflow

import (
	"context"
	"fmt"
	"sync"

	"github.com/ctibridge/ctibridge/internal/store"
)

// saveRequest is one call's save: its stored form and its CRM writes.
type saveRequest struct {
	ctx  context.Context
	save *store.CallSave
	err  error
	done chan saveTurn
}

// saveTurn tells a waiting save that its transaction committed (err), or
// that it is its turn to lead the next one.
type saveTurn struct {
	lead bool
	err  error
}

// groupCommit commits the saves that wait for the store at the same time
// in one transaction. The store has one connection: under load every
// event's save queued for it, and each transaction paid its own begin and
// commit and handed the connection on to the next goroutine. Now the first
// save to find the store free leads: it commits every save that has
// queued meanwhile, its own among them, and hands the lead to the first
// that queued after it took the batch. No save waits for more than the
// transaction before its own and its own.
type groupCommit struct {
	mu      sync.Mutex
	leading bool
	queue   []*saveRequest
}

// maxGroup bounds the saves of one transaction.
const maxGroup = 64

func (g *groupCommit) save(f *Flow, r *saveRequest) error {
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if g.leading {
		g.mu.Unlock()
		turn := <-r.done
		if !turn.lead {
			return turn.err
		}
		g.mu.Lock()
	} else {
		g.leading = true
	}
	n := min(len(g.queue), maxGroup)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()

	f.commit(batch)
	for _, other := range batch {
		if other != r {
			other.done <- saveTurn{err: other.err}
		}
	}

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].done <- saveTurn{lead: true}
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	return r.err
}

// commit stores batch in one transaction, setting each request's err. If
// the transaction fails, each save is tried alone, so one that cannot be
// stored costs no other.
func (f *Flow) commit(batch []*saveRequest) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = fmt.Errorf("save call %s: %w", r.save.InteractionID, err)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	saves := make([]*store.CallSave, len(live))
	for i, r := range live {
		saves[i] = r.save
	}
	// The store runs statements to their end whatever becomes of the
	// requests' contexts: one ending while the others' saves run does not
	// cut the transaction short.
	for i, err := range f.opt.Calls.SaveAll(live[0].ctx, saves) {
		if err != nil {
			live[i].err = fmt.Errorf("save call %s: %w", live[i].save.InteractionID, err)
		}
	}
}
