package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/skipnote"
)

// TestJavaScript runs the node test suites of the widget, the CIF library
// stand-in and the demo host, so `go test ./...` runs them too.
func TestJavaScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil && os.Getenv("CI") != "" {
		t.Fatal("node is not on PATH: CI must run the JavaScript tests (.ci/run installs nodejs)")
	}
	if err != nil {
		skipnote.Skip(t, "web: the widget's JavaScript tests", "node is not on PATH (install Node.js 18 or later: apt-get install nodejs)")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	if major := nodeMajor(string(out)); major < 18 {
		skipnote.Skip(t, "web: the widget's JavaScript tests", fmt.Sprintf("node %s has no built-in test runner: they need Node.js 18 or later", strings.TrimSpace(string(out))))
	}
	tests := []struct {
		name string
		dir  string
	}{
		{name: "widget core", dir: "widget"},
		{name: "widget telephony providers", dir: "widget/providers"},
		{name: "ipSCAPE integration stand-in", dir: "ipscape"},
		{name: "CIF library stand-in", dir: "cif"},
		{name: "demo host", dir: "demo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join(tt.dir, "*.test.mjs"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no *.test.mjs files in web/%s", tt.dir)
			}
			// Files are named rather than the directory: node 22 reads
			// --test arguments as globs, node 20 as paths.
			cmd := exec.Command(node, append([]string{"--test"}, files...)...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("node --test %s failed: %v\n%s", strings.Join(files, " "), err, out)
			}
			if !regexp.MustCompile(`(?m)^\S*\s*pass (\d+)`).Match(out) {
				t.Fatalf("node --test %s printed no pass count:\n%s", strings.Join(files, " "), out)
			}
		})
	}
}

func nodeMajor(version string) int {
	v := strings.TrimPrefix(strings.TrimSpace(version), "v")
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0
	}
	return n
}

func TestAssetsEmbedded(t *testing.T) {
	tests := []struct {
		name   string
		fsys   fs.FS
		path   string
		absent bool
	}{
		{name: "widget page template", fsys: Assets, path: "widget/index.html"},
		{name: "widget script", fsys: WidgetFiles, path: "widget.js"},
		{name: "widget core module", fsys: WidgetFiles, path: "core.mjs"},
		{name: "widget agent UI module", fsys: WidgetFiles, path: "agentui.mjs"},
		{name: "widget styles", fsys: WidgetFiles, path: "widget.css"},
		{name: "CIFInitDone recorder", fsys: WidgetFiles, path: "cifinit.js"},
		{name: "widget template is not a static file", fsys: WidgetFiles, path: "index.html", absent: true},
		{name: "widget tests are not served", fsys: WidgetFiles, path: "core.test.mjs", absent: true},
		{name: "CIF library stand-in", fsys: Assets, path: "cif/msdyn_ciLibrary.js"},
		{name: "CIF library tests are not embedded", fsys: Assets, path: "cif/ciLibrary.test.mjs", absent: true},
		{name: "demo page", fsys: DemoFiles, path: "index.html"},
		{name: "demo script", fsys: DemoFiles, path: "demo.js"},
		{name: "demo host module", fsys: DemoFiles, path: "host.mjs"},
		{name: "demo styles", fsys: DemoFiles, path: "demo.css"},
		{name: "demo tests are not served", fsys: DemoFiles, path: "host.test.mjs", absent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := fs.ReadFile(tt.fsys, tt.path)
			if tt.absent {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("%s: want not embedded, got err %v", tt.path, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tt.path, err)
			}
			if len(bytes.TrimSpace(data)) == 0 {
				t.Fatalf("%s is empty", tt.path)
			}
		})
	}
	t.Run("CIFLibrary is the stand-in", func(t *testing.T) {
		want, err := fs.ReadFile(Assets, "cif/msdyn_ciLibrary.js")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(CIFLibrary, want) || !bytes.Contains(CIFLibrary, []byte("Microsoft.CIFramework")) {
			t.Fatal("CIFLibrary does not hold cif/msdyn_ciLibrary.js")
		}
	})
}

// TestPageReferences checks that every /widget/... and /demo/... file the
// pages load, and every module they import, is embedded where the server
// serves it.
func TestPageReferences(t *testing.T) {
	ref := regexp.MustCompile(`(?:src|href)="(/(?:widget|demo)/[^"]+)"`)
	imp := regexp.MustCompile(`(?m)^import[^"]*"\./([^"]+)"`)
	tests := []struct {
		name   string
		file   string
		fsys   fs.FS
		prefix string
		want   int // references at least
	}{
		{name: "widget page", file: "widget/index.html", fsys: WidgetFiles, prefix: "/widget/", want: 3},
		{name: "demo page", file: "demo/index.html", fsys: DemoFiles, prefix: "/demo/", want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := fs.ReadFile(Assets, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			matches := ref.FindAllStringSubmatch(string(page), -1)
			if len(matches) < tt.want {
				t.Fatalf("%s references %d files, want at least %d", tt.file, len(matches), tt.want)
			}
			for _, m := range matches {
				name, ok := strings.CutPrefix(m[1], tt.prefix)
				if !ok {
					t.Errorf("%s loads %s, outside %s", tt.file, m[1], tt.prefix)
					continue
				}
				if _, err := fs.Stat(tt.fsys, name); err != nil {
					t.Errorf("%s loads %s, which is not embedded: %v", tt.file, m[1], err)
				}
			}
		})
	}
	for _, js := range []struct {
		file string
		fsys fs.FS
	}{{"widget.js", WidgetFiles}, {"demo.js", DemoFiles}} {
		t.Run("imports of "+js.file, func(t *testing.T) {
			src, err := fs.ReadFile(js.fsys, js.file)
			if err != nil {
				t.Fatal(err)
			}
			ms := imp.FindAllStringSubmatch(string(src), -1)
			if len(ms) == 0 {
				t.Fatalf("%s imports nothing", js.file)
			}
			for _, m := range ms {
				if _, err := fs.Stat(js.fsys, m[1]); err != nil {
					t.Errorf("%s imports ./%s, which is not embedded beside it: %v", js.file, m[1], err)
				}
			}
		})
	}
}

