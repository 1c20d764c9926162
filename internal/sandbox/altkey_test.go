package sandbox_test

import (
	"net/http"
	"testing"
)

// Microsoft: GET and PATCH by an alternate key value holding / # < > * % &
// : \ ? + do not work, encoded or not. The sandbox refuses them too.
func TestKeyValuesDataverseCannotAddressAreRefused(t *testing.T) {
	_, srv := newServer(t, testOptions())
	for _, path := range []string{
		"/api/data/v9.2/phonecalls(new_agentinteractionid='IX%2F1')",
		"/api/data/v9.2/phonecalls(new_agentinteractionid='IX%2B1')",
		"/api/data/v9.2/phonecalls(new_agentinteractionid='IX%231')",
		"/api/data/v9.2/phonecalls(new_agentinteractionid='IX%3A1')",
	} {
		for _, method := range []string{"GET", "PATCH"} {
			body := ""
			if method == "PATCH" {
				body = `{"subject":"x"}`
			}
			r := call(t, srv, method, path, body)
			wantStatus(t, r, http.StatusBadRequest)
		}
	}
	r := call(t, srv, "PATCH", "/api/data/v9.2/phonecalls(new_agentinteractionid='IX%201')", `{"subject":"x"}`)
	wantStatus(t, r, http.StatusNoContent)
}
