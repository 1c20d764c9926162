package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/ctibridge/ctibridge/internal/agent"
	"github.com/ctibridge/ctibridge/internal/telephony"
	"github.com/ctibridge/ctibridge/web"
)

func (srv *Server) routes() {
	m := srv.mux
	m.HandleFunc("GET /widget", srv.serveWidget)
	m.Handle("GET /widget/", http.StripPrefix("/widget/", fileServer(web.WidgetFiles)))
	m.Handle("GET /vendor/", http.StripPrefix("/vendor/", fileServer(web.VendorFiles)))
	// A login body is at most 4 KiB (agent.Sessions.ServeLogin).
	m.Handle("POST /api/v1/sessions", srv.bodies.limit(4<<10, http.HandlerFunc(srv.sessions.ServeLogin)))
	m.HandleFunc("DELETE /api/v1/sessions", srv.sessions.ServeLogout)
	m.HandleFunc("GET /api/v1/ws", srv.sessions.ServeWS)
	if srv.Webhook != nil {
		// Every method, so that the webhook answers any other than POST
		// with its documented JSON method_not_allowed, not the mux's
		// plain-text 405.
		m.Handle("/api/v1/events", srv.bodies.limit(telephony.DefaultMaxBody, srv.Webhook))
	}
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /readyz", srv.serveReady)
	// Browsers ask for it on every page; answer without a 404 in their console.
	m.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	m.Handle("GET /metrics", srv.Metrics.Handler())
}

// serveWidget renders the page Dynamics loads in the CIF panel: the
// config's scripts in order (the CIF library with its data-crmurl and
// data-cifid; ipSCAPE's integration bundle, which brings its CTI Adaptor
// into the panel), then the widget.
func (srv *Server) serveWidget(w http.ResponseWriter, r *http.Request) {
	cfg := srv.Config()
	page, err := web.NewWidgetPage(cfg.Scripts, web.WidgetSettings{WSURL: "/api/v1/ws"})
	if err != nil {
		srv.log.Error("widget page", "err", err)
		agent.WriteError(w, http.StatusInternalServerError, "internal", "could not build the widget page")
		return
	}
	var buf bytes.Buffer
	if err := web.RenderWidget(&buf, page); err != nil {
		srv.log.Error("widget page", "err", err)
		agent.WriteError(w, http.StatusInternalServerError, "internal", "could not render the widget page")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", widgetCSP(cfg))
	w.Write(buf.Bytes())
}

// readiness is the body of /readyz.
type readiness struct {
	Ready     bool   `json:"ready"`
	Store     string `json:"store"`
	Telephony string `json:"telephony"`
	Writes    string `json:"writes"`
	Outbox    int    `json:"outboxDepth"`
	Widgets   int    `json:"widgets"`
}

// serveReady reports whether events can be accepted: the store takes a
// write. A read alone still passes on a full disk or a damaged file, while
// every event needs a write. Dynamics being unreachable does not make
// ctibridge unready (writes wait in the outbox); the outbox depth shows it.
func (srv *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	rd := readiness{Ready: true, Store: "ok", Telephony: srv.Provider.Name(), Writes: "cif", Widgets: srv.Hub.Connections()}
	if srv.Dataverse != nil {
		rd.Writes = "server"
	}
	if err := srv.probeStore(ctx); err != nil {
		rd.Ready, rd.Store = false, err.Error()
	}
	n, err := srv.Outbox.Depth(ctx)
	if err != nil && rd.Ready {
		rd.Ready, rd.Store = false, err.Error()
	}
	rd.Outbox = n
	status := http.StatusOK
	if !rd.Ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, rd)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
