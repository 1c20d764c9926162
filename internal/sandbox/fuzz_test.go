package sandbox

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// FuzzTranslateFilter checks that no filter text reaches the SQL: every
// value is a bound parameter (one ? per argument) and the statement holds
// no quote that a literal could have brought in.
func FuzzTranslateFilter(f *testing.F) {
	for _, seed := range []string{
		"telephone1 eq '0299990000'",
		"lastname eq '''; DROP TABLE contacts; --'",
		"contains(fullname,'50%') or not (mobilephone eq null)",
		"parentcustomerid_account/name eq 'x' and donotphone",
		"_parentcustomerid_value eq 00000000-0000-0000-0000-000000000001",
		"statecode ge 1 and statuscode lt 3.5",
		"startswith(telephone1,'+61') and endswith(emailaddress1,'.org')",
	} {
		f.Add(seed)
	}
	sch, err := newSchema([]string{"new_wrapcode"}, "new_agentinteractionid", nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	contact := sch.table("contact")
	f.Fuzz(func(t *testing.T, filter string) {
		sql, args, err := translateFilter(sch, contact, "t0", filter)
		if err != nil {
			return
		}
		if n := strings.Count(sql, "?"); n != len(args) {
			t.Fatalf("%q: %d placeholders for %d arguments in %s", filter, n, len(args), sql)
		}
		if strings.ContainsAny(sql, "';") {
			t.Fatalf("%q: the SQL holds a quote or semicolon: %s", filter, sql)
		}
	})
}

func FuzzParseKeyPredicate(f *testing.F) {
	for _, seed := range []string{"new_key='IX-1'", "a='x',b=5", "k='O''Brien'", "='x'", "k='"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pairs, err := parseKeyPredicate(s)
		if err == nil && len(pairs) == 0 {
			t.Fatalf("%q parsed to no pairs without an error", s)
		}
	})
}

func FuzzSplitPath(f *testing.F) {
	for _, seed := range []string{"contacts(00000000-0000-0000-0000-000000000001)/fullname", "phonecalls(k='a/b')", "a(b", "x'"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		segs, err := splitPath(s)
		if err != nil {
			return
		}
		for _, seg := range segs {
			if seg.name == "" && !seg.hasKey {
				t.Fatalf("%q gave an empty segment", s)
			}
		}
	})
}

func FuzzMatchLike(f *testing.F) {
	f.Add("Grace Whitfield", "%whit%")
	f.Add("[abc", "[a-")
	f.Fuzz(func(t *testing.T, value, pattern string) {
		if !matchLike(value, "%") {
			t.Fatalf("%% does not match %q", value)
		}
		if !strings.ContainsAny(value, "%_[") && !matchLike(value, value) {
			t.Fatalf("%q does not match itself", value)
		}
		matchLike(value, pattern)
	})
}

func FuzzParseBatch(f *testing.F) {
	f.Add("--b\r\nContent-Type: application/http\r\n\r\nGET contacts HTTP/1.1\r\n\r\n\r\n--b--\r\n")
	f.Add("--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\nPOST contacts HTTP/1.1\r\n\r\n{}\r\n--c--\r\n--b--\r\n")
	f.Fuzz(func(t *testing.T, body string) {
		items, err := parseBatch("multipart/mixed; boundary=b", []byte(body))
		if err == nil && len(items) == 0 {
			t.Fatal("no items without an error")
		}
	})
}

// FuzzParseQueryString checks the query-string parser against the
// encoder: values survive a round trip through url.QueryEscape whatever
// they hold (';', '&', '+', '%', quotes), and no input panics.
func FuzzParseQueryString(f *testing.F) {
	for _, seed := range []string{
		"$filter=lastname%20eq%20'zz;z'", "$expand=x($select=a;$top=1)&$top=2", "a+b=c+d", "%24top=1&%24top=2",
		"$filter=telephone1 eq '%2B61'", "=&&=", "%zz", "k=%", "a=b=c",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		values, err := parseQueryString(raw)
		if err != nil {
			return
		}
		for name, list := range values {
			var parts []string
			for _, v := range list {
				parts = append(parts, url.QueryEscape(name)+"="+url.QueryEscape(v))
			}
			again, err := parseQueryString(strings.Join(parts, "&"))
			if err != nil {
				t.Fatalf("%q: re-encoded %q fails: %v", raw, name, err)
			}
			if !slices.Equal(again[name], list) {
				t.Fatalf("%q: %q = %q, after a round trip %q", raw, name, list, again[name])
			}
		}
	})
}
