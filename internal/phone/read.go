package phone

import (
	"errors"
	"strings"
)

// The library's limits on a national significant number.
const (
	minLengthNSN         = 2
	maxLengthNSN         = 17
	maxLengthCallingCode = 3
)

// The library's parse errors the compiled path can meet; only their
// identity matters (every one ends in the fallback).
var (
	errInvalidCountryCode = errors.New("invalid country calling code")
	errTooShortAfterIDD   = errors.New("too short after the international prefix")
	errTooShortNSN        = errors.New("national number too short")
	errTooLongNSN         = errors.New("national number too long")
)

// number is a read phone number: its calling code and national significant
// number.
type number struct {
	code int
	nsn  string
}

// read mirrors phonenumbers.parseHelper for input made only of ASCII
// digits and punctuation, given as its digits and whether a + led them.
// The result's nsn points into digits, or is new when a national prefix
// transform rule rewrote it.
func (ps *plans) read(digits string, plus bool, def *plan) (number, error) {
	regionPlan := def
	code, national, err := ps.extractCountryCode(digits, plus, def)
	if err != nil {
		// parseHelper: a + followed by an unknown calling code is tried
		// again without the + (the digits may start with an IDD).
		if err != errInvalidCountryCode || !plus {
			return number{}, err
		}
		code, national, err = ps.extractCountryCode(digits, false, def)
		if err != nil {
			return number{}, err
		}
		if code == 0 {
			return number{}, errInvalidCountryCode
		}
	}
	if code != 0 {
		if mp := ps.mainPlan(code); mp.region != def.region {
			regionPlan = mp
		}
	} else {
		national = digits
		code = def.countryCode
	}
	if len(national) < minLengthNSN {
		return number{}, errTooShortNSN
	}
	if regionPlan.nationalPrefix != nil {
		potential, _ := regionPlan.stripNationalPrefix(national)
		switch regionPlan.testNumberLength(len(potential)) {
		case tooShort, isPossibleLocalOnly, invalidLength:
		default:
			national = potential
		}
	}
	if len(national) < minLengthNSN {
		return number{}, errTooShortNSN
	}
	if len(national) > maxLengthNSN {
		return number{}, errTooLongNSN
	}
	return number{code: code, nsn: national}, nil
}

// extractCountryCode mirrors maybeExtractCountryCode. It returns 0 and no
// national number when the digits carry no calling code.
func (ps *plans) extractCountryCode(digits string, plus bool, def *plan) (int, string, error) {
	if len(digits) == 0 {
		return 0, "", nil
	}
	full := digits
	international := plus
	if !plus {
		// parsePrefixAsIdd: strip the region's international prefix
		// unless a 0 follows it, as calling codes never start with 0.
		if def.internationalPrefix.MatchString(full) {
			loc := def.internationalPrefix.FindStringIndex(full)
			if loc[1] >= len(full) || full[loc[1]] != '0' {
				full = full[loc[1]:]
				international = true
			}
		}
	}
	if international {
		if len(full) <= minLengthNSN {
			return 0, "", errTooShortAfterIDD
		}
		if code, rest := ps.leadingCallingCode(full); code != 0 {
			return code, rest, nil
		}
		return 0, "", errInvalidCountryCode
	}
	// A number written with the default region's calling code but no +
	// (61299990000 in AU): keep the code if the rest is a better number.
	if !strings.HasPrefix(full, def.ccText) {
		return 0, "", nil
	}
	potential, _ := def.stripNationalPrefix(full[len(def.ccText):])
	fullValid := def.general.MatchString(full)
	nationalValid := def.general.MatchString(potential)
	if (!fullValid && nationalValid) || def.testNumberLength(len(full)) == tooLong {
		return def.countryCode, potential, nil
	}
	return 0, "", nil
}

// leadingCallingCode mirrors extractCountryCode: the first 1 to 3 digits
// that are a known calling code.
func (ps *plans) leadingCallingCode(full string) (int, string) {
	if full[0] == '0' {
		return 0, ""
	}
	code := 0
	for i := 0; i < maxLengthCallingCode && i < len(full); i++ {
		code = code*10 + int(full[i]-'0')
		if _, ok := ps.byCode[code]; ok {
			return code, full[i+1:]
		}
	}
	return 0, ""
}

// stripNationalPrefix mirrors maybeStripNationalPrefixAndCarrierCode: it
// returns the number without its national prefix (or transformed by the
// region's rule, in a new slice) and whether it changed.
func (p *plan) stripNationalPrefix(n string) (string, bool) {
	if len(n) == 0 || p.nationalPrefix == nil || !p.nationalPrefix.MatchString(n) {
		return n, false
	}
	viableOriginal := p.general.MatchString(n)
	groups := p.nationalPrefix.FindStringSubmatchIndex(n)
	numGroups := len(groups)/2 - 1
	if len(p.nationalPrefixTransform) == 0 || groups[numGroups*2] < 0 {
		if viableOriginal && !p.general.MatchString(n[groups[1]:]) {
			return n, false
		}
		return n[groups[1]:], true
	}
	// Only the prefix matches (the expression is anchored), so this is the
	// library's ReplaceAllString in one expansion.
	b := p.nationalPrefix.ExpandString(nil, p.nationalPrefixTransform, n, groups)
	t := string(append(b, n[groups[1]:]...))
	if viableOriginal && !p.general.MatchString(t) {
		return n, false
	}
	return t, true
}

// appendNSN mirrors formatNsn: the national significant number in the
// national or international layout of its calling code's main region.
func (ps *plans) appendNSN(dst []byte, n number, national bool) []byte {
	p := ps.mainPlan(n.code)
	formats := p.intlFormats
	if len(formats) == 0 || national {
		formats = p.nationalFormats
	}
	for i := range formats {
		f := &formats[i]
		if f.leading != nil && !f.leading.MatchString(n.nsn) {
			continue
		}
		if !f.full.MatchString(n.nsn) {
			continue
		}
		template := f.template
		if national {
			template = f.nationalTemplate
		}
		// The library replaces every match of the unanchored pattern. When
		// the first match is the whole number, as for every real format,
		// that is one expansion; anything else goes the library's way.
		if !f.matchesEmpty {
			if m := f.pattern.FindStringSubmatchIndex(n.nsn); m != nil && m[0] == 0 && m[1] == len(n.nsn) {
				return f.pattern.ExpandString(dst, template, n.nsn, m)
			}
		}
		return append(dst, f.pattern.ReplaceAllString(n.nsn, template)...)
	}
	return append(dst, n.nsn...)
}
