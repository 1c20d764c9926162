package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// rootPath is the JSON path of the whole document in messages.
const rootPath = "(top level)"

// joinKey is the JSON path of member key of the value at path. Keys that
// are not plain names are written in brackets so the path stays readable
// and unambiguous: entities["my table"].
func joinKey(path, key string) string {
	if !isPlainKey(key) {
		if path == rootPath {
			path = ""
		}
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == rootPath {
		return key
	}
	return path + "." + key
}

// joinIndex is the JSON path of item i of the list at path.
func joinIndex(path string, i int) string {
	if path == rootPath {
		path = ""
	}
	return path + "[" + strconv.Itoa(i) + "]"
}

func isPlainKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(isWordByte(c) || c == '$' || c == '-' && i > 0) {
			return false
		}
	}
	return true
}

// Error is returned by Parse and Load when a config has errors. It carries
// every problem found, not just the first, so a deployer fixes a file in one
// pass.
type Error struct {
	// Problems are the errors: block by block in file order, then the
	// checks across blocks.
	Problems []Problem
	// Warnings are the problems that alone would not have stopped the load;
	// they are returned here too so a validator can show everything.
	Warnings []Problem
}

// Error lists every error, one per line, each "json.path: message (fix)".
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// checker collects problems while a config is read.
type checker struct {
	errors   []Problem
	warnings []Problem
}

func (c *checker) errorf(path, fix, format string, args ...any) {
	c.errors = append(c.errors, newProblem(path, fix, fmt.Sprintf(format, args...)))
}

func (c *checker) warnf(path, fix, format string, args ...any) {
	c.warnings = append(c.warnings, newProblem(path, fix, fmt.Sprintf(format, args...)))
}

// newProblem keeps each problem on one line: messages quote config text,
// and Error promises one problem per line.
func newProblem(path, fix, message string) Problem {
	return Problem{Path: oneLine(path), Message: oneLine(message), Fix: oneLine(fix)}
}

var lineBreaks = strings.NewReplacer("\r\n", `\r\n`, "\n", `\n`, "\r", `\r`)

func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return lineBreaks.Replace(s)
	}
	return s
}

// String, bool, list and object readers: each reports a wrong JSON type at
// path and returns ok=false, so the caller skips the value and goes on
// checking the rest of the file.

func (c *checker) str(n *node, path string) (string, bool) {
	if n.kind == kindString {
		return n.text, true
	}
	fix := ""
	if n.kind == kindNumber || n.kind == kindBool {
		fix = "put the value in double quotes: \"" + n.describe() + "\""
	}
	c.errorf(path, fix, "expected a string, got %s", n.describe())
	return "", false
}

func (c *checker) boolean(n *node, path string) (bool, bool) {
	if n.kind == kindBool {
		return n.boolean, true
	}
	fix := "write true or false"
	if n.kind == kindString && (n.text == "true" || n.text == "false") {
		fix = "remove the quotes: write " + n.text
	}
	c.errorf(path, fix, "expected true or false, got %s", n.describe())
	return false, false
}

func (c *checker) list(n *node, path, example string) ([]*node, bool) {
	if n.kind == kindArray {
		return n.items, true
	}
	c.errorf(path, "write a list: "+example, "expected a list, got %s", n.describe())
	return nil, false
}

func (c *checker) object(n *node, path, example string) (*node, bool) {
	if n.kind == kindObject {
		return n, true
	}
	c.errorf(path, "write an object: "+example, "expected an object, got %s", n.describe())
	return nil, false
}

// keys checks an object's member names: duplicates are errors (JSON readers
// disagree on which one wins) and unknown names are warnings with a "did you
// mean" for near misses, or where the key belongs when it is a known key in
// the wrong block. It returns the members by name, first occurrence.
func (c *checker) keys(n *node, path string, known []string) map[string]*node {
	byKey := make(map[string]*node, len(n.members))
	for _, m := range n.members {
		at := joinKey(path, m.key)
		if _, dup := byKey[m.key]; dup {
			c.errorf(at, "keep one of them", "key %q appears more than once in the same object", m.key)
			continue
		}
		byKey[m.key] = m.value
		if slices.Contains(known, m.key) {
			continue
		}
		c.warnf(at, unknownKeyFix(m.key, path, known), "unknown key %q is ignored", m.key)
	}
	return byKey
}

// homes says where each config key belongs, for keys written in the wrong
// block. entities is accepted in three places and is listed by its
// top-level home.
var homes = map[string]string{
	"scripts":                      "scripts",
	"config":                       "config",
	"screenPop":                    "screenPop",
	"entities":                     "entities",
	"options":                      "config.options",
	"completeActivityRecordOnWrap": "config.options.completeActivityRecordOnWrap",
	"createTaskOnPreview":          "config.options.createTaskOnPreview",
	"fields":                       "config.options.fields",
	"phoneRegion":                  "config.options.phoneRegion",
	"callDispositionField":         "config.options.fields.callDispositionField",
	"agentInteractionId":           "config.options.fields.agentInteractionId",
	"default":                      "screenPop.default",
	"rules":                        "screenPop.rules",
	"telephony":                    "telephony",
	"sip":                          "telephony.sip",
}

func unknownKeyFix(key, path string, known []string) string {
	if s := suggest(key, known); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	if home, ok := homes[key]; ok {
		return "it belongs at " + home + ": move it there"
	}
	for k, home := range homes {
		if strings.EqualFold(k, key) {
			return fmt.Sprintf("did you mean %q at %s?", k, home)
		}
	}
	return "known keys here: " + strings.Join(known, ", ")
}

// suggest returns the candidate closest to word when it is near enough to
// be a slip: the same apart from case, or within a small edit distance.
func suggest(word string, candidates []string) string {
	best, bestDistance := "", -1
	limit := 1
	if len(word) >= 5 {
		limit = 2
	}
	lower := strings.ToLower(word)
	for _, cand := range candidates {
		d := editDistance(lower, strings.ToLower(cand))
		if d <= limit && (bestDistance < 0 || d < bestDistance) {
			best, bestDistance = cand, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes; keys
// are ASCII.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// isIdentifier reports whether s is a Dataverse-style name: a letter or
// underscore, then letters, digits and underscores.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}
