package phone

import "testing"

// benchmarkNumbers are caller IDs as they arrive on telephony events: mostly
// E.164 with and without the +, some national writings, a few foreign
// numbers and a withheld ID. Numbers vary so that no cache, in this package
// or the library, can make one input look cheap.
var benchmarkNumbers = []string{
	"61299990000", "+61412345678", "0298765432", "(02) 9374 4000", "61732101234",
	"0412 345 678", "+61 3 9650 1234", "61891234567", "+61 488 123 456", "0755123456",
	"442079460018", "+447400123456", "+12015550123", "14155550132", "+6491234567",
	"+8613800138000", "1300 123 456", "anonymous", "61401987654", "+61 8 8123 4567",
}

func BenchmarkFormat(b *testing.B) {
	f, err := NewFormatter("AU")
	if err != nil {
		b.Fatal(err)
	}
	for _, format := range []Format{FormatLocal, FormatE164} {
		b.Run(format.String(), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = f.Format(benchmarkNumbers[i%len(benchmarkNumbers)], format)
				i++
			}
		})
	}
}

// BenchmarkFormatWithLibrary is the same work done by the phonenumbers
// library alone, the cost the compiled path exists to avoid.
func BenchmarkFormatWithLibrary(b *testing.B) {
	f, err := NewFormatter("AU")
	if err != nil {
		b.Fatal(err)
	}
	inputs := make([]input, len(benchmarkNumbers))
	for i, raw := range benchmarkNumbers {
		inputs[i].scan(raw)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = f.formatWithLibrary(inputs[i%len(inputs)], FormatLocal)
		i++
	}
}
