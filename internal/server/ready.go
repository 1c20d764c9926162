package server

import (
	"context"
	"time"

	"github.com/ctibridge/ctibridge/internal/store"
)

// probeStore reports whether the store can write now, for /readyz.
func (srv *Server) probeStore(ctx context.Context) error {
	return store.Probe(ctx, srv.DB, time.Now())
}
