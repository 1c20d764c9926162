package datapath

import "testing"

// BenchmarkLookupString resolves the reference config's paths in a decoded
// preview event, as the screen-pop decision does on every event.
func BenchmarkLookupString(b *testing.B) {
	doc := loadEvent(b, false)
	for _, bb := range []struct {
		name string
		expr string
	}{
		{name: "keys", expr: "interaction.activity.customerCli"},
		{name: "selector", expr: "interaction.leadData.phones.index=2[phone]"},
		{name: "number", expr: "interaction.activity.sourcePhoneNumber"},
		{name: "miss", expr: "interaction.activity.nonexistent"},
	} {
		p, err := Parse(bb.expr)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = p.LookupString(doc)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("interaction.leadData.phones.index=1[phone]"); err != nil {
			b.Fatal(err)
		}
	}
}
