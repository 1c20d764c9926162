package sandbox_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ctibridge/ctibridge/internal/sandbox"
)

// BenchmarkUpsertByAlternateKey measures the write path the adapter uses
// most: an upsert of a phone call by its interaction id, over real HTTP,
// from parallel clients.
func BenchmarkUpsertByAlternateKey(b *testing.B) {
	for _, disk := range []bool{false, true} {
		name := "memory"
		opts := testOptions()
		if disk {
			name = "file"
			opts.Path = b.TempDir() + "/bench.db"
		}
		b.Run(name, func(b *testing.B) {
			_, srv := newServer(b, opts)
			client := srv.Client()
			var n atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					req, _ := http.NewRequest("PATCH", srv.URL+api+fmt.Sprintf("phonecalls(new_agentinteractionid='IX-%d')", i),
						strings.NewReader(`{"subject":"Inbound call","phonenumber":"+61299990000","directioncode":false}`))
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode != 204 {
						b.Fatalf("status %d", resp.StatusCode)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

// BenchmarkScreenPopQuery measures the screen-pop lookup against the
// seeded data.
func BenchmarkScreenPopQuery(b *testing.B) {
	opts := testOptions()
	opts.Seed = true
	_, srv := newServer(b, opts)
	path := srv.URL + api + "contacts" + q("$select", "fullname,telephone1,mobilephone", "$filter",
		"telephone1 eq '"+sandbox.DemoNumberByKey("single-contact").Records[0].Stored+"' or mobilephone eq '0412 999 040'")
	client := srv.Client()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(path)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}
