package dataverse

import (
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/odata"
)

func TestEncodeQuery(t *testing.T) {
	tests := []struct {
		name        string
		raw         string
		want        string
		wantDropped bool
		wantErr     string
	}{
		{name: "empty", raw: "", want: ""},
		{name: "only a question mark", raw: "?", want: ""},
		{name: "without leading question mark", raw: "$top=1", want: "?$top=1"},
		{
			name: "raw spaces become %20",
			raw:  "?$select=fullname,telephone1&$filter=telephone1 eq '0299990000'",
			want: "?$select=fullname,telephone1&$filter=telephone1%20eq%20'0299990000'",
		},
		{
			name: "already encoded input is not encoded twice",
			raw:  "?$filter=telephone1%20eq%20'0299990000'",
			want: "?$filter=telephone1%20eq%20'0299990000'",
		},
		{
			name: "escaped ampersand, plus and dollar in a literal stay escaped",
			raw:  "?$filter=name eq 'A %26 B %2B C %24'",
			want: "?$filter=name%20eq%20'A%20%26%20B%20%2B%20C%20$'",
		},
		{
			name: "a raw plus is a space, as Dataverse reads a query string",
			raw:  "?$filter=fullname eq 'Ann+Lee' and mobilephone eq '%2B61412345678'",
			want: "?$filter=fullname%20eq%20'Ann%20Lee'%20and%20mobilephone%20eq%20'%2B61412345678'",
		},
		{
			name: "doubled quotes and functions",
			raw:  "?$filter=contains(lastname,'O''Bryan') and not startswith(firstname,'x')",
			want: "?$filter=contains(lastname,'O''Bryan')%20and%20not%20startswith(firstname,'x')",
		},
		{
			name: "nested expand options keep their readable characters",
			raw:  "?$expand=parentcustomerid_account($select=name;$top=1)",
			want: "?$expand=parentcustomerid_account($select%3Dname%3B$top%3D1)",
		},
		{
			name: "non-ASCII is UTF-8 percent-encoded",
			raw:  "?$filter=lastname eq 'Müller'",
			want: "?$filter=lastname%20eq%20'M%C3%BCller'",
		},
		{
			name: "encoded hash and question mark in a value cannot end the query",
			raw:  "?$filter=name eq 'a%23b?c'",
			want: "?$filter=name%20eq%20'a%23b%3Fc'",
		},
		{name: "raw hash", raw: "?$filter=name eq 'a#b'", wantErr: "a raw # at byte 10 would end the URL"},
		{name: "raw control character", raw: "?$filter=name eq 'a\nb'", wantErr: "control character 0x0a"},
		{
			name:        "$search is dropped",
			raw:         "?$select=fullname&$search=0299990000&$top=5",
			want:        "?$select=fullname&$top=5",
			wantDropped: true,
		},
		{name: "$search alone leaves nothing", raw: "?$search=ann", want: "", wantDropped: true},
		{name: "empty options are skipped", raw: "?&$top=1&&", want: "?$top=1"},
		{name: "option without value", raw: "?$count", want: "?$count"},
		{name: "bad escape", raw: "?$filter=name eq '100%'", wantErr: `"%'" at byte 12 is not a percent escape`},
		{name: "truncated escape", raw: "?$filter=a%2", wantErr: "not a percent escape"},
		{name: "duplicate option", raw: "?$filter=a eq 1&$filter=b eq 2", wantErr: "$filter is given more than once"},
		{name: "option without name", raw: "?=x", wantErr: "no name before '='"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, dropped, err := encodeQuery(tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("encodeQuery(%q) error = %v, want %q", tt.raw, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("encodeQuery(%q): %v", tt.raw, err)
			}
			if got != tt.want || dropped != tt.wantDropped {
				t.Errorf("encodeQuery(%q) = %q, %v\nwant               %q, %v", tt.raw, got, dropped, tt.want, tt.wantDropped)
			}
		})
	}
}

