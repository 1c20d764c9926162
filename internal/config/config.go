// Package config loads and validates the ipSCAPE-format JSON config: the
// scripts the widget page loads, config.options, the screen-pop rules, the
// entities activities relate to, and (a ctibridge extension) the telephony
// source.
//
// The format is ipSCAPE's Microsoft Dynamics CTI adapter config, and every
// example of its documentation loads unchanged. Its blocks may come in one
// file or each alone; see docs/config.md for the layout rules, every field
// and every message.
//
// Parse never stops at the first problem: it reports every error and
// warning with the JSON path it is about and what to do, so one run of
// `ctibridge validate` shows everything wrong with a file.
package config

import (
	"fmt"
	"os"
	"slices"
)

// Load reads and parses the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data)
}

// Parse parses and validates a config. A config with errors returns a
// *Error listing all of them (and the warnings); a config with only warnings
// loads, with the warnings in Config.Warnings.
//
// Partial files load: a file holding only scripts, only config.options or
// only entities is a valid config, with warnings for the blocks it lacks.
func Parse(data []byte) (*Config, error) {
	root, trailing, syntax := readJSON(data)
	r := &reader{checker: checker{warnings: trailing}, cfg: &Config{Entities: map[string]*Entity{}}}
	r.cfg.Telephony.SIP.Headers = SIPHeaders{InteractionID: DefaultInteractionIDHeader, Queue: DefaultQueueHeader, Campaign: DefaultCampaignHeader}
	r.cfg.CIF.Sessions = SessionsAuto
	if syntax != nil {
		line, column := lineColumn(data, syntax.offset)
		r.errorf(syntax.path, syntax.fix, "invalid JSON at line %d, column %d: %s", line, column, syntax.message)
		return nil, r.result()
	}
	r.document(root)
	if len(r.errors) > 0 {
		return nil, r.result()
	}
	r.cfg.Warnings = r.warnings
	return r.cfg, nil
}

// reader turns a JSON tree into a Config, collecting problems.
type reader struct {
	checker
	cfg *Config
	// entityBlocks are the entities objects found, wherever they were; they
	// are merged once the whole file is read.
	entityBlocks []entityBlock
	// ruleEntities are the entities rules search, checked against the
	// merged entities at the end.
	ruleEntities []entityReference
	// callTypeOwners maps a call type to the first rule listing it.
	callTypeOwners map[string]string
}

type entityBlock struct {
	path string
	node *node
}

type entityReference struct {
	path string
	name string
}

func (r *reader) result() *Error {
	return &Error{Problems: r.errors, Warnings: r.warnings}
}

var topLevelKeys = []string{"scripts", "config", "screenPop", "entities", "telephony", "cif"}

func (r *reader) document(root *node) {
	obj, ok := r.object(root, rootPath, `{"scripts": [...], "config": {...}, "screenPop": {...}, "entities": {...}}`)
	if !ok {
		return
	}
	r.keys(obj, rootPath, topLevelKeys)
	seen := map[string]bool{}
	// Blocks are read in file order so problems come in the order a reader
	// of the file meets them; cross-block checks come after.
	for _, m := range obj.members {
		if seen[m.key] || !slices.Contains(topLevelKeys, m.key) {
			continue
		}
		seen[m.key] = true
		path := joinKey(rootPath, m.key)
		switch m.key {
		case "scripts":
			r.scripts(m.value, path)
		case "config":
			r.configBlock(m.value, path)
		case "screenPop":
			r.screenPop(m.value, path)
		case "entities":
			r.entityBlocks = append(r.entityBlocks, entityBlock{path: path, node: m.value})
		case "telephony":
			r.telephony(m.value, path)
		case "cif":
			r.cif(m.value, path)
		}
	}
	r.mergeEntities()
	r.checkRuleEntities()
	r.checkTelephony()

	if !seen["scripts"] {
		r.warnf("scripts", `add "scripts": [{"src": "https://ORG.crm.dynamics.com/webresources/Widget/msdyn_ciLibrary.js", "dataset": {"crmurl": "https://ORG.crm.dynamics.com", "cifid": "CIFMainLibrary"}}]`,
			"no scripts: the widget page will not load the CIF library (msdyn_ciLibrary.js)")
	}
	if !seen["screenPop"] {
		r.warnf("screenPop", `add "screenPop": {"default": {"entity": "contact", "query": "...", "map": [...]}}`,
			"no screen pop: calls will not open records")
	}
	if len(r.entityBlocks) == 0 {
		r.warnf("entities", `add "entities": {"contact": {"plural": "contacts", "key": "contactid", "query": "fullname,telephone1", "type": "person"}}`,
			"no entities: activities will not be related to any record")
	}
}

var configKeys = []string{"options", "entities"}

func (r *reader) configBlock(n *node, path string) {
	obj, ok := r.object(n, path, `{"options": {...}}`)
	if !ok {
		return
	}
	keys := r.keys(obj, path, configKeys)
	if v := keys["options"]; v != nil {
		r.options(v, joinKey(path, "options"))
	}
	if v := keys["entities"]; v != nil {
		r.entityBlocks = append(r.entityBlocks, entityBlock{path: joinKey(path, "entities"), node: v})
	}
}
