package phone

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// maxInputRunes caps what Format reads of its input. Real numbers with an
// extension fit in 40; anything longer is not parsed at all, so that a
// hostile 1 MB caller ID costs no more than a normal one.
const maxInputRunes = 64

// Formatter formats phone numbers for one default region, the country of
// numbers written without a calling code. It is immutable and safe for
// concurrent use.
type Formatter struct {
	region string
	plans  *plans
	home   *plan
}

// NewFormatter returns a Formatter for a default region given as an ISO
// 3166-1 alpha-2 code the phonenumbers metadata knows (AU, GB, US...), in
// any case.
func NewFormatter(defaultRegion string) (*Formatter, error) {
	region := strings.ToUpper(defaultRegion)
	if region == "UK" {
		// The most common mistake: UK is reserved in ISO 3166-1, not assigned.
		return nil, fmt.Errorf("unknown phone region %q: the ISO 3166-1 code of the United Kingdom is GB", defaultRegion)
	}
	if !IsValidRegion(region) {
		return nil, fmt.Errorf("unknown phone region %q: use an ISO 3166-1 alpha-2 country code such as AU, GB, NZ or US (%d regions are known)",
			defaultRegion, len(phonenumbers.GetSupportedRegions()))
	}
	ps := loadPlans()
	home := ps.regionPlan(region)
	if home == nil {
		return nil, fmt.Errorf("phone region %q has no numbering plan in the phonenumbers metadata", defaultRegion)
	}
	return &Formatter{region: region, plans: ps, home: home}, nil
}

// IsValidRegion reports whether region, in any case, is an ISO 3166-1
// alpha-2 code the phonenumbers metadata has a numbering plan for.
func IsValidRegion(region string) bool {
	if len(region) != 2 {
		return false
	}
	return phonenumbers.GetSupportedRegions()[strings.ToUpper(region)]
}

// Region returns the default region, upper case.
func (f *Formatter) Region() string { return f.region }

// Format writes raw in the given format. It never fails: input that is not
// a phone number of a possible length comes out as its digits, with a
// leading + kept; input with no digits comes out empty. An unknown format
// value is treated as FormatE164. The e164 and digits formats only ever
// contain ASCII digits and a leading +.
func (f *Formatter) Format(raw string, format Format) string {
	var in input
	in.scan(raw)
	switch {
	case in.capped || in.numDigits == 0:
		// Nothing to parse (a withheld caller ID, "anonymous"), or too
		// long to be a phone number.
		return in.fallback()
	case in.simple && in.numDigits >= 3:
		return f.formatCompiled(&in, format)
	default:
		return f.formatWithLibrary(in, format)
	}
}

// input is what Format reads from its raw string, in one pass.
type input struct {
	// text is the raw string capped at maxInputRunes, without leading
	// spaces and a tel: scheme.
	text string
	// digits are text's decimal digits, Unicode ones folded to ASCII.
	digits    [maxInputRunes]byte
	numDigits int
	// plus is true when the first character that is not punctuation is a
	// + (ASCII or full-width).
	plus bool
	// simple is true when text holds only ASCII digits, the punctuation
	// " -.()/" and at most one + before the first digit: input the
	// compiled path reads exactly like the library.
	simple bool
	capped bool
}

func (in *input) scan(raw string) {
	s := raw
	runes := 0
	for i := range raw {
		if runes == maxInputRunes {
			s, in.capped = raw[:i], true
			break
		}
		runes++
	}
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	if len(s) >= 4 && strings.EqualFold(s[:4], "tel:") {
		s = strings.TrimLeftFunc(s[4:], unicode.IsSpace)
	}
	in.text = s
	in.simple = true
	leading := true // no digit or + seen yet
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			in.addDigit(byte(r))
			leading = false
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '/':
		case r == '+' || r == '＋':
			if leading {
				in.plus = true
			}
			if !leading || r != '+' {
				in.simple = false
			}
			leading = false
		case unicode.IsDigit(r):
			in.addDigit(foldDigit(r))
			in.simple = false
			leading = false
		default:
			in.simple = false
		}
	}
}

func (in *input) addDigit(d byte) {
	if in.numDigits < len(in.digits) {
		in.digits[in.numDigits] = d
		in.numDigits++
	}
}

// foldDigit maps a Unicode decimal digit to its ASCII digit. Unicode
// encodes every decimal digit set as a run of ten code points from zero to
// nine, some runs adjacent (the mathematical digits), so the value is the
// distance from the start of the run of digits, modulo ten.
func foldDigit(r rune) byte {
	start := r
	for start > 0 && r-start < 100 && unicode.IsDigit(start-1) {
		start--
	}
	return byte('0' + (r-start)%10)
}

// fallback is the answer for input that is not a readable phone number:
// its digits, with a leading + kept.
func (in *input) fallback() string {
	if in.numDigits == 0 {
		return ""
	}
	if in.plus {
		return "+" + string(in.digits[:in.numDigits])
	}
	return string(in.digits[:in.numDigits])
}

