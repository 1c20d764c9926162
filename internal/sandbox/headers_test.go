package sandbox_test

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Dataverse spells OData-EntityId and OData-Version in mixed case, on the
// response and inside $batch parts; case-sensitive readers look for that.
func TestHeadersAreSpelledAsDataverseSpellsThem(t *testing.T) {
	_, srv := newServer(t, testOptions())
	u, _ := url.Parse(srv.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"subject":"x"}`
	conn.Write([]byte("POST /api/data/v9.2/phonecalls HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body))
	var raw strings.Builder
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		raw.WriteString(sc.Text() + "\n")
	}
	for _, want := range []string{"\nOData-EntityId: ", "\nOData-Version: 4.0"} {
		if !strings.Contains(raw.String(), want) {
			t.Errorf("response lacks %q:\n%s", want, raw.String())
		}
	}

	batch := "--b1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nPOST /api/data/v9.2/phonecalls HTTP/1.1\r\nContent-Type: application/json\r\n\r\n" + body + "\r\n--b1--\r\n"
	r := call(t, srv, "POST", "/api/data/v9.2/$batch", batch, "Content-Type", "multipart/mixed; boundary=b1")
	for _, want := range []string{"\r\nOData-EntityId: ", "\r\nOData-Version: 4.0"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("batch part lacks %q:\n%s", want, r.body)
		}
	}
}

func itoa(n int) string {
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		n /= 10
		if n == 0 {
			return s
		}
	}
}

// A $batch request line whose URL holds raw spaces is read as OData's
// batch reader reads it: the URL is everything between the first and the
// last space.
func TestBatchRequestLinesWithRawSpaces(t *testing.T) {
	_, srv := newServer(t, testOptions())
	createRecord(t, srv, "contacts", `{"firstname":"Ada","lastname":"Lovelace","telephone1":"0299990000"}`)
	batch := "--b1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
		"GET /api/data/v9.2/contacts?$select=fullname&$filter=telephone1 eq '0299990000' HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n--b1--\r\n"
	r := call(t, srv, "POST", "/api/data/v9.2/$batch", batch, "Content-Type", "multipart/mixed; boundary=b1")
	if r.status != 200 || !strings.Contains(string(r.body), "HTTP/1.1 200") || !strings.Contains(string(r.body), "Ada Lovelace") {
		t.Fatalf("%d\n%s", r.status, r.body)
	}
	bad := strings.Replace(batch, " HTTP/1.1", "", 1)
	r = call(t, srv, "POST", "/api/data/v9.2/$batch", bad, "Content-Type", "multipart/mixed; boundary=b1")
	if r.status != 400 {
		t.Fatalf("a request line without a version: %d, want 400\n%s", r.status, r.body)
	}
}

// An upsert by alternate key answers with OData-EntityId in the key form.
func TestUpsertByKeyAnswersWithTheKeyForm(t *testing.T) {
	_, srv := newServer(t, testOptions())
	r := call(t, srv, "PATCH", "/api/data/v9.2/phonecalls(new_agentinteractionid='IX-1')", `{"subject":"x"}`)
	if got := r.header.Get("OData-EntityId"); !strings.HasSuffix(got, "/api/data/v9.2/phonecalls(new_agentinteractionid='IX-1')") {
		t.Fatalf("OData-EntityId %q, want the key form", got)
	}
	id := createRecord(t, srv, "phonecalls", `{"subject":"y"}`)
	r = call(t, srv, "PATCH", "/api/data/v9.2/phonecalls("+id+")", `{"subject":"z"}`)
	if got := r.header.Get("OData-EntityId"); !strings.HasSuffix(got, "phonecalls("+id+")") {
		t.Fatalf("OData-EntityId %q, want the id form", got)
	}
}

// What Dataverse takes and the sandbox does not is refused, in Dataverse's
// error shape, with a message naming the gap.
func TestUnsupportedFeaturesAreRefusedPlainly(t *testing.T) {
	_, srv := newServer(t, testOptions())
	id := createRecord(t, srv, "phonecalls", `{"subject":"y"}`)
	for _, c := range []struct{ method, path, body, msg string }{
		{"PUT", "/api/data/v9.2/phonecalls(" + id + ")/regardingobjectid_contact_phonecall/$ref", `{"@odata.id":"contacts(00000000-0000-0000-0000-000000000001)"}`, "does not support $ref"},
		{"DELETE", "/api/data/v9.2/phonecalls(" + id + ")/regardingobjectid_contact_phonecall/$ref", "", "does not support $ref"},
		{"GET", "/api/data/v9.2/phonecalls?$filter=createdon%20gt%202025-01-01T00:00:00Z", "", "date-time literals"},
		{"GET", "/api/data/v9.2/phonecalls?$filter=Microsoft.Dynamics.CRM.In(PropertyName='subject',PropertyValues=%5B'y'%5D)", "", "query functions"},
	} {
		wantError(t, call(t, srv, c.method, c.path, c.body), http.StatusNotImplemented, "0x80060888", c.msg)
	}
	// A date inside a string literal is just text.
	wantStatus(t, call(t, srv, "GET", "/api/data/v9.2/phonecalls?$filter=subject%20eq%20'2025-01-01'", ""), http.StatusOK)
}
