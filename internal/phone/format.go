// Package phone formats the phone numbers of `type: phone` map entries.
//
// A Formatter reads a number in any common writing (+61 2 9999 0000,
// 0299990000, (02) 9999-0000, 61299990000 as ipSCAPE sends E.164 without
// the plus, tel: URIs, numbers with extensions) against a default region
// and writes it in one of five formats, or in all its common writings:
//
//	local          national format for numbers of the default region's
//	               country calling code, international format otherwise
//	national       the number as written inside its own country
//	e164           +61299990000
//	international  +61 2 9999 0000
//	digits         local with everything but digits and a leading + removed
//	variants       every common writing of the number in its own region
//	               (see Variants); as one value, the local format
//
// Extensions are dropped: a screen pop searches for the line, not the
// extension behind it. A number that cannot be read, or whose length is not
// possible for its country, comes out as its own digits (keeping a leading
// +) in every format, never as an error: a screen pop must never be lost
// because of a phone number.
//
// The numbering plans are those of github.com/nyaruka/phonenumbers (Google's
// libphonenumber metadata). Reading and formatting re-implement that
// library's algorithm over its metadata with regular expressions compiled
// once, because the library rebuilds and looks up its expressions on every
// call (about 20 µs and 100 allocations per number, the whole budget of a
// screen-pop decision). The library itself still reads inputs the compiled
// path does not take (letters, extensions, Unicode digits, RFC 3966
// parameters), and tests hold both paths to the same answers.
package phone

import (
	"fmt"
	"strconv"
	"strings"
)

// Format is how a phone value is written into a query.
type Format int

// The formats of the config's map[].format.
const (
	FormatLocal Format = iota + 1
	FormatNational
	FormatE164
	FormatInternational
	FormatDigits
	// FormatVariants asks for every common writing of the number (see
	// Formatter.Variants): a query template expands the comparison that
	// holds such a value into one comparison per writing. Where one value
	// is needed (the new-record form), it is the local format.
	FormatVariants
)

var formatNames = [...]string{
	FormatLocal:         "local",
	FormatNational:      "national",
	FormatE164:          "e164",
	FormatInternational: "international",
	FormatDigits:        "digits",
	FormatVariants:      "variants",
}

// ParseFormat reads a format name as written in a config, ignoring case.
func ParseFormat(name string) (Format, error) {
	for f := FormatLocal; f <= FormatVariants; f++ {
		if strings.EqualFold(name, formatNames[f]) {
			return f, nil
		}
	}
	return 0, fmt.Errorf("unknown phone format %q: use one of %s", name, strings.Join(FormatNames(), ", "))
}

// String returns the format's config name.
func (f Format) String() string {
	if f >= FormatLocal && f <= FormatVariants {
		return formatNames[f]
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// FormatNames lists the config names of every format, in documentation order.
func FormatNames() []string {
	return append([]string(nil), formatNames[FormatLocal:]...)
}
