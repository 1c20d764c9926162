package phone

import (
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// differentialRegions are the default regions the compiled path is checked
// under: the three this product ships for, and regions whose numbering
// plans exercise the unusual parts of the algorithm (transform rules in AR,
// MX and BR, Italian leading zeros, calling codes shared by many regions in
// +1 and +7, the UK's crown dependencies, IDDs that are not 00).
var differentialRegions = []string{
	"AU", "GB", "US", "CA", "NZ", "AR", "MX", "BR", "IT", "DE", "FR", "RU", "KZ",
	"JE", "IN", "CN", "JP", "SG", "ZA", "CO", "FI", "HU",
}

// exampleInputs writes the library's example number of every type of every
// region in the ways callers write numbers, plus versions one digit short
// and one digit long, so both the valid and the fallback paths are covered.
func exampleInputs() []string {
	types := []phonenumbers.PhoneNumberType{
		phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE,
		phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.VOIP,
		phonenumbers.PERSONAL_NUMBER, phonenumbers.PAGER, phonenumbers.UAN, phonenumbers.VOICEMAIL,
	}
	regions := make([]string, 0, len(phonenumbers.GetSupportedRegions()))
	for r := range phonenumbers.GetSupportedRegions() {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	var inputs []string
	for _, r := range regions {
		for _, typ := range types {
			n := phonenumbers.GetExampleNumberForType(r, typ)
			if n == nil {
				continue
			}
			e164 := phonenumbers.Format(n, phonenumbers.E164)
			inputs = append(inputs,
				e164,
				e164[1:],
				phonenumbers.Format(n, phonenumbers.INTERNATIONAL),
				phonenumbers.Format(n, phonenumbers.NATIONAL),
				e164[:len(e164)-1],
				e164+"5",
				"0"+e164[1:],
				"00"+e164[1:],
				"011 "+e164[1:],
			)
		}
	}
	return inputs
}

func TestCompiledPathAgreesWithLibrary(t *testing.T) {
	inputs := exampleInputs()
	regions := differentialRegions
	if testing.Short() || raceEnabled {
		// The library path is slow, and ten times slower under the race
		// detector: check the shipped regions on a sample of the inputs
		// (every seventh, which still spans every region and writing).
		// The full run is the plain `go test`.
		regions = regions[:3]
		var sample []string
		for i := 0; i < len(inputs); i += 7 {
			sample = append(sample, inputs[i])
		}
		inputs = sample
	}
	formats := []Format{FormatLocal, FormatNational, FormatE164, FormatInternational, FormatDigits}
	for _, region := range regions {
		t.Run(region, func(t *testing.T) {
			f, err := NewFormatter(region)
			if err != nil {
				t.Fatal(err)
			}
			mismatches := 0
			for _, raw := range inputs {
				var in input
				in.scan(raw)
				if !in.simple || in.numDigits < 3 {
					t.Fatalf("example input %q does not take the compiled path", raw)
				}
				// Read once, format five times: formatWithLibrary
				// without the repeated parse.
				num := f.libraryRead(&in)
				for _, format := range formats {
					compiled := f.formatCompiled(&in, format)
					library := in.fallback()
					if num != nil {
						library = f.libraryFormat(num, format)
					}
					if compiled != library {
						mismatches++
						if mismatches <= 10 {
							t.Errorf("Format(%q, %s) under %s: compiled %q, library %q", raw, format, region, compiled, library)
						}
					}
				}
			}
			if mismatches > 10 {
				t.Errorf("%d mismatches in all under %s", mismatches, region)
			}
		})
	}
}

// TestCompiledPathCoversExamples guards the differential test itself: if
// the corpus shrank (say the library stopped giving example numbers), the
// agreement above would prove nothing.
func TestCompiledPathCoversExamples(t *testing.T) {
	inputs := exampleInputs()
	if len(inputs) < 5000 {
		t.Fatalf("only %d example inputs, want thousands", len(inputs))
	}
	f, err := NewFormatter("AU")
	if err != nil {
		t.Fatal(err)
	}
	formatted := 0
	for _, raw := range inputs {
		var in input
		in.scan(raw)
		if got := f.formatCompiled(&in, FormatInternational); strings.Contains(got, " ") {
			formatted++
		}
	}
	if formatted < len(inputs)/3 {
		t.Errorf("only %d of %d inputs read as numbers, want most", formatted, len(inputs))
	}
}

// TestPlansCoverEveryCallingCode checks the assumption the compiled path
// rests on: every calling code the library accepts has metadata for each of
// its regions, main region first, so reading never meets a code the
// library would read differently.
func TestPlansCoverEveryCallingCode(t *testing.T) {
	ps := loadPlans()
	for code := range phonenumbers.GetSupportedCallingCodes() {
		regions := phonenumbers.GetRegionCodesForCountryCode(code)
		cc := ps.byCode[code]
		if cc == nil || len(cc.regions) != len(regions) {
			t.Errorf("calling code %d: regions %v, compiled %v", code, regions, cc)
			continue
		}
		for i, lp := range cc.regions {
			p := lp.get()
			if p.region != regions[i] || p.countryCode != code {
				t.Errorf("calling code %d region %d: compiled %s/+%d, want %s", code, i, p.region, p.countryCode, regions[i])
			}
			if len(p.possibleLengths) == 0 && p.generalPattern != "" {
				t.Errorf("region %s has a general pattern but no possible lengths", p.region)
			}
		}
	}
	for region := range phonenumbers.GetSupportedRegions() {
		if ps.regionPlan(region) == nil {
			t.Errorf("supported region %s has no plan", region)
		}
	}
}
