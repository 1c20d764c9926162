package phone

import (
	"slices"
	"strings"
	"testing"
)

func TestVariants(t *testing.T) {
	tests := []struct {
		name, region, raw string
		want              []string
	}{
		{name: "AU landline from E.164 without +", region: "AU", raw: "61299990000", want: []string{
			"(02) 9999 0000", "0299990000", "+61299990000", "+61 2 9999 0000", "61299990000", "02 9999 0000", "02-9999-0000",
			"(02) 9999-0000", "+61 (0)2 9999 0000", "61 2 9999 0000", "02.9999.0000", "+61-2-9999-0000", "299990000"}},
		{name: "AU mobile", region: "AU", raw: "0412 345 678", want: []string{
			"0412 345 678", "0412345678", "+61412345678", "+61 412 345 678", "61412345678", "0412-345-678", "(0412) 345-678",
			"(0412) 345 678", "+61 (0)412 345 678", "61 412 345 678", "0412.345.678", "+61-412-345-678", "412345678"}},
		{name: "GB London, with the 00 prefix GB dials", region: "GB", raw: "+44 20 7946 0018", want: []string{
			"020 7946 0018", "02079460018", "+442079460018", "+44 20 7946 0018", "442079460018", "020-7946-0018", "(020) 7946-0018",
			"(020) 7946 0018", "+44 (0)20 7946 0018", "44 20 7946 0018", "020.7946.0018", "+44-20-7946-0018", "2079460018", "00442079460018"}},
		{name: "US: no trunk prefix, +1 before the national format", region: "US", raw: "+1 201-555-0123", want: []string{
			"(201) 555-0123", "2015550123", "+12015550123", "+1 201-555-0123", "12015550123", "201 555 0123", "201-555-0123",
			"(201) 555 0123", "1 201-555-0123", "201.555.0123", "+1-201-555-0123", "+1 (201) 555-0123"}},
		{name: "CA shares the North American plan", region: "CA", raw: "4165550199", want: []string{
			"(416) 555-0199", "4165550199", "+14165550199", "+1 416-555-0199", "14165550199", "416 555 0199", "416-555-0199",
			"(416) 555 0199", "1 416-555-0199", "416.555.0199", "+1-416-555-0199", "+1 (416) 555-0199"}},
		{name: "NZ mobile", region: "NZ", raw: "021 123 4567", want: []string{
			"021 123 4567", "0211234567", "+64211234567", "+64 21 123 4567", "64211234567", "021-123-4567", "(021) 123-4567",
			"(021) 123 4567", "+64 (0)21 123 4567", "64 21 123 4567", "021.123.4567", "+64-21-123-4567", "211234567", "0064211234567"}},
		{name: "a GB number calling AU: local (international) first, then GB's own writings", region: "AU", raw: "442079460018", want: []string{
			"+44 20 7946 0018", "020 7946 0018", "02079460018", "+442079460018", "442079460018", "020-7946-0018", "(020) 7946-0018",
			"(020) 7946 0018", "+44 (0)20 7946 0018", "44 20 7946 0018", "020.7946.0018", "+44-20-7946-0018", "2079460018", "00442079460018"}},
		{name: "read by the library: tel URI with an extension", region: "AU", raw: "tel:+61-2-9999-0000;ext=5", want: []string{
			"(02) 9999 0000", "0299990000", "+61299990000", "+61 2 9999 0000", "61299990000", "02 9999 0000", "02-9999-0000",
			"(02) 9999-0000", "+61 (0)2 9999 0000", "61 2 9999 0000", "02.9999.0000", "+61-2-9999-0000", "299990000"}},
		{name: "not a phone number: its digits", region: "AU", raw: "1234", want: []string{"1234"}},
		{name: "withheld", region: "AU", raw: "anonymous", want: nil},
		{name: "empty", region: "AU", raw: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFormatter(t, tt.region)
			got := f.Variants(tt.raw)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Variants(%q) under %s =\n%q\nwant\n%q", tt.raw, tt.region, got, tt.want)
			}
			if len(got) > 0 && got[0] != f.Format(tt.raw, FormatLocal) {
				t.Errorf("first variant %q is not the local format %q", got[0], f.Format(tt.raw, FormatLocal))
			}
		})
	}
}

// TestVariantsAreTheSameNumber reads every writing back in the number's own
// region: each must be the number it came from, or the expansion would find
// other people's records.
func TestVariantsAreTheSameNumber(t *testing.T) {
	numbers := map[string][]string{
		"AU": {"+61299990000", "+61412345678", "+61733331234", "+61881234567", "+61131450", "+611300655506"},
		"GB": {"+442079460018", "+447400123456", "+441214960000", "+448001111111"},
		"US": {"+12015550123", "+14155550132", "+18005550199"},
		"NZ": {"+6493091234", "+64211234567", "+6448011234"},
		"IE": {"+35312345678"}, "DE": {"+4930123456", "+4915123456789"}, "FR": {"+33123456789", "+33612345678"},
		"IT": {"+390612345678"}, "ES": {"+34912345678"}, "ZA": {"+27211234567"}, "SG": {"+6561234567"},
	}
	for region, list := range numbers {
		f := newFormatter(t, region)
		for _, n := range list {
			want := f.Format(n, FormatE164)
			vs := f.Variants(n)
			if len(vs) < 2 {
				t.Errorf("%s %s: only %q", region, n, vs)
			}
			for _, v := range vs {
				// E.164 without its + is ambiguous in some regions
				// (4915123456789 is also a possible German national
				// number); it is kept because telephony platforms send it.
				if region == "DE" && strings.HasPrefix(v, "49") {
					continue
				}
				if got := f.Format(v, FormatE164); got != want {
					t.Errorf("%s: variant %q of %s reads as %s", region, v, n, got)
				}
			}
		}
	}
}

// FuzzVariants holds Variants to its promises on any input: no panic, at
// most MaxVariants writings, no repeats, none empty, the first the local
// format, and only digits, spaces and + ( ) - . in them.
func FuzzVariants(f *testing.F) {
	for _, seed := range []string{
		"+61 2 9999 0000", "0299990000", "61299990000", "tel:+61-2-9999-0000;ext=5", "442079460018",
		"+1 (201) 555-0123", "0011 44 20 7946 0018", "+54 9 11 2345-6789", "1300 123 456", "anonymous", "٠٢٩٩٩٩٠٠٠٠",
		"'; drop--", "+61 2 9999 0000' or 1 eq 1", strings.Repeat("9", 70),
	} {
		f.Add(seed, uint8(0))
	}
	regions := []string{"AU", "GB", "US", "NZ", "AR", "DE"}
	formatters := make([]*Formatter, len(regions))
	for i, r := range regions {
		formatters[i] = newFormatter(f, r)
	}
	f.Fuzz(func(t *testing.T, raw string, which uint8) {
		fm := formatters[int(which)%len(formatters)]
		vs := fm.Variants(raw)
		if len(vs) > MaxVariants {
			t.Fatalf("%d variants", len(vs))
		}
		local := fm.Format(raw, FormatLocal)
		if (local == "") != (len(vs) == 0) || len(vs) > 0 && vs[0] != local {
			t.Fatalf("Variants(%q) = %q; local format %q", raw, vs, local)
		}
		for i, v := range vs {
			if v == "" || slices.Contains(vs[:i], v) {
				t.Fatalf("Variants(%q) = %q: empty or repeated writing", raw, vs)
			}
			if strings.Trim(v, "0123456789 +()-.") != "" {
				t.Fatalf("Variants(%q): writing %q has other characters", raw, v)
			}
		}
	})
}
