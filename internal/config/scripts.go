package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

var scriptKeys = []string{"src", "dataset"}

// placeholder matches the <instance>-style holes of the ipSCAPE reference
// (<instance>, <version>, <semantic-version>), which a deployer fills in.
var placeholder = regexp.MustCompile(`<[^<>\s]+>`)

func (r *reader) scripts(n *node, path string) {
	items, ok := r.list(n, path, `[{"src": "https://..."}]`)
	if !ok {
		return
	}
	r.cfg.Scripts = make([]Script, 0, len(items))
	for i, item := range items {
		at := joinIndex(path, i)
		obj, ok := r.object(item, at, `{"src": "https://...", "dataset": {...}}`)
		if !ok {
			continue
		}
		keys := r.keys(obj, at, scriptKeys)
		var s Script
		srcPath := joinKey(at, "src")
		if v := keys["src"]; v == nil {
			r.errorf(srcPath, `add "src": "https://..."`, "missing: a script needs the URL it loads from")
		} else if src, ok := r.str(v, srcPath); ok {
			s.Src = src
			r.scriptURL(src, srcPath)
		}
		if v := keys["dataset"]; v != nil {
			s.Dataset = r.dataset(v, joinKey(at, "dataset"))
		}
		if isCIFLibrary(s.Src) {
			r.cifLibrary(s, at)
		}
		r.cfg.Scripts = append(r.cfg.Scripts, s)
	}
}

// dataset reads the data-* attributes of a script tag.
func (r *reader) dataset(n *node, path string) map[string]string {
	obj, ok := r.object(n, path, `{"crmurl": "https://ORG.crm.dynamics.com", "cifid": "CIFMainLibrary"}`)
	if !ok {
		return nil
	}
	ds := make(map[string]string, len(obj.members))
	for _, m := range obj.members {
		at := joinKey(path, m.key)
		if _, dup := ds[m.key]; dup {
			r.errorf(at, "keep one of them", "key %q appears more than once in the same object", m.key)
			continue
		}
		if !isAttributeName(m.key) {
			r.errorf(at, "use letters, digits, '-' and '_': the key becomes the attribute data-KEY",
				"%s is not usable as a data-* attribute name", quoteShort(m.key))
		}
		v, ok := r.str(m.value, at)
		if !ok {
			continue
		}
		ds[m.key] = v
		r.placeholders(v, at)
	}
	return ds
}

func isAttributeName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isWordByte(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// placeholders warns about <instance>-style holes; it reports whether there
// were any, as a URL with holes cannot be checked further.
func (r *reader) placeholders(s, path string) bool {
	holes := placeholder.FindAllString(s, -1)
	if len(holes) == 0 {
		return false
	}
	noun := "placeholder"
	if len(holes) > 1 {
		noun = "placeholders"
	}
	list := strings.Join(holes, ", ")
	r.warnf(path, "replace "+list+" with your values before deployment", "contains the %s %s", noun, list)
	return true
}

func (r *reader) scriptURL(src, path string) {
	if r.placeholders(src, path) {
		return
	}
	u, err := url.Parse(src)
	if err != nil || !u.IsAbs() || u.Host == "" {
		r.errorf(path, "write an absolute URL such as https://ORG.crm.dynamics.com/webresources/Widget/msdyn_ciLibrary.js",
			"%s is not an absolute http(s) URL", quoteShort(src))
		return
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			r.warnf(path, "use https", "%s loads a script over plain http; Dynamics pages are https and browsers block mixed content", quoteShort(src))
		}
	default:
		r.errorf(path, "use an https URL", "scheme %q is not http or https", u.Scheme)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isCIFLibrary(src string) bool {
	u, err := url.Parse(src)
	if err != nil {
		return strings.HasSuffix(strings.ToLower(src), "/msdyn_cilibrary.js")
	}
	return strings.HasSuffix(strings.ToLower(u.Path), "/msdyn_cilibrary.js")
}

// cifLibrary checks the attributes Microsoft's CIF library reads from its
// own script tag: data-crmurl is the Dynamics origin it posts messages to,
// data-cifid must be CIFMainLibrary. Without them the widget loads but
// every CIF call goes unanswered.
func (r *reader) cifLibrary(s Script, path string) {
	dsPath := joinKey(path, "dataset")
	crmURL, hasCRM := s.Dataset["crmurl"]
	if !hasCRM {
		r.warnf(joinKey(dsPath, "crmurl"), `add "crmurl": "https://ORG.crm.dynamics.com"`,
			"missing: msdyn_ciLibrary.js needs data-crmurl, the Dynamics URL it talks to")
	}
	if id, ok := s.Dataset["cifid"]; !ok {
		r.warnf(joinKey(dsPath, "cifid"), `add "cifid": "CIFMainLibrary"`, "missing: msdyn_ciLibrary.js needs data-cifid")
	} else if id != "CIFMainLibrary" {
		r.warnf(joinKey(dsPath, "cifid"), `write "CIFMainLibrary"`, "msdyn_ciLibrary.js expects data-cifid \"CIFMainLibrary\", got %s", quoteShort(id))
	}
	if !hasCRM || placeholder.MatchString(crmURL) || placeholder.MatchString(s.Src) {
		return
	}
	lib, err1 := url.Parse(s.Src)
	crm, err2 := url.Parse(crmURL)
	if err1 != nil || err2 != nil || !crm.IsAbs() || crm.Host == "" {
		r.errorf(joinKey(dsPath, "crmurl"), "write the organisation URL, e.g. https://ORG.crm.dynamics.com",
			"%s is not an absolute URL", quoteShort(crmURL))
		return
	}
	if !strings.EqualFold(lib.Scheme+"://"+lib.Host, crm.Scheme+"://"+crm.Host) {
		r.warnf(joinKey(dsPath, "crmurl"), fmt.Sprintf("load msdyn_ciLibrary.js from %s://%s, or set crmurl to %s://%s", crm.Scheme, crm.Host, lib.Scheme, lib.Host),
			"crmurl %s is not the origin the CIF library is loaded from (%s://%s)", quoteShort(crmURL), lib.Scheme, lib.Host)
	}
}
