// Package web holds ctibridge's browser side, embedded in the binary: the CIF
// widget Dynamics 365 loads in its Channel Integration Framework panel, the
// demo host page that stands in for the Dynamics UI, and the stand-in for
// Microsoft's CIF library the demo serves in place of Dynamics' own.
//
// Plain HTML, CSS and JavaScript modules: no build step, no dependencies.
// Where the server serves each part:
//
//	/widget                                  RenderWidget (the page is a template)
//	/widget/{widget.js,core.mjs,...}         WidgetFiles
//	/demo/ (index.html, demo.js, ...)        DemoFiles
//	/vendor/jssip/jssip.min.mjs              VendorFiles (vendor/README.md)
//	/webresources/Widget/msdyn_ciLibrary.js  CIFLibrary (demo only)
//
// The pages refer to those paths, so they are fixed.
package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"

	"github.com/ctibridge/ctibridge/internal/config"
)

// Assets holds every embedded file under its path in this directory
// (widget/..., cif/..., demo/...). Tests of the JavaScript are not embedded.
//
//go:embed widget/index.html widget/widget.js widget/core.mjs widget/sessions.mjs widget/agentui.mjs widget/widget.css widget/cifinit.js
//go:embed widget/providers/ipscape.mjs widget/providers/sip.mjs widget/providers/sipmap.mjs
//go:embed widget/softphone.mjs widget/softphone.css
//go:embed cif/msdyn_ciLibrary.js
//go:embed demo/index.html demo/demo.js demo/host.mjs demo/demo.css demo/phone.html demo/phone.mjs
var Assets embed.FS

//go:embed widget/widget.js widget/core.mjs widget/sessions.mjs widget/agentui.mjs widget/widget.css widget/cifinit.js
//go:embed widget/providers/ipscape.mjs widget/providers/sip.mjs widget/providers/sipmap.mjs
//go:embed widget/softphone.mjs widget/softphone.css
var widgetStatic embed.FS

//go:embed demo/index.html demo/demo.js demo/host.mjs demo/demo.css demo/phone.html demo/phone.mjs
var demoStatic embed.FS

//go:embed widget/index.html
var widgetPage string

//go:embed vendor/jssip/jssip.min.mjs vendor/jssip/LICENSES.txt vendor/jssip/VERSION
var vendorStatic embed.FS

// VendorFiles are the vendored browser libraries (vendor/README.md), served
// at /vendor/NAME: jssip/jssip.min.mjs, the softphone's SIP stack.
var VendorFiles fs.FS = mustSub(vendorStatic, "vendor")

// IPScapeStandIn is the stand-in for ipSCAPE's Dynamics integration bundle
// (ipscape/README.md): the demo and the browser tests serve it where a
// production config loads ipSCAPE's own. It is never served by serve.
//
//go:embed ipscape/ips-dynamics-integration.standin.js
var IPScapeStandIn []byte

// CIFLibrary is the CIF library stand-in (cif/msdyn_ciLibrary.js). The demo
// serves it at /webresources/Widget/msdyn_ciLibrary.js as text/javascript.
//
//go:embed cif/msdyn_ciLibrary.js
var CIFLibrary []byte

// WidgetFiles are the widget's static files (widget.js, core.mjs, widget.css,
// cifinit.js), served at /widget/NAME. The page itself, which is a template,
// is not among them: render it with RenderWidget.
var WidgetFiles fs.FS = mustSub(widgetStatic, "widget")

// DemoFiles are the demo host page's files (index.html, demo.js, host.mjs,
// demo.css), served at /demo/NAME.
var DemoFiles fs.FS = mustSub(demoStatic, "demo")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(fmt.Sprintf("web: %s is not embedded: %v", dir, err))
	}
	return sub
}

// WidgetSettings are the runtime settings the widget page carries as JSON.
type WidgetSettings struct {
	// APIBase is where /api/v1/sessions is served: "" for the page's origin,
	// a path prefix, or an absolute URL.
	APIBase string `json:"apiBase"`
	// WSURL is the agent WebSocket: a path such as "/api/v1/ws" (resolved
	// against the page, ws: or wss: after its scheme) or an absolute
	// ws(s):// URL.
	WSURL string `json:"wsURL"`
}

// WidgetPage is the data of the widget page template (widget/index.html).
type WidgetPage struct {
	// Scripts are the config's scripts, loaded in order before the widget's
	// own code, each with one data-KEY attribute per Dataset entry.
	Scripts []config.Script
	// SettingsJSON is the runtime settings as JSON; NewWidgetPage fills it.
	SettingsJSON template.JS
}

// NewWidgetPage returns the template data for scripts and settings.
func NewWidgetPage(scripts []config.Script, settings WidgetSettings) (WidgetPage, error) {
	// json.Marshal escapes <, > and &, so the JSON cannot close the
	// <script type="application/json"> element it is written into.
	data, err := json.Marshal(settings)
	if err != nil {
		return WidgetPage{}, fmt.Errorf("widget settings: %w", err)
	}
	return WidgetPage{Scripts: scripts, SettingsJSON: template.JS(data)}, nil
}

var parseWidget = sync.OnceValues(func() (*template.Template, error) {
	return template.New("widget/index.html").Funcs(template.FuncMap{"dataAttrs": dataAttrs}).Parse(widgetPage)
})

// WidgetTemplate returns the parsed widget page template. It is parsed once
// and shared: clone it before adding templates to it.
func WidgetTemplate() (*template.Template, error) {
	t, err := parseWidget()
	if err != nil {
		return nil, fmt.Errorf("widget/index.html: %w", err)
	}
	return t, nil
}

// RenderWidget writes the widget page for page to w. The page is rendered in
// full before anything is written, so a failure leaves w untouched and the
// caller can still answer with an error status.
func RenderWidget(w io.Writer, page WidgetPage) error {
	t, err := WidgetTemplate()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, page); err != nil {
		return fmt.Errorf("render widget page: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// dataAttrs renders a script's dataset as data-KEY="VALUE" attributes, keys
// sorted. html/template cannot do this itself: it refuses attribute names
// chosen at run time whose type it cannot tell (data-crmurl looks like a URL
// attribute), so the names are checked here and the values HTML-escaped.
func dataAttrs(dataset map[string]string) (template.HTMLAttr, error) {
	keys := make([]string, 0, len(dataset))
	for k := range dataset {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		if !isDatasetKey(k) {
			return "", fmt.Errorf("scripts dataset key %q: use letters, digits, '-', '_' and '.': the key becomes the attribute data-KEY", k)
		}
		b.WriteString(" data-")
		b.WriteString(k)
		b.WriteString(`="`)
		b.WriteString(html.EscapeString(dataset[k]))
		b.WriteString(`"`)
	}
	return template.HTMLAttr(b.String()), nil
}

// isDatasetKey accepts the keys the config loader accepts for a dataset.
func isDatasetKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
