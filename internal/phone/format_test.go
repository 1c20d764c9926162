package phone

import (
	"slices"
	"strings"
	"testing"
)

func TestParseFormat(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    Format
		wantErr string
	}{
		{name: "local", input: "local", want: FormatLocal},
		{name: "national", input: "national", want: FormatNational},
		{name: "e164", input: "e164", want: FormatE164},
		{name: "international", input: "international", want: FormatInternational},
		{name: "digits", input: "digits", want: FormatDigits},
		{name: "variants", input: "variants", want: FormatVariants},
		{name: "upper case", input: "E164", want: FormatE164},
		{name: "mixed case", input: "International", want: FormatInternational},
		{name: "dotted spelling is not a format", input: "e.164", wantErr: `unknown phone format "e.164": use one of local, national, e164, international, digits, variants`},
		{name: "empty", input: "", wantErr: `unknown phone format "": use one of`},
		{name: "surrounding space is not trimmed", input: " local", wantErr: `unknown phone format " local"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFormat(tt.input)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseFormat(%q) = %v, %v; want error containing %q", tt.input, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseFormat(%q) = %v, %v; want %v", tt.input, got, err, tt.want)
			}
		})
	}
}

func TestFormatStringRoundTrips(t *testing.T) {
	names := FormatNames()
	if want := []string{"local", "national", "e164", "international", "digits", "variants"}; !slices.Equal(names, want) {
		t.Fatalf("FormatNames() = %v, want %v", names, want)
	}
	for _, name := range names {
		f, err := ParseFormat(name)
		if err != nil {
			t.Fatal(err)
		}
		if f.String() != name {
			t.Errorf("ParseFormat(%q).String() = %q", name, f.String())
		}
	}
	names[0] = "changed"
	if FormatNames()[0] != "local" {
		t.Error("FormatNames returns the package's own slice; callers can change it")
	}
	if got := Format(0).String(); got != "Format(0)" {
		t.Errorf("Format(0).String() = %q, want Format(0)", got)
	}
}
