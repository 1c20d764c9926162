package server

import (
	"strings"

	"github.com/ctibridge/ctibridge/internal/config"
)

// widgetScripts are the config's scripts the widget page loads. ipSCAPE's
// own Dynamics integration bundle (ips-dynamics-integration), which the
// reference config lists after the CIF library, is what ctibridge's widget
// replaces, so it is left out: loading it would fetch ipSCAPE's code from
// the internet into the agent's CRM.
func widgetScripts(scripts []config.Script) []config.Script {
	out := make([]config.Script, 0, len(scripts))
	for _, s := range scripts {
		if IsIPScapeIntegration(s.Src) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// IsIPScapeIntegration reports whether src is ipSCAPE's integration bundle.
func IsIPScapeIntegration(src string) bool {
	return strings.Contains(src, "ips-dynamics-integration")
}
