package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// validDebugListen checks --debug-listen: profiles show the process's
// internals and a CPU profile or trace costs CPU while it runs, so it only
// listens on a loopback address.
func validDebugListen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--debug-listen (CTIBRIDGE_DEBUG_LISTEN): %q is not host:port, e.g. 127.0.0.1:6060", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--debug-listen (CTIBRIDGE_DEBUG_LISTEN): %q is not a loopback address; profiles are for this machine only, e.g. 127.0.0.1:6060", addr)
	}
	return nil
}

// serveDebug serves Go's profiles (/debug/pprof/) on addr until ctx ends.
func (srv *Server) serveDebug(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--debug-listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	srv.log.Info("profiles listening", "addr", ln.Addr().String())
	if err := hs.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
