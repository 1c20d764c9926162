package server

import (
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/ctibridge/ctibridge/internal/config"
)

// referrerPolicy keeps ctibridge's URLs to ctibridge: other origins (the
// CRM, a telephony vendor's scripts) get no Referer from its pages.
const referrerPolicy = "same-origin"

// withSecurityHeaders sets the headers every response carries: no content
// type sniffing (a JSON error or a vendored script is never run as
// something else) and the referrer policy.
func withSecurityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", referrerPolicy)
		h.ServeHTTP(w, r)
	})
}

// widgetCSP is the Content-Security-Policy of the widget page for cfg.
//
// Dynamics frames the page in its CIF panel, so frame-ancestors names the
// Dynamics origins of the config's scripts (dataset.crmurl), and the page's
// own origin, where the demo host page frames it; nothing else may frame it.
// X-Frame-Options is not sent: it cannot name an allowed origin.
//
// The page runs its own scripts and the config's scripts: each script's
// origin is trusted to run code in the page already, so it may also be
// connected to and framed (ipSCAPE's bundle brings its CTI Adaptor into the
// panel that way). The SIP softphone connects to telephony.sip.server.
// Inline styles are allowed because vendor bundles set style attributes;
// inline scripts, eval, plugins and <base> are not.
func widgetCSP(cfg *config.Config) string {
	self := []string{"'self'"}
	ancestors := self
	trusted := self
	for _, s := range cfg.Scripts {
		if o := cspOrigin(s.Src, "https", "http"); o != "" && !slices.Contains(trusted, o) {
			trusted = append(slices.Clone(trusted), o)
		}
		if o := cspOrigin(s.Dataset["crmurl"], "https", "http"); o != "" && !slices.Contains(ancestors, o) {
			ancestors = append(slices.Clone(ancestors), o)
		}
	}
	connect := trusted
	if o := cspOrigin(cfg.Telephony.SIP.Server, "wss", "ws"); o != "" && !slices.Contains(connect, o) {
		connect = append(slices.Clone(connect), o)
	}
	src := func(s []string) string { return strings.Join(s, " ") }
	return strings.Join([]string{
		"default-src " + src(trusted),
		"script-src " + src(trusted),
		"style-src " + src(trusted) + " 'unsafe-inline'",
		"img-src " + src(trusted) + " data:",
		"connect-src " + src(connect),
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors " + src(ancestors),
	}, "; ")
}

// cspOrigin is the origin of rawURL as a CSP source (scheme://host[:port]),
// or "" when it is not an absolute URL of one of schemes or its host holds
// anything a source expression cannot (an unfilled <instance> placeholder,
// a separator), so a config value can never add or change a directive.
func cspOrigin(rawURL string, schemes ...string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || !slices.Contains(schemes, strings.ToLower(u.Scheme)) {
		return ""
	}
	for _, c := range u.Host {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == ':', c == '[', c == ']':
		default:
			return ""
		}
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// fileServer serves fsys without directory listings: a directory is served
// only through its index.html, and is otherwise not found, so /widget/ or
// /vendor/jssip/ reveal nothing of what is embedded.
func fileServer(fsys fs.FS) http.Handler {
	return http.FileServerFS(noListingFS{fsys})
}

type noListingFS struct{ fs.FS }

func (f noListingFS) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, err
	}
	if st.IsDir() {
		if _, err := fs.Stat(f.FS, path.Join(name, "index.html")); err != nil {
			file.Close()
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
	}
	return file, nil
}