var settingsBlob = regexp.MustCompile(`<script type="application/json" id="ctibridge-settings">(.*?)</script>`)

func TestRenderWidget(t *testing.T) {
	reference := []config.Script{
		{
			Src:     "https://<instance>.dynamics.com/webresources/Widget/msdyn_ciLibrary.js",
			Dataset: map[string]string{"crmurl": "https://<instance>.dynamics.com", "cifid": "CIFMainLibrary"},
		},
		{Src: "https://developer.onipscape.com/integrations/<version>/dynamics/ips-dynamics-integration.v<semantic-version>.min.js"},
	}
	tests := []struct {
		name     string
		scripts  []config.Script
		settings WidgetSettings
		want     []string // substrings of the page, in this order
		not      []string
		wantErr  string
	}{
		{
			name:     "reference scripts load before the widget, with their data attributes escaped",
			scripts:  reference,
			settings: WidgetSettings{APIBase: "", WSURL: "/api/v1/ws"},
			want: []string{
				`<script src="/widget/cifinit.js"></script>`,
				`<script src="https://%3cinstance%3e.dynamics.com/webresources/Widget/msdyn_ciLibrary.js" data-cifid="CIFMainLibrary" data-crmurl="https://&lt;instance&gt;.dynamics.com"></script>`,
				`<script src="https://developer.onipscape.com/integrations/%3cversion%3e/dynamics/ips-dynamics-integration.v%3csemantic-version%3e.min.js"></script>`,
				`<script type="application/json" id="ctibridge-settings">{"apiBase":"","wsURL":"/api/v1/ws"}</script>`,
				`<script type="module" src="/widget/widget.js"></script>`,
				`id="login-agent"`, `id="call-banner"`, `id="select-person"`, `id="select-organisation"`, `id="wrap-code"`,
			},
			not: []string{"ZgotmplZ", "{{"},
		},
		{
			name: "the demo's stand-in library on a loopback origin",
			scripts: []config.Script{{
				Src:     "http://127.0.0.1:8080/webresources/Widget/msdyn_ciLibrary.js",
				Dataset: map[string]string{"crmurl": "http://127.0.0.1:8080", "cifid": "CIFMainLibrary"},
			}},
			settings: WidgetSettings{WSURL: "/api/v1/ws"},
			want:     []string{`<script src="http://127.0.0.1:8080/webresources/Widget/msdyn_ciLibrary.js" data-cifid="CIFMainLibrary" data-crmurl="http://127.0.0.1:8080"></script>`},
		},
		{
			name:    "quotes and angle brackets in a data value stay inside the attribute",
			scripts: []config.Script{{Src: "https://x.example/a.js", Dataset: map[string]string{"note": `"><script>alert(1)</script>`}}},
			want:    []string{`data-note="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`},
			not:     []string{`<script>alert(1)`},
		},
		{
			name:    "a javascript: src is neutralised",
			scripts: []config.Script{{Src: "javascript:alert(1)"}},
			want:    []string{`<script src="#ZgotmplZ"></script>`},
		},
		{
			name:     "settings cannot close their script element",
			settings: WidgetSettings{APIBase: "</script><script>alert(1)</script>", WSURL: "/ws"},
			want:     []string{`"apiBase":"\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e"`},
			not:      []string{`</script><script>alert(1)`},
		},
		{
			name:    "a dataset key that is not an attribute name is an error naming it",
			scripts: []config.Script{{Src: "https://x.example/a.js", Dataset: map[string]string{`x" onload="alert(1)`: "v"}}},
			wantErr: `scripts dataset key "x\" onload=\"alert(1)"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := NewWidgetPage(tt.scripts, tt.settings)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			err = RenderWidget(&buf, page)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %s", err, tt.wantErr)
				}
				if buf.Len() != 0 {
					t.Fatalf("a failed render wrote %d bytes", buf.Len())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			at := 0
			for _, w := range tt.want {
				i := strings.Index(out[at:], w)
				if i < 0 {
					t.Fatalf("page lacks (after byte %d):\n%s\n--- page ---\n%s", at, w, out)
				}
				at += i + len(w)
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("page contains %q", n)
				}
			}
			m := settingsBlob.FindStringSubmatch(out)
			if m == nil {
				t.Fatal("page has no ctibridge-settings blob")
			}
			var got WidgetSettings
			if err := json.Unmarshal([]byte(m[1]), &got); err != nil {
				t.Fatalf("settings blob is not JSON: %v: %s", err, m[1])
			}
			if got != tt.settings {
				t.Errorf("settings blob = %+v, want %+v", got, tt.settings)
			}
		})
	}
}

func TestWidgetTemplateParses(t *testing.T) {
	tmpl, err := WidgetTemplate()
	if err != nil {
		t.Fatal(err)
	}
	again, err := WidgetTemplate()
	if err != nil || again != tmpl {
		t.Fatalf("WidgetTemplate parses once and shares the result: got %p, %v", again, err)
	}
}
