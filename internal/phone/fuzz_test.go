package phone

import "testing"

// FuzzFormat holds Format to its promises on any input: no panic; e164 and
// digits contain only ASCII digits and a leading +; and wherever the
// compiled path reads the input, it answers exactly as the phonenumbers
// library does.
func FuzzFormat(f *testing.F) {
	for _, seed := range []string{
		"+61 2 9999 0000", "0299990000", "(02) 9999-0000", "61299990000", "tel:+61-2-9999-0000;ext=5",
		"442079460018", "020 7946 0018", "+1 (201) 555-0123", "0011 44 20 7946 0018", "011 15-2345-6789",
		"+54 9 11 2345-6789", "+7 912 345-67-89", "+39 06 1234 5678", "1300 123 456", "anonymous", "٠٢٩٩٩٩٠٠٠٠",
	} {
		f.Add(seed, uint8(0))
	}
	regions := []string{"AU", "GB", "US", "AR", "IT", "RU"}
	formatters := make([]*Formatter, len(regions))
	for i, r := range regions {
		formatters[i] = newFormatter(f, r)
	}
	f.Fuzz(func(t *testing.T, raw string, which uint8) {
		fm := formatters[int(which)%len(formatters)]
		var in input
		in.scan(raw)
		compiled := in.simple && in.numDigits >= 3 && !in.capped
		for _, format := range allFormats {
			got := fm.Format(raw, format)
			if (format == FormatE164 || format == FormatDigits) && !plusAndDigits(got) {
				t.Fatalf("Format(%q, %s) under %s = %q, want only a leading + and ASCII digits", raw, format, fm.Region(), got)
			}
			if compiled {
				if library := fm.formatWithLibrary(in, format); got != library {
					t.Fatalf("Format(%q, %s) under %s: compiled %q, library %q", raw, format, fm.Region(), got, library)
				}
			}
		}
	})
}
