package phone

import (
	"bytes"
	"strconv"

	"github.com/nyaruka/phonenumbers"
)

// MaxVariants caps the writings Variants returns. The list below has 16
// kinds of writing; most numbers have fewer distinct ones, because several
// kinds coincide (a US number has no trunk prefix to leave out).
const MaxVariants = 16

// Variants returns the ways people commonly write the number raw in its own
// region, most common first, without repeats and at most MaxVariants of
// them. The first is always what Format(raw, FormatLocal) returns. For a
// number read as +61 2 9999 0000 they are:
//
//	(02) 9999 0000      the region's national format (the library's grouping)
//	0299990000          the national format's digits
//	+61299990000        E.164
//	+61 2 9999 0000     the international format
//	61299990000         E.164 without the + (as ipSCAPE sends it)
//	02 9999 0000        the national groups joined by spaces,
//	02-9999-0000        by dashes,
//	(02) 9999-0000      the first group in parentheses, the rest with dashes,
//	(02) 9999 0000      or with spaces (the GB writing (020) 7946 0018)
//	+61 (0)2 9999 0000  the +CC (0) style, where the region has a trunk prefix
//	61 2 9999 0000      the international format without the +
//	02.9999.0000        the national groups joined by dots
//	+61-2-9999-0000     the international groups joined by dashes
//	299990000           the national significant number, without the trunk prefix
//	0061299990000       the region's 00 international prefix, where it dials 00
//
// plus "+1 (201) 555-0123", the international prefix before the national
// format, in regions whose national format has no trunk prefix (the North
// American plan). The groups are those of the number's own region (the
// phonenumbers metadata), so a GB number comes out as 020 7946 0018 and
// +44 (0)20 7946 0018, a US number as (201) 555-0123 and 201-555-0123.
//
// Input that is not a phone number of a possible length has one writing:
// its digits, with a leading + kept (Format's fallback). Input with no
// digits has none.
func (f *Formatter) Variants(raw string) []string {
	var in input
	in.scan(raw)
	switch {
	case in.capped || in.numDigits == 0:
	case in.simple && in.numDigits >= 3:
		if n, ok := f.readCompiled(&in); ok {
			return f.variantsCompiled(n)
		}
	default:
		if vs := f.variantsWithLibrary(in); vs != nil {
			return vs
		}
	}
	if fb := in.fallback(); fb != "" {
		return []string{fb}
	}
	return nil
}

// readCompiled reads simple input under Format's policy; ok is false for
// the fallback.
func (f *Formatter) readCompiled(in *input) (number, bool) {
	digits := in.digitString()
	n, err := f.plans.read(digits, in.plus, f.home)
	switch {
	case err == nil && f.plans.isValid(n.code, n.nsn):
	case f.tryInternational(in, digits, &n):
	case err == nil && f.plans.isPossible(n.code, n.nsn):
	default:
		return number{}, false
	}
	return n, true
}

func (f *Formatter) variantsCompiled(n number) []string {
	var natBuf, intlBuf [3 * maxInputRunes]byte
	national := f.plans.appendNSN(natBuf[:0], n, true)
	intl := f.plans.appendNSN(intlBuf[:0], n, false)
	var w writings
	var stack [MaxVariants * 2 * maxInputRunes]byte
	w.buf = stack[:0]
	w.write(n.code, n.nsn, national, intl, n.code == f.home.countryCode, f.plans.mainPlan(n.code))
	return w.strings()
}

func (f *Formatter) variantsWithLibrary(in input) (out []string) {
	defer func() {
		if recover() != nil {
			out = nil // the caller falls back to the digits
		}
	}()
	num := f.libraryRead(&in)
	if num == nil {
		return nil
	}
	code := int(num.GetCountryCode())
	national := []byte(phonenumbers.Format(num, phonenumbers.NATIONAL))
	intl := []byte(phonenumbers.Format(num, phonenumbers.INTERNATIONAL))
	// INTERNATIONAL is "+CC " and the international layout; keep the layout.
	intl = bytes.TrimPrefix(intl, []byte("+"+strconv.Itoa(code)+" "))
	var w writings
	w.write(code, phonenumbers.GetNationalSignificantNumber(num), national, intl, code == f.home.countryCode, f.plans.mainPlan(code))
	return w.strings()
}

// writings collects distinct writings in one buffer, so that a whole list
// costs two allocations: its text and the slice.
type writings struct {
	buf  []byte
	ends [MaxVariants]int
	n    int
	// start is where the writing being written begins.
	start int
}

// begin starts a writing; it reports false once the list is full.
func (w *writings) begin() bool {
	w.start = len(w.buf)
	return w.n < MaxVariants
}

// end keeps the writing begun last, unless it repeats an earlier one or is
// empty.
func (w *writings) end() {
	cur := w.buf[w.start:]
	if len(cur) == 0 {
		return
	}
	prev := 0
	for i := 0; i < w.n; i++ {
		if bytes.Equal(w.buf[prev:w.ends[i]], cur) {
			w.buf = w.buf[:w.start]
			return
		}
		prev = w.ends[i]
	}
	w.ends[w.n] = len(w.buf)
	w.n++
}

func (w *writings) strings() []string {
	s := string(w.buf)
	out := make([]string, w.n)
	prev := 0
	for i := range out {
		out[i] = s[prev:w.ends[i]]
		prev = w.ends[i]
	}
	return out
}

