package phone

import (
	"strings"
	"testing"
)

func newFormatter(t testing.TB, region string) *Formatter {
	t.Helper()
	f, err := NewFormatter(region)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestNewFormatter(t *testing.T) {
	tests := []struct {
		name       string
		region     string
		wantRegion string
		wantErr    string
	}{
		{name: "Australia", region: "AU", wantRegion: "AU"},
		{name: "United Kingdom", region: "GB", wantRegion: "GB"},
		{name: "United States", region: "US", wantRegion: "US"},
		{name: "lower case", region: "nz", wantRegion: "NZ"},
		{name: "UK is not the ISO code", region: "UK", wantErr: `unknown phone region "UK": the ISO 3166-1 code of the United Kingdom is GB`},
		{name: "alpha-3", region: "AUS", wantErr: `unknown phone region "AUS": use an ISO 3166-1 alpha-2 country code such as AU, GB, NZ or US`},
		{name: "unknown code", region: "ZZ", wantErr: `unknown phone region "ZZ"`},
		{name: "non-geographical entity", region: "001", wantErr: `unknown phone region "001"`},
		{name: "empty", region: "", wantErr: `unknown phone region ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFormatter(tt.region)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewFormatter(%q) error = %v, want one containing %q", tt.region, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Region() != tt.wantRegion {
				t.Errorf("Region() = %q, want %q", f.Region(), tt.wantRegion)
			}
		})
	}
}

func TestIsValidRegion(t *testing.T) {
	tests := []struct {
		name   string
		region string
		want   bool
	}{
		{name: "AU", region: "AU", want: true},
		{name: "lower case", region: "gb", want: true},
		{name: "crown dependency", region: "JE", want: true},
		{name: "UK", region: "UK", want: false},
		{name: "unknown", region: "ZZ", want: false},
		{name: "world", region: "001", want: false},
		{name: "empty", region: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsValidRegion(tt.region); got != tt.want {
				t.Errorf("IsValidRegion(%q) = %v, want %v", tt.region, got, tt.want)
			}
		})
	}
}

// formats is one expected answer per format.
type formats struct {
	local, national, e164, international, digits string
}

func (w formats) of(f Format) string {
	switch f {
	case FormatLocal:
		return w.local
	case FormatNational:
		return w.national
	case FormatE164:
		return w.e164
	case FormatInternational:
		return w.international
	default:
		return w.digits
	}
}

var allFormats = []Format{FormatLocal, FormatNational, FormatE164, FormatInternational, FormatDigits}

func TestFormatEachFormat(t *testing.T) {
	tests := []struct {
		name   string
		region string
		raw    string
		want   formats
	}{
		// Numbers of the default region: local is national.
		{name: "AU landline under AU", region: "AU", raw: "+61 2 9999 0000",
			want: formats{"(02) 9999 0000", "(02) 9999 0000", "+61299990000", "+61 2 9999 0000", "0299990000"}},
		{name: "AU mobile under AU", region: "AU", raw: "0412 345 678",
			want: formats{"0412 345 678", "0412 345 678", "+61412345678", "+61 412 345 678", "0412345678"}},
		{name: "AU 1300 number under AU", region: "AU", raw: "1300 123 456",
			want: formats{"1300 123 456", "1300 123 456", "+611300123456", "+61 1300 123 456", "1300123456"}},
		{name: "GB landline under GB", region: "GB", raw: "020 7946 0018",
			want: formats{"020 7946 0018", "020 7946 0018", "+442079460018", "+44 20 7946 0018", "02079460018"}},
		{name: "GB mobile under GB", region: "GB", raw: "+44 7400 123456",
			want: formats{"07400 123456", "07400 123456", "+447400123456", "+44 7400 123456", "07400123456"}},
		{name: "US landline under US", region: "US", raw: "(201) 555-0123",
			want: formats{"(201) 555-0123", "(201) 555-0123", "+12015550123", "+1 201-555-0123", "2015550123"}},
		{name: "US mobile under US", region: "US", raw: "1-415-555-0132",
			want: formats{"(415) 555-0132", "(415) 555-0132", "+14155550132", "+1 415-555-0132", "4155550132"}},
		// Numbers of another country: local is international, national is
		// the number as written in its own country, digits keep the +.
		{name: "GB landline under AU", region: "AU", raw: "+44 20 7946 0018",
			want: formats{"+44 20 7946 0018", "020 7946 0018", "+442079460018", "+44 20 7946 0018", "+442079460018"}},
		{name: "US number under AU", region: "AU", raw: "+1 201 555 0123",
			want: formats{"+1 201-555-0123", "(201) 555-0123", "+12015550123", "+1 201-555-0123", "+12015550123"}},
		{name: "AU mobile under GB", region: "GB", raw: "+61 412 345 678",
			want: formats{"+61 412 345 678", "0412 345 678", "+61412345678", "+61 412 345 678", "+61412345678"}},
		{name: "US mobile under GB", region: "GB", raw: "+1 415 555 0132",
			want: formats{"+1 415-555-0132", "(415) 555-0132", "+14155550132", "+1 415-555-0132", "+14155550132"}},
		{name: "AU landline under US", region: "US", raw: "+61 2 9999 0000",
			want: formats{"+61 2 9999 0000", "(02) 9999 0000", "+61299990000", "+61 2 9999 0000", "+61299990000"}},
		{name: "GB mobile under US", region: "US", raw: "+44 7400 123456",
			want: formats{"+44 7400 123456", "07400 123456", "+447400123456", "+44 7400 123456", "+447400123456"}},
		{name: "China mobile under AU", region: "AU", raw: "+86 138 0013 8000",
			want: formats{"+86 138 0013 8000", "138 0013 8000", "+8613800138000", "+86 138 0013 8000", "+8613800138000"}},
		// Canada shares +1 with the US: local stays national.
		{name: "Canadian number under US", region: "US", raw: "+1 416 555 0123",
			want: formats{"(416) 555-0123", "(416) 555-0123", "+14165550123", "+1 416-555-0123", "4165550123"}},
	}
	for _, tt := range tests {
		f := newFormatter(t, tt.region)
		for _, format := range allFormats {
			t.Run(tt.name+"/"+format.String(), func(t *testing.T) {
				if got, want := f.Format(tt.raw, format), tt.want.of(format); got != want {
					t.Errorf("Format(%q, %s) under %s = %q, want %q", tt.raw, format, tt.region, got, want)
				}
			})
		}
	}
}

func TestFormatReadsCommonWritings(t *testing.T) {
	tests := []struct {
		name     string
		region   string
		raw      string
		wantE164 string
	}{
		{name: "international", region: "AU", raw: "+61 2 9999 0000", wantE164: "+61299990000"},
		{name: "national digits", region: "AU", raw: "0299990000", wantE164: "+61299990000"},
		{name: "national with area code in parentheses", region: "AU", raw: "(02) 9999-0000", wantE164: "+61299990000"},
		{name: "E.164 without plus, as ipSCAPE sends it", region: "AU", raw: "61299990000", wantE164: "+61299990000"},
		{name: "E.164 without plus of another country", region: "AU", raw: "442079460018", wantE164: "+442079460018"},
		{name: "E.164 without plus of AU under GB", region: "GB", raw: "61412345678", wantE164: "+61412345678"},
		{name: "E.164 without plus under US", region: "US", raw: "61299990000", wantE164: "+61299990000"},
		{name: "US number with national prefix 1", region: "US", raw: "12015550123", wantE164: "+12015550123"},
		{name: "tel URI", region: "AU", raw: "tel:+61-2-9999-0000", wantE164: "+61299990000"},
		{name: "tel URI in upper case", region: "AU", raw: "TEL:+61299990000", wantE164: "+61299990000"},
		{name: "tel URI with extension", region: "AU", raw: "tel:+61-2-9999-0000;ext=55", wantE164: "+61299990000"},
		{name: "tel URI with phone context", region: "US", raw: "tel:0299990000;phone-context=+61", wantE164: "+61299990000"},
		{name: "extension with ext.", region: "AU", raw: "02 9999 0000 ext. 123", wantE164: "+61299990000"},
		{name: "extension with x", region: "AU", raw: "02 9999 0000 x12", wantE164: "+61299990000"},
		{name: "international with trunk zero in parentheses", region: "AU", raw: "+44 (0)20 7946 0018", wantE164: "+442079460018"},
		{name: "plus in parentheses", region: "AU", raw: "(+61) 2 9999 0000", wantE164: "+61299990000"},
		{name: "international dialling prefix of AU", region: "AU", raw: "0011 44 20 7946 0018", wantE164: "+442079460018"},
		{name: "international dialling prefix of US", region: "US", raw: "011 61 2 9999 0000", wantE164: "+61299990000"},
		{name: "leading and trailing spaces", region: "AU", raw: "  +61299990000 ", wantE164: "+61299990000"},
		{name: "full-width digits", region: "AU", raw: "０２９９９９００００", wantE164: "+61299990000"},
		{name: "Arabic-Indic digits", region: "AU", raw: "٠٢٩٩٩٩٠٠٠٠", wantE164: "+61299990000"},
		{name: "full-width plus", region: "GB", raw: "＋61 2 9999 0000", wantE164: "+61299990000"},
		{name: "dots as separators", region: "GB", raw: "020.7946.0018", wantE164: "+442079460018"},
		{name: "Argentine mobile with its national transform rule", region: "AR", raw: "011 15-2345-6789", wantE164: "+5491123456789"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFormatter(t, tt.region)
			if got := f.Format(tt.raw, FormatE164); got != tt.wantE164 {
				t.Errorf("Format(%q, e164) under %s = %q, want %q", tt.raw, tt.region, got, tt.wantE164)
			}
		})
	}
}

func TestFormatFallsBackToDigits(t *testing.T) {
	million := strings.Repeat("9", 1<<20)
	tests := []struct {
		name   string
		region string
		raw    string
		want   string // the same in every format
	}{
		{name: "empty", region: "AU", raw: "", want: ""},
		{name: "withheld caller ID", region: "AU", raw: "anonymous", want: ""},
		{name: "words only", region: "GB", raw: "Private Number", want: ""},
		{name: "a lone plus", region: "AU", raw: "+", want: ""},
		{name: "too short", region: "AU", raw: "12", want: "12"},
		{name: "too long for AU keeps the plus", region: "AU", raw: "+61 2 9999 0000 00", want: "+6129999000000"},
		{name: "unknown calling code", region: "AU", raw: "+999 1234 5678", want: "+99912345678"},
		{name: "plus then trunk zero", region: "AU", raw: "+0299990000", want: "+0299990000"},
		{name: "digits past the NSN maximum", region: "US", raw: "+1 201 555 0123 4567 8901 2345", want: "+12015550123456789012345"},
		{name: "quotes around the number", region: "AU", raw: `"0299990000"`, want: "0299990000"},
		{name: "control characters", region: "AU", raw: "02\x009999\x000000", want: "0299990000"},
		{name: "newline injection", region: "AU", raw: "0299990000\r\nX-Header: 1", want: "02999900001"},
		{name: "SQL-ish quote", region: "GB", raw: "0207946' OR 1=1", want: "020794611"},
		{name: "invalid UTF-8", region: "AU", raw: "02\xff9999\xfe0000", want: "0299990000"},
		{name: "short Arabic-Indic number keeps its plus", region: "AU", raw: "+٦١", want: "+61"},
		{name: "mathematical bold and double-struck digits fold to ASCII", region: "AU", raw: "\U0001D7CE\U0001D7D0\U0001D7E1", want: "029"},
		{name: "a million digits are capped at 64", region: "AU", raw: million, want: million[:maxInputRunes]},
		{name: "a long valid-looking prefix is not parsed", region: "AU", raw: "+61299990000" + strings.Repeat(" ", 100), want: "+61299990000"},
	}
	for _, tt := range tests {
		f := newFormatter(t, tt.region)
		for _, format := range allFormats {
			t.Run(tt.name+"/"+format.String(), func(t *testing.T) {
				if got := f.Format(tt.raw, format); got != tt.want {
					t.Errorf("Format(%.40q, %s) = %.80q, want %.80q", tt.raw, format, got, tt.want)
				}
			})
		}
	}
}

func TestFormatUnknownFormatIsE164(t *testing.T) {
	f := newFormatter(t, "AU")
	if got := f.Format("0299990000", Format(0)); got != "+61299990000" {
		t.Errorf("Format with Format(0) = %q, want +61299990000", got)
	}
}

// TestFormatOutputAlphabet holds e164 and digits to ASCII digits and one
// leading +, whatever the input, since they go into queries unquoted.
func TestFormatOutputAlphabet(t *testing.T) {
	inputs := []string{
		"+61 2 9999 0000", "0299990000 ext. 123", "tel:+1-201-555-0123;ext=9", "1-800-FLOWERS",
		"++61299990000", "+61+2+9999", "٠٢٩٩٩٩٠٠٠٠", "\x00+\x0061", "+\u202e61299990000", "🙂0299990000",
		strings.Repeat("+1", 100), strings.Repeat("٣", 200),
	}
	for _, region := range []string{"AU", "GB", "US"} {
		f := newFormatter(t, region)
		for _, raw := range inputs {
			for _, format := range []Format{FormatE164, FormatDigits} {
				t.Run(region+"/"+format.String()+"/"+raw[:min(len(raw), 20)], func(t *testing.T) {
					if got := f.Format(raw, format); !plusAndDigits(got) {
						t.Errorf("Format(%q, %s) = %q, want only a leading + and ASCII digits", raw, format, got)
					}
				})
			}
		}
	}
}

func plusAndDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] == '+' && i == 0) {
			return false
		}
	}
	return true
}

func TestFormatterIsSafeForConcurrentUse(t *testing.T) {
	f := newFormatter(t, "AU")
	inputs := []string{"+61 2 9999 0000", "442079460018", "+1 201 555 0123", "0011 44 20 7946 0018", "+54 9 11 2345-6789", "+7 912 345-67-89"}
	want := make([]string, len(inputs))
	for i, raw := range inputs {
		want[i] = f.Format(raw, FormatInternational)
	}
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			// A fresh formatter also races the lazy compilation of plans.
			g := newFormatter(t, "GB")
			for i := 0; i < 50; i++ {
				for j, raw := range inputs {
					if got := f.Format(raw, FormatInternational); got != want[j] {
						t.Errorf("concurrent Format(%q) = %q, want %q", raw, got, want[j])
					}
					_ = g.Format(raw, FormatLocal)
				}
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}
