package config

import (
	"fmt"
	"strings"

	"github.com/ctibridge/ctibridge/internal/phone"
)

var optionKeys = []string{"completeActivityRecordOnWrap", "createTaskOnPreview", "fields", "entities", "phoneRegion"}

var fieldKeys = []string{"callDispositionField", "agentInteractionId"}

func (r *reader) options(n *node, path string) {
	obj, ok := r.object(n, path, `{"completeActivityRecordOnWrap": true, "fields": {...}}`)
	if !ok {
		return
	}
	keys := r.keys(obj, path, optionKeys)
	opts := &r.cfg.Options
	if v := keys["completeActivityRecordOnWrap"]; v != nil {
		opts.CompleteActivityRecordOnWrap, _ = r.boolean(v, joinKey(path, "completeActivityRecordOnWrap"))
	}
	if v := keys["createTaskOnPreview"]; v != nil {
		opts.CreateTaskOnPreview, _ = r.boolean(v, joinKey(path, "createTaskOnPreview"))
	}
	if v := keys["fields"]; v != nil {
		r.fields(v, joinKey(path, "fields"))
	}
	if v := keys["entities"]; v != nil {
		r.entityBlocks = append(r.entityBlocks, entityBlock{path: joinKey(path, "entities"), node: v})
	}
	if v := keys["phoneRegion"]; v != nil {
		opts.PhoneRegion = r.phoneRegion(v, joinKey(path, "phoneRegion"))
	}
}

func (r *reader) fields(n *node, path string) {
	obj, ok := r.object(n, path, `{"callDispositionField": "new_wrapcode", "agentInteractionId": "new_agentinteractionid"}`)
	if !ok {
		return
	}
	keys := r.keys(obj, path, fieldKeys)
	f := &r.cfg.Options.Fields
	if v := keys["callDispositionField"]; v != nil {
		f.CallDispositionField = r.logicalName(v, joinKey(path, "callDispositionField"), "column")
	}
	if v := keys["agentInteractionId"]; v != nil {
		f.AgentInteractionID = r.logicalName(v, joinKey(path, "agentInteractionId"), "column")
	}
}

// logicalName reads a Dataverse logical name (a table, entity set or column
// name). The Web API only knows lower-case logical names, while the maker
// portal shows schema names such as new_agentInteractionId; a schema name
// is lower-cased with a warning rather than failing on the first call.
// what names the kind of name for messages.
func (r *reader) logicalName(n *node, path, what string) string {
	s, ok := r.str(n, path)
	if !ok {
		return ""
	}
	return r.checkLogicalName(s, path, what)
}

func (r *reader) checkLogicalName(s, path, what string) string {
	if s == "" {
		r.errorf(path, "write the "+what+"'s logical name, e.g. "+exampleName(what), "empty %s name", what)
		return ""
	}
	if !isIdentifier(s) {
		r.errorf(path, "a logical name is letters, digits and underscores, starting with a letter or underscore, e.g. "+exampleName(what),
			"%q is not a valid %s name", s, what)
		return s
	}
	lower := strings.ToLower(s)
	if lower != s {
		r.warnf(path, fmt.Sprintf("write %q", lower),
			"%q is a schema name; the Web API uses lower-case logical names, so %q is used", s, lower)
	}
	return lower
}

func exampleName(what string) string {
	switch what {
	case "table":
		return "contact"
	case "entity set":
		return "contacts"
	}
	return "telephone1"
}

func (r *reader) phoneRegion(n *node, path string) string {
	s, ok := r.str(n, path)
	if !ok {
		return ""
	}
	fix := "write an ISO 3166 two-letter region such as \"AU\", \"GB\" or \"US\""
	switch {
	case phone.IsValidRegion(s):
		// Region codes are case-insensitive; the rest of ctibridge sees
		// them as ISO writes them.
		return strings.ToUpper(s)
	case s == "":
		r.errorf(path, fix+", or remove phoneRegion to use the server's default", "empty phone region")
	default:
		r.errorf(path, fix, "unknown phone region %s", quoteShort(s))
	}
	return ""
}
