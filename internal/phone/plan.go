package phone

import (
	"regexp"
	"strconv"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// This file compiles phonenumbers' metadata into numbering plans whose
// regular expressions are built once. Each expression is anchored the way
// the library applies it (it prepends ^(?: and appends )$ on every call);
// the comments name the library function each piece mirrors.

// plan is one region's compiled metadata (a PhoneMetadata), or a
// non-geographical calling code's (region "001").
type plan struct {
	region      string
	countryCode int
	ccText      string

	// general is the general description: ^(?:pattern)$, and the lengths
	// testNumberLength uses.
	general          *regexp.Regexp
	generalPattern   string
	possibleLengths  []int32
	localOnlyLengths []int32

	// types are the number types getNumberTypeHelper tries, in its order,
	// for the one question we ask: is the type known at all.
	types              []numberDesc
	fixedLine, mobile  *numberDesc
	sameMobileAndFixed bool

	// leadingDigits tells regions sharing a calling code apart: ^(?:ld).
	leadingDigits *regexp.Regexp
	// internationalPrefix is the region's IDD (0011 in AU): ^(?:idd).
	internationalPrefix *regexp.Regexp
	// nationalPrefix is ^(?:national prefix for parsing), nil when none;
	// nationalPrefixTransform its replacement rule, if any.
	nationalPrefix          *regexp.Regexp
	nationalPrefixTransform string

	nationalFormats []numberFormat
	intlFormats     []numberFormat
}

type numberDesc struct {
	lengths []int32
	pattern *regexp.Regexp
}

// matches is isNumberMatchingDesc: a possible length, then the pattern.
func (d *numberDesc) matches(nsn string) bool {
	if len(d.lengths) > 0 && !containsLength(d.lengths, len(nsn)) {
		return false
	}
	return d.pattern.MatchString(nsn)
}

func containsLength(lengths []int32, n int) bool {
	for _, l := range lengths {
		if int(l) == n {
			return true
		}
	}
	return false
}

type numberFormat struct {
	// leading is the last (most detailed) leading-digits pattern: ^(?:ld).
	leading *regexp.Regexp
	// full decides whether the format applies: ^(?:pattern)$.
	full *regexp.Regexp
	// pattern is the unanchored pattern the library replaces with.
	pattern *regexp.Regexp
	// matchesEmpty is true if pattern can match "", when replacing is not a
	// single expansion and the library's ReplaceAll is used as is.
	matchesEmpty bool
	template     string
	// nationalTemplate is template with its first group replaced by the
	// national prefix formatting rule ((0$1) in AU), as
	// formatNsnUsingPatternWithCarrier does for NATIONAL.
	nationalTemplate string
}

// callingCode is the regions of one country calling code, main region
// first, each compiled on first use.
type callingCode struct {
	code    int
	regions []*lazyPlan
}

type lazyPlan struct {
	once sync.Once
	meta *phonenumbers.PhoneMetadata
	plan *plan
}

func (l *lazyPlan) get() *plan {
	l.once.Do(func() { l.plan = compilePlan(l.meta) })
	return l.plan
}

// plans indexes the library's metadata by calling code and by region. It is
// built once and never changes afterwards; only the lazily compiled plans
// fill in, each under its own sync.Once.
type plans struct {
	byCode   map[int]*callingCode
	byRegion map[string]*lazyPlan
}

var loadPlans = sync.OnceValue(func() *plans {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		// The metadata is embedded in the library, which already panics
		// at init if it cannot load it.
		panic("phone: phonenumbers metadata: " + err.Error())
	}
	geo := make(map[string]*phonenumbers.PhoneMetadata)
	nonGeo := make(map[int]*phonenumbers.PhoneMetadata)
	for _, m := range coll.GetMetadata() {
		if m.GetId() == "001" {
			nonGeo[int(m.GetCountryCode())] = m
		} else {
			geo[m.GetId()] = m
		}
	}
	ps := &plans{byCode: make(map[int]*callingCode), byRegion: make(map[string]*lazyPlan)}
	for code := range phonenumbers.GetSupportedCallingCodes() {
		cc := &callingCode{code: code}
		for _, region := range phonenumbers.GetRegionCodesForCountryCode(code) {
			var meta *phonenumbers.PhoneMetadata
			if region == "001" {
				meta = nonGeo[code]
			} else {
				meta = geo[region]
			}
			if meta == nil {
				continue
			}
			// A region belongs to one calling code; "001" stands for a
			// different entity under each non-geographical code.
			lp := &lazyPlan{meta: meta}
			if region != "001" {
				ps.byRegion[region] = lp
			}
			cc.regions = append(cc.regions, lp)
		}
		if len(cc.regions) > 0 {
			ps.byCode[code] = cc
		}
	}
	return ps
})