// TestEncodeQueryAgreesWithODataParser: what the sandbox (and the config
// loader) reads from the client's wire form is what they read from the
// query the engine handed over, less $search.
func TestEncodeQueryAgreesWithODataParser(t *testing.T) {
	tests := []struct{ name, raw string }{
		{name: "screen pop by phone", raw: "?$select=fullname,telephone1&$filter=telephone1 eq '0299990000' or mobilephone eq '0299990000'&$top=5"},
		{name: "search page query", raw: "?$select=fullname&$search=0299990000"},
		{name: "escaped specials", raw: "?$filter=contains(name,'A %26 B %2B C') and startswith(lastname,'O''Br')"},
		{name: "plus as space", raw: "?$filter=fullname eq 'Ann+Lee'"},
		{name: "navigation and order", raw: "?$select=name&$filter=parentcustomerid_account/name ne null&$orderby=name desc&$count=true"},
		{name: "unicode", raw: "?$filter=lastname eq 'Müller'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := odata.ParseQuery(tt.raw)
			if err != nil {
				t.Fatalf("odata.ParseQuery(%q): %v", tt.raw, err)
			}
			encoded, _, err := encodeQuery(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			got, err := odata.ParseQuery(encoded)
			if err != nil {
				t.Fatalf("odata.ParseQuery(%q) of the wire form: %v", encoded, err)
			}
			if got.Encode() != want.WithoutSearch().Encode() {
				t.Errorf("wire form %q reads as %q, want %q", encoded, got.Encode(), want.WithoutSearch().Encode())
			}
		})
	}
}

// FuzzEncodeQuery: whatever the input, the output is a clean query string
// whose options decode back to the input's options, and encoding is
// idempotent.
func FuzzEncodeQuery(f *testing.F) {
	for _, s := range []string{
		"?$select=fullname&$filter=telephone1 eq '0299990000'",
		"?$filter=name eq 'A %26 B'&$top=5&$search=x",
		"$expand=a($select=b;$top=1)",
		"?%zz", "?a=b=c", "?ü=ü", "?&&", "?$count",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, _, err := encodeQuery(raw)
		if err != nil {
			return
		}
		for i := 0; i < len(got); i++ {
			c := got[i]
			if c <= ' ' || c >= 0x7f || strings.IndexByte("#\"<>\\^`{|}[]+;", c) >= 0 {
				t.Fatalf("encodeQuery(%q) = %q has %q at %d", raw, got, c, i)
			}
		}
		if want, perr := odata.ParseQuery(raw); perr == nil {
			read, perr := odata.ParseQuery(got)
			if perr != nil || read.Encode() != want.WithoutSearch().Encode() {
				t.Fatalf("odata reads %q as %v (%v), but the wire form %q differently", raw, want, perr, got)
			}
		}
		again, _, err := encodeQuery(got)
		if err != nil || again != got {
			t.Fatalf("encodeQuery is not idempotent: %q -> %q -> %q (%v)", raw, got, again, err)
		}
		// Each option decodes back to what the input said.
		want := map[string]string{}
		for opt := range strings.SplitSeq(strings.TrimPrefix(raw, "?"), "&") {
			if opt == "" {
				continue
			}
			k, v, _ := strings.Cut(opt, "=")
			k, _ = percentDecode(k)
			v, _ = percentDecode(v)
			if !strings.EqualFold(k, "$search") {
				want[k] = v
			}
		}
		gotOpts := map[string]string{}
		for opt := range strings.SplitSeq(strings.TrimPrefix(got, "?"), "&") {
			if opt == "" {
				continue
			}
			k, v, _ := strings.Cut(opt, "=")
			k, _ = percentDecode(k)
			v, _ = percentDecode(v)
			gotOpts[k] = v
		}
		if len(want) != len(gotOpts) {
			t.Fatalf("encodeQuery(%q) = %q: options %v, want %v", raw, got, gotOpts, want)
		}
		for k, v := range want {
			if gotOpts[k] != v {
				t.Fatalf("encodeQuery(%q) = %q: %s = %q, want %q", raw, got, k, gotOpts[k], v)
			}
		}
	})
}

