package activity

import (
	"fmt"
	"strings"

	"github.com/ctibridge/ctibridge/internal/config"
)

// binding is a record bound through its entity's plural: /contacts(<id>).
type binding struct {
	entity string // logical name
	uri    string
}

// bind resolves ref through the config's entities.
func bind(cfg *config.Config, ref *RecordRef) (*binding, error) {
	ent := lookupEntity(cfg, ref.Entity)
	if ent == nil {
		return nil, fmt.Errorf("entity %q is not listed in options.entities, so the integration ignores it; list it to relate activities to it", ref.Entity)
	}
	if ent.Plural == "" {
		return nil, fmt.Errorf("entity %q has no plural in options.entities; add its entity set name", ref.Entity)
	}
	id, ok := normaliseGUID(ref.ID)
	if !ok {
		return nil, fmt.Errorf("id %q of the %s record is not a GUID; pass the record id CIF returned", ref.ID, ref.Entity)
	}
	logical := strings.ToLower(ent.LogicalName)
	if logical == "" {
		logical = strings.ToLower(ref.Entity)
	}
	return &binding{entity: logical, uri: "/" + ent.Plural + "(" + id + ")"}, nil
}

// relations is a selection resolved for one call.
type relations struct {
	regarding *binding
	// customers are the parties on the customer's side.
	customers []*binding
	user      string // systemuserid
	userParty bool   // systemuser is a party target here
	incoming  bool
}

func (p *planner) relations(sel Selection) relations {
	r := relations{incoming: !outgoing(p.call.CallType)}
	var person, org *binding
	if sel.Person != nil {
		person, _ = bind(p.cfg, sel.Person)
	}
	if sel.Organisation != nil {
		org, _ = bind(p.cfg, sel.Organisation)
	}
	r.regarding = person
	if r.regarding == nil {
		r.regarding = org
	}
	for _, b := range []*binding{person, org} {
		if b != nil && p.cfg.Tenant.PartyTarget(b.entity) {
			r.customers = append(r.customers, b)
		}
	}
	r.user, _ = normaliseGUID(sel.User)
	r.userParty = p.cfg.Tenant.PartyTarget("systemuser")
	return r
}

// addTo writes the regarding lookup and, for a phone call, its parties.
// The lookup's navigation property is named for both ends, as Dataverse
// names the single-valued navigation properties of activity tables:
// regardingobjectid_contact_phonecall, regardingobjectid_account_task.
func (r relations) addTo(body map[string]any, activityEntity string) {
	r.addRegardingTo(body, activityEntity)
	if activityEntity != phoneCallEntity {
		return
	}
	customerMask, userMask := partyTo, partyFrom
	if r.incoming {
		customerMask, userMask = partyFrom, partyTo
	}
	var parties []any
	for _, b := range r.customers {
		parties = append(parties, map[string]any{
			"partyid_" + b.entity + "@odata.bind": b.uri,
			"participationtypemask":               float64(customerMask),
		})
	}
	if r.user != "" && r.userParty {
		parties = append(parties, map[string]any{
			"partyid_systemuser@odata.bind": "/systemusers(" + r.user + ")",
			"participationtypemask":         float64(userMask),
		})
	}
	if len(parties) > 0 {
		body[partiesProperty] = parties
	}
}

// addRegardingTo writes the regarding lookup alone.
func (r relations) addRegardingTo(body map[string]any, activityEntity string) {
	if r.regarding != nil {
		body["regardingobjectid_"+r.regarding.entity+"_"+activityEntity+"@odata.bind"] = r.regarding.uri
	}
}

// normaliseGUID returns id as a lower-case GUID without braces, or false when
// it is not one. Only GUIDs reach a bind URI, so nothing else can be spliced
// into the request path.
func normaliseGUID(id string) (string, bool) {
	id = strings.TrimSpace(id)
	if len(id) == 38 && id[0] == '{' && id[37] == '}' {
		id = id[1:37]
	}
	if len(id) != 36 {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return "", false
			}
		}
	}
	return strings.ToLower(id), true
}