func compilePlan(m *phonenumbers.PhoneMetadata) *plan {
	gd := m.GetGeneralDesc()
	p := &plan{
		region:              m.GetId(),
		countryCode:         int(m.GetCountryCode()),
		ccText:              strconv.Itoa(int(m.GetCountryCode())),
		generalPattern:      gd.GetNationalNumberPattern(),
		general:             mustAnchored(gd.GetNationalNumberPattern()),
		possibleLengths:     gd.GetPossibleLength(),
		localOnlyLengths:    gd.GetPossibleLengthLocalOnly(),
		sameMobileAndFixed:  m.GetSameMobileAndFixedLinePattern(),
		internationalPrefix: regexp.MustCompile("^(?:" + m.GetInternationalPrefix() + ")"),
	}
	for _, d := range []*phonenumbers.PhoneNumberDesc{
		m.GetPremiumRate(), m.GetTollFree(), m.GetSharedCost(), m.GetVoip(),
		m.GetPersonalNumber(), m.GetPager(), m.GetUan(), m.GetVoicemail(),
	} {
		// An empty pattern only matches the empty string, which no national
		// number is, so such a type can never match and is left out.
		if d.GetNationalNumberPattern() != "" {
			p.types = append(p.types, numberDesc{lengths: d.GetPossibleLength(), pattern: mustAnchored(d.GetNationalNumberPattern())})
		}
	}
	if d := m.GetFixedLine(); d.GetNationalNumberPattern() != "" {
		p.fixedLine = &numberDesc{lengths: d.GetPossibleLength(), pattern: mustAnchored(d.GetNationalNumberPattern())}
	}
	if d := m.GetMobile(); d.GetNationalNumberPattern() != "" {
		p.mobile = &numberDesc{lengths: d.GetPossibleLength(), pattern: mustAnchored(d.GetNationalNumberPattern())}
	}
	if ld := m.GetLeadingDigits(); ld != "" {
		p.leadingDigits = regexp.MustCompile("^(?:" + ld + ")")
	}
	if npp := m.GetNationalPrefixForParsing(); npp != "" {
		p.nationalPrefix = regexp.MustCompile("^(?:" + npp + ")")
		p.nationalPrefixTransform = m.GetNationalPrefixTransformRule()
	}
	p.nationalFormats = compileFormats(m.GetNumberFormat())
	p.intlFormats = compileFormats(m.GetIntlNumberFormat())
	return p
}

func mustAnchored(pattern string) *regexp.Regexp {
	return regexp.MustCompile("^(?:" + pattern + ")$")
}

var firstGroup = regexp.MustCompile(`\$\d`)