// retryInternational tells whether input without a + should also be tried
// as an international number when it is not valid in the default region:
// ipSCAPE sends E.164 without the +, so 442079460018 under AU is a GB
// number. Numbers starting with 0 are national (or IDD) by construction.
func (in *input) retryInternational() bool {
	return !in.plus && in.numDigits > 0 && in.digits[0] != '0'
}

// digitString returns the digits as a string, without copying when the
// text is nothing but them (E.164 with or without the +, as telephony
// platforms send numbers).
func (in *input) digitString() string {
	t := in.text
	if len(t) > 0 && t[0] == '+' {
		t = t[1:]
	}
	if in.simple && len(t) == in.numDigits {
		return t
	}
	return string(in.digits[:in.numDigits])
}

// formatCompiled reads and formats simple input with the compiled plans.
func (f *Formatter) formatCompiled(in *input, format Format) string {
	digits := in.digitString()
	n, err := f.plans.read(digits, in.plus, f.home)
	switch {
	case err == nil && f.plans.isValid(n.code, n.nsn):
	case f.tryInternational(in, digits, &n):
	case err == nil && f.plans.isPossible(n.code, n.nsn):
	default:
		return in.fallback()
	}
	var buf [3 * maxInputRunes]byte
	return string(f.appendFormatted(buf[:0], n, format))
}

func (f *Formatter) tryInternational(in *input, digits string, n *number) bool {
	if !in.retryInternational() {
		return false
	}
	intl, err := f.plans.read(digits, true, f.home)
	if err != nil || !f.plans.isValid(intl.code, intl.nsn) {
		return false
	}
	*n = intl
	return true
}

func (f *Formatter) appendFormatted(b []byte, n number, format Format) []byte {
	home := n.code == f.home.countryCode
	switch {
	case format == FormatNational, (format == FormatLocal || format == FormatVariants) && home:
		return f.plans.appendNSN(b, n, true)
	case format == FormatInternational, format == FormatLocal, format == FormatVariants:
		b = append(b, '+')
		b = strconv.AppendInt(b, int64(n.code), 10)
		b = append(b, ' ')
		return f.plans.appendNSN(b, n, false)
	case format == FormatDigits && home:
		start := len(b)
		b = f.plans.appendNSN(b, n, true)
		return keepDigits(b, start)
	default: // FormatE164, FormatDigits abroad, unknown formats
		b = append(b, '+')
		b = strconv.AppendInt(b, int64(n.code), 10)
		return append(b, n.nsn...)
	}
}

// keepDigits removes everything but ASCII digits from b[start:], in place.
func keepDigits(b []byte, start int) []byte {
	out := b[:start]
	for _, c := range b[start:] {
		if c >= '0' && c <= '9' {
			out = append(out, c)
		}
	}
	return out
}

// formatWithLibrary reads and formats input with the phonenumbers library
// itself, for the writings the compiled path leaves to it. It follows the
// same policy as formatCompiled. It takes the input by value so that only
// this rare path pays for the copy its recover closure keeps.
func (f *Formatter) formatWithLibrary(in input, format Format) (out string) {
	defer func() {
		// The library parses hostile input with regular expressions and
		// slicing; if it ever panics on some input, the screen pop still
		// gets the digits.
		if recover() != nil {
			out = in.fallback()
		}
	}()
	num := f.libraryRead(&in)
	if num == nil {
		return in.fallback()
	}
	return f.libraryFormat(num, format)
}

// libraryRead reads input with the library under formatCompiled's policy:
// valid in the default region, else valid as E.164 without its +, else a
// possible number in the default region. It returns nil for the fallback.
func (f *Formatter) libraryRead(in *input) *phonenumbers.PhoneNumber {
	num := &phonenumbers.PhoneNumber{}
	err := phonenumbers.ParseToNumber(in.text, f.region, num)
	if err == nil && phonenumbers.IsValidNumber(num) {
		return withoutExtension(num)
	}
	if in.retryInternational() {
		intl := &phonenumbers.PhoneNumber{}
		if phonenumbers.ParseToNumber("+"+in.text, f.region, intl) == nil && phonenumbers.IsValidNumber(intl) {
			return withoutExtension(intl)
		}
	}
	if err == nil && phonenumbers.IsPossibleNumberWithReason(num) == phonenumbers.IS_POSSIBLE {
		return withoutExtension(num)
	}
	return nil
}

func withoutExtension(num *phonenumbers.PhoneNumber) *phonenumbers.PhoneNumber {
	num.Extension = nil
	return num
}

func (f *Formatter) libraryFormat(num *phonenumbers.PhoneNumber, format Format) string {
	home := int(num.GetCountryCode()) == f.home.countryCode
	switch {
	case format == FormatNational, (format == FormatLocal || format == FormatVariants) && home:
		return phonenumbers.Format(num, phonenumbers.NATIONAL)
	case format == FormatInternational, format == FormatLocal, format == FormatVariants:
		return phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
	case format == FormatDigits && home:
		b := []byte(phonenumbers.Format(num, phonenumbers.NATIONAL))
		return string(keepDigits(b, 0))
	default:
		return phonenumbers.Format(num, phonenumbers.E164)
	}
}