func TestRefPath(t *testing.T) {
	tests := []struct {
		name    string
		ref     Ref
		want    string
		wantErr string
	}{
		{name: "by id", ref: ByID("contacts", contactID), want: "contacts(" + contactID + ")"},
		{name: "by braced upper-case id", ref: ByID("contacts", "{0D4B6A4E-1B2C-4D5E-8F90-A1B2C3D4E5F6}"), want: "contacts(" + contactID + ")"},
		{name: "by key", ref: ByKey("phonecalls", "new_agentinteractionid", "IX-1"), want: "phonecalls(new_agentinteractionid='IX-1')"},
		{name: "key with a quote", ref: ByKey("accounts", "accountnumber", "O'Bryan"), want: "accounts(accountnumber='O''Bryan')"},
		{name: "key with a space, quote and brackets", ref: ByKey("accounts", "accountnumber", "a b'c(d)=e"), want: "accounts(accountnumber='a%20b''c%28d%29%3De')"},
		{name: "key Dataverse cannot address (slash)", ref: ByKey("accounts", "accountnumber", "a/b"), wantErr: "cannot address"},
		{name: "key Dataverse cannot address (plus)", ref: ByKey("accounts", "accountnumber", "a+b"), wantErr: "cannot address"},
		{name: "key with non-ASCII", ref: ByKey("accounts", "accountnumber", "é"), want: "accounts(accountnumber='%C3%A9')"},
		{name: "nothing set", ref: Ref{EntitySet: "contacts"}, wantErr: "no record given"},
		{name: "both set", ref: Ref{EntitySet: "contacts", ID: contactID, KeyColumn: "a", KeyValue: "b"}, wantErr: "not both"},
		{name: "bad id", ref: ByID("contacts", "12345"), wantErr: `ID: "12345" is not a GUID`},
		{name: "bad entity set", ref: ByID("con tacts", contactID), wantErr: "EntitySet:"},
		{name: "entity set starting with a digit", ref: ByID("1contacts", contactID), wantErr: "EntitySet:"},
		{name: "bad key column", ref: ByKey("contacts", "a'b", "x"), wantErr: "KeyColumn:"},
		{name: "empty key value", ref: ByKey("contacts", "emailaddress1", ""), wantErr: "KeyValue: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ref.path()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("path() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("path() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestBindAndEntityID(t *testing.T) {
	if got := Bind("contacts", "{"+contactID+"}"); got != "/contacts("+contactID+")" {
		t.Errorf("Bind = %q", got)
	}
	tests := []struct {
		name    string
		header  string
		want    string
		wantErr bool
	}{
		{name: "absolute", header: "https://org.crm.dynamics.com/api/data/v9.2/contacts(" + contactID + ")", want: contactID},
		{name: "upper case", header: "https://x/api/data/v9.2/contacts(0D4B6A4E-1B2C-4D5E-8F90-A1B2C3D4E5F6)", want: contactID},
		{name: "alternate key form", header: "https://x/api/data/v9.2/phonecalls(new_agentinteractionid='IX-1')", wantErr: true},
		{name: "absent", header: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := idFromEntityID(tt.header)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("idFromEntityID(%q) = %q, %v; want %q, error %v", tt.header, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPrimaryIDColumn(t *testing.T) {
	tests := []struct{ name, set, want string }{
		{name: "regular plural", set: "contacts", want: "contactid"},
		{name: "ies plural", set: "opportunities", want: "opportunityid"},
		{name: "sses plural", set: "customeraddresses", want: "customeraddressid"},
		{name: "activity", set: "phonecalls", want: "activityid"},
		{name: "task", set: "tasks", want: "activityid"},
		{name: "custom table", set: "new_interactions", want: "new_interactionid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := primaryIDColumn(tt.set); got != tt.want {
				t.Errorf("primaryIDColumn(%q) = %q, want %q", tt.set, got, tt.want)
			}
		})
	}
}
