package server

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestEventsWrongMethodIsJSON(t *testing.T) {
	addr := serveLimited(t, testConfig, defaultLimits)
	for _, method := range []string{"GET", "PUT", "DELETE"} {
		req, _ := http.NewRequest(method, "http://"+addr+"/api/v1/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Code, Message string }
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || err != nil || body.Error.Code != "method_not_allowed" || resp.Header.Get("Allow") != "POST" {
			t.Errorf("%s /api/v1/events: %d %s (%v), Allow %q; want 405 JSON method_not_allowed, Allow POST",
				method, resp.StatusCode, resp.Header.Get("Content-Type"), err, resp.Header.Get("Allow"))
		}
	}
}