// maxGroups caps the digit groups a layout is split into; no format in the
// metadata has more than 6.
const maxGroups = 8

// digitGroups is a layout's runs of digits, as [start, end) offsets.
type digitGroups struct {
	at [maxGroups][2]int
	n  int
}

func splitGroups(b []byte) digitGroups {
	var g digitGroups
	for i := 0; i < len(b); {
		if b[i] < '0' || b[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if g.n < maxGroups {
			g.at[g.n] = [2]int{i, j}
			g.n++
		} else {
			// Glue any further digits to the last group: never lose one.
			g.at[maxGroups-1][1] = j
		}
		i = j
	}
	return g
}

// appendJoined appends the groups of b from the first, joined by sep.
func appendJoined(dst, b []byte, g *digitGroups, first int, sep byte) []byte {
	for i := first; i < g.n; i++ {
		if i > first {
			dst = append(dst, sep)
		}
		dst = append(dst, b[g.at[i][0]:g.at[i][1]]...)
	}
	return dst
}

// write appends the writings of a number: its calling code, national
// significant number, national layout (with the trunk prefix where the
// region writes one) and international layout (without "+CC "). home tells
// whether the calling code is the default region's, which decides the
// local format; p is the calling code's main plan.
func (w *writings) write(code int, nsn string, national, intl []byte, home bool, p *plan) {
	var ccBuf [4]byte
	cc := strconv.AppendInt(ccBuf[:0], int64(code), 10)
	nat, inter := splitGroups(national), splitGroups(intl)
	var digitBuf [3 * maxInputRunes]byte
	natDigits := keepDigits(append(digitBuf[:0], national...), 0)
	// The trunk prefix is what the national layout writes before the
	// national significant number ("0" in AU, none in the US). A region
	// whose rule rewrites the number instead (Argentina's mobiles) gets no
	// trunk-based writings.
	trunk, hasTrunk := []byte(nil), false
	if len(natDigits) > len(nsn) && bytes.HasSuffix(natDigits, []byte(nsn)) {
		trunk, hasTrunk = natDigits[:len(natDigits)-len(nsn)], true
	}
	plusCC := func() { w.buf = append(append(w.buf, '+'), cc...) }

	if !home && w.begin() { // the local format of a foreign number
		plusCC()
		w.buf = append(append(w.buf, ' '), intl...)
		w.end()
	}
	if w.begin() {
		w.buf = append(w.buf, national...)
		w.end()
	}
	if w.begin() {
		w.buf = append(w.buf, natDigits...)
		w.end()
	}
	if w.begin() {
		plusCC()
		w.buf = append(w.buf, nsn...)
		w.end()
	}
	if w.begin() {
		plusCC()
		w.buf = append(append(w.buf, ' '), intl...)
		w.end()
	}
	if w.begin() {
		w.buf = append(append(w.buf, cc...), nsn...)
		w.end()
	}
	if w.begin() {
		w.buf = appendJoined(w.buf, national, &nat, 0, ' ')
		w.end()
	}
	if w.begin() {
		w.buf = appendJoined(w.buf, national, &nat, 0, '-')
		w.end()
	}
	if nat.n > 1 && w.begin() {
		w.buf = append(w.buf, '(')
		w.buf = append(w.buf, national[nat.at[0][0]:nat.at[0][1]]...)
		w.buf = append(w.buf, ") "...)
		w.buf = appendJoined(w.buf, national, &nat, 1, '-')
		w.end()
	}
	if nat.n > 1 && w.begin() {
		w.buf = append(w.buf, '(')
		w.buf = append(w.buf, national[nat.at[0][0]:nat.at[0][1]]...)
		w.buf = append(w.buf, ") "...)
		w.buf = appendJoined(w.buf, national, &nat, 1, ' ')
		w.end()
	}
	if hasTrunk && w.begin() {
		plusCC()
		w.buf = append(append(append(w.buf, " ("...), trunk...), ')')
		w.buf = append(w.buf, intl...)
		w.end()
	}
	if w.begin() {
		w.buf = append(append(w.buf, cc...), ' ')
		w.buf = append(w.buf, intl...)
		w.end()
	}
	if w.begin() {
		w.buf = appendJoined(w.buf, national, &nat, 0, '.')
		w.end()
	}
	if w.begin() {
		plusCC()
		w.buf = append(w.buf, '-')
		w.buf = appendJoined(w.buf, intl, &inter, 0, '-')
		w.end()
	}
	if len(trunk) == 0 && len(natDigits) == len(nsn) && w.begin() {
		plusCC()
		w.buf = append(append(w.buf, ' '), national...)
		w.end()
	}
	if hasTrunk && w.begin() {
		w.buf = append(w.buf, nsn...)
		w.end()
	}
	if p != nil && w.begin() {
		// Only where 00 is how the region dials abroad (GB, NZ, most of
		// Europe; AU dials 0011, the US 011).
		w.buf = append(append(append(w.buf, "00"...), cc...), nsn...)
		if idd := p.internationalPrefix.FindIndex(w.buf[w.start:]); idd != nil && idd[1] == 2 {
			w.end()
		} else {
			w.buf = w.buf[:w.start]
		}
	}
}