func compileFormats(formats []*phonenumbers.NumberFormat) []numberFormat {
	out := make([]numberFormat, 0, len(formats))
	for _, f := range formats {
		nf := numberFormat{
			full:     mustAnchored(f.GetPattern()),
			pattern:  regexp.MustCompile(f.GetPattern()),
			template: f.GetFormat(),
		}
		nf.matchesEmpty = nf.pattern.MatchString("")
		if ld := f.GetLeadingDigitsPattern(); len(ld) > 0 {
			nf.leading = regexp.MustCompile("^(?:" + ld[len(ld)-1] + ")")
		}
		nf.nationalTemplate = nf.template
		if rule := f.GetNationalPrefixFormattingRule(); rule != "" {
			if loc := firstGroup.FindStringIndex(f.GetFormat()); loc != nil {
				nf.nationalTemplate = f.GetFormat()[:loc[0]] + rule + f.GetFormat()[loc[1]:]
			}
		}
		out = append(out, nf)
	}
	return out
}

// regionPlan returns the compiled plan of a region, or nil.
func (ps *plans) regionPlan(region string) *plan {
	if lp := ps.byRegion[region]; lp != nil {
		return lp.get()
	}
	return nil
}

// mainPlan is the plan the library formats and length-checks a calling
// code with: its main region's, or the non-geographical entity's.
func (ps *plans) mainPlan(code int) *plan {
	cc := ps.byCode[code]
	if cc == nil {
		return nil
	}
	return cc.regions[0].get()
}

// validationResult mirrors phonenumbers.ValidationResult for the outcomes
// testNumberLength returns.
type validationResult int

const (
	isPossible validationResult = iota
	isPossibleLocalOnly
	tooShort
	tooLong
	invalidLength
)

// testNumberLength mirrors the library's testNumberLength for type UNKNOWN
// (the general description).
func (p *plan) testNumberLength(n int) validationResult {
	lengths := p.possibleLengths
	if len(lengths) == 0 || lengths[0] == -1 {
		// The library would index an empty list here; no metadata has one,
		// and a region with no possible lengths has no possible numbers.
		return invalidLength
	}
	if containsLength(p.localOnlyLengths, n) {
		return isPossibleLocalOnly
	}
	switch {
	case int(lengths[0]) == n:
		return isPossible
	case int(lengths[0]) > n:
		return tooShort
	case int(lengths[len(lengths)-1]) < n:
		return tooLong
	}
	if containsLength(lengths[1:], n) {
		return isPossible
	}
	return invalidLength
}

// isPossible mirrors IsPossibleNumberWithReason(...) == IS_POSSIBLE.
func (ps *plans) isPossible(code int, nsn string) bool {
	p := ps.mainPlan(code)
	if p == nil {
		return false
	}
	if p.generalPattern == "" {
		return len(nsn) >= minLengthNSN && len(nsn) <= maxLengthNSN
	}
	return p.testNumberLength(len(nsn)) == isPossible
}

// typeKnown mirrors getNumberTypeHelper(...) != UNKNOWN.
func (p *plan) typeKnown(nsn string) bool {
	if !containsLengthOrAny(p.possibleLengths, len(nsn)) || !p.general.MatchString(nsn) {
		return false
	}
	for i := range p.types {
		if p.types[i].matches(nsn) {
			return true
		}
	}
	if p.fixedLine != nil && p.fixedLine.matches(nsn) {
		return true
	}
	return !p.sameMobileAndFixed && p.mobile != nil && p.mobile.matches(nsn)
}

func containsLengthOrAny(lengths []int32, n int) bool {
	return len(lengths) == 0 || containsLength(lengths, n)
}

// isValid mirrors IsValidNumber: the region is chosen as
// GetRegionCodeForNumber does, then the number must be of a known type
// there.
func (ps *plans) isValid(code int, nsn string) bool {
	cc := ps.byCode[code]
	if cc == nil {
		return false
	}
	if len(cc.regions) == 1 {
		return cc.regions[0].get().typeKnown(nsn)
	}
	for _, lp := range cc.regions {
		p := lp.get()
		if p.leadingDigits != nil {
			if p.leadingDigits.MatchString(nsn) {
				return p.typeKnown(nsn)
			}
		} else if p.typeKnown(nsn) {
			return true
		}
	}
	return false
}
