package sandbox_test

import (
	"net/http"
	"testing"

	"github.com/ctibridge/ctibridge/internal/sandbox"
)

func TestMetadataDescribesTablesColumnsKeysAndRelationships(t *testing.T) {
	opts := testOptions()
	opts.ExtraColumns = []string{"new_wrapcode:choice:100000000=Sale,100000001=No sale"}
	opts.PhoneCallPartyTargets = []string{"account", "contact", "systemuser"}
	_, srv := newServer(t, opts)
	base := "/api/data/v9.2/EntityDefinitions(LogicalName='phonecall')"

	r := call(t, srv, "GET", base+"?$select=EntitySetName,PrimaryIdAttribute", "")
	wantStatus(t, r, http.StatusOK)
	if e := r.json(t); e["EntitySetName"] != "phonecalls" || e["PrimaryIdAttribute"] != "activityid" || e["MetadataId"] == nil || e["LogicalName"] != nil {
		t.Fatalf("entity definition %v", e)
	}

	r = call(t, srv, "GET", base+"/Attributes(LogicalName='new_wrapcode')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName,AttributeType&$expand=OptionSet", "")
	wantStatus(t, r, http.StatusOK)
	a := r.json(t)
	options := a["OptionSet"].(map[string]any)["Options"].([]any)
	first := options[0].(map[string]any)
	label := first["Label"].(map[string]any)["UserLocalizedLabel"].(map[string]any)["Label"]
	if a["AttributeType"] != "Picklist" || len(options) != 2 || first["Value"] != float64(100000000) || label != "Sale" {
		t.Fatalf("choice column %v", a)
	}
	// OptionSet needs the cast; a cast to another type finds nothing.
	wantStatus(t, call(t, srv, "GET", base+"/Attributes(LogicalName='new_wrapcode')?$expand=OptionSet", ""), http.StatusBadRequest)
	wantStatus(t, call(t, srv, "GET", base+"/Attributes(LogicalName='subject')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata", ""), http.StatusNotFound)
	wantStatus(t, call(t, srv, "GET", base+"/Attributes(LogicalName='new_nothing')", ""), http.StatusNotFound)

	r = call(t, srv, "GET", base+"/Attributes(LogicalName='to')", "")
	wantStatus(t, r, http.StatusOK)
	if to := r.json(t); to["AttributeType"] != "PartyList" || len(to["Targets"].([]any)) != 3 {
		t.Fatalf("to: %v", to)
	}

	r = call(t, srv, "GET", base+"/Keys", "")
	wantStatus(t, r, http.StatusOK)
	keys := r.values(t)
	if len(keys) != 1 || keys[0]["KeyAttributes"].([]any)[0] != "new_agentinteractionid" || keys[0]["EntityKeyIndexStatus"] != "Active" {
		t.Fatalf("keys %v", keys)
	}

	r = call(t, srv, "GET", base+"/ManyToOneRelationships?$select=ReferencedEntity,ReferencingEntityNavigationPropertyName", "")
	wantStatus(t, r, http.StatusOK)
	found := false
	for _, rel := range r.values(t) {
		if rel["ReferencedEntity"] == "contact" && rel["ReferencingEntityNavigationPropertyName"] == "regardingobjectid_contact_phonecall" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no regarding relationship to contact in %s", r.body)
	}
	wantStatus(t, call(t, srv, "GET", "/api/data/v9.2/EntityDefinitions(LogicalName='new_nothing')", ""), http.StatusNotFound)
	// A lead is no party where the targets leave it out.
	lead := createRecord(t, srv, "leads", `{"lastname":"Lee"}`)
	r = call(t, srv, "POST", "/api/data/v9.2/phonecalls", `{"subject":"x","phonecall_activity_parties":[{"partyid_lead@odata.bind":"/leads(`+lead+`)","participationtypemask":2}]}`)
	wantStatus(t, r, http.StatusBadRequest)
}

// Columns and keys created through the metadata API are written like any
// other, and survive a restart of a sandbox kept in a file.
func TestMetadataCreatesColumnsAndKeys(t *testing.T) {
	path := t.TempDir() + "/crm.db"
	opts := sandbox.Options{Path: path}
	sb, srv := newServer(t, opts)
	base := "/api/data/v9.2/EntityDefinitions(LogicalName='phonecall')"
	r := call(t, srv, "POST", base+"/Attributes", `{"@odata.type":"Microsoft.Dynamics.CRM.StringAttributeMetadata","SchemaName":"new_AgentInteractionId","MaxLength":100}`)
	wantStatus(t, r, http.StatusNoContent)
	if r.header.Get("OData-EntityId") == "" {
		t.Fatal("no OData-EntityId")
	}
	wantStatus(t, call(t, srv, "POST", base+"/Attributes", `{"@odata.type":"Microsoft.Dynamics.CRM.StringAttributeMetadata","SchemaName":"new_AgentInteractionId","MaxLength":100}`), http.StatusBadRequest)
	wantStatus(t, call(t, srv, "POST", base+"/Attributes", `{"@odata.type":"Microsoft.Dynamics.CRM.IntegerAttributeMetadata","SchemaName":"new_WrapCode"}`), http.StatusNoContent)
	wantStatus(t, call(t, srv, "POST", base+"/Attributes", `{"@odata.type":"Microsoft.Dynamics.CRM.StringAttributeMetadata","SchemaName":"nounderscore","MaxLength":10}`), http.StatusBadRequest)
	wantStatus(t, call(t, srv, "POST", base+"/Keys", `{"SchemaName":"new_interaction_key","KeyAttributes":["new_agentinteractionid"]}`), http.StatusNoContent)
	wantStatus(t, call(t, srv, "POST", base+"/Keys", `{"SchemaName":"new_interaction_key","KeyAttributes":["new_agentinteractionid"]}`), http.StatusBadRequest)

	wantStatus(t, call(t, srv, "PATCH", "/api/data/v9.2/phonecalls(new_agentinteractionid='IX-1')", `{"subject":"x","new_wrapcode":3}`), http.StatusNoContent)
	wantStatus(t, call(t, srv, "PATCH", "/api/data/v9.2/phonecalls(new_agentinteractionid='IX-2')", `{"subject":"x","new_wrapcode":"3"}`), http.StatusBadRequest)
	srv.Close()
	sb.Close()

	_, srv = newServer(t, opts)
	r = call(t, srv, "GET", "/api/data/v9.2/phonecalls(new_agentinteractionid='IX-1')?$select=new_wrapcode", "")
	wantStatus(t, r, http.StatusOK)
	if r.json(t)["new_wrapcode"] != float64(3) {
		t.Fatalf("after a restart: %s", r.body)
	}
}

// A caller whose role lacks prvReadEntity is refused table definitions.
func TestMetadataRefusedWithoutThePrivilege(t *testing.T) {
	opts := testOptions()
	opts.RefuseMetadata = true
	_, srv := newServer(t, opts)
	r := call(t, srv, "GET", "/api/data/v9.2/EntityDefinitions(LogicalName='phonecall')/Attributes", "")
	wantError(t, r, http.StatusForbidden, "0x80040220", "prvReadEntity")
}
