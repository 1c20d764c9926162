package loadtest

import (
	"testing"
	"time"
)

func TestPopLatencyIsSplitAtTheServersStamps(t *testing.T) {
	track := newTracker(2, time.Minute)
	track.presenting(0)
	track.presenting(1)
	sentUs := track.calls[0].sentWallUs.Load()
	stamps := serverStamps{receivedAt: float64(sentUs+100) / 1000, sentAt: float64(sentUs+300) / 1000}
	time.Sleep(time.Millisecond) // the pop arrives after the server sent it

	if !track.popped(0, stamps) {
		t.Fatal("the first pop of call 0 was not counted as its first")
	}
	track.popped(1, serverStamps{}) // a hello's pop: no stamps to split at

	intake, server, delivery := track.intakePart.Summary(), track.serverPart.Summary(), track.deliveryPart.Summary()
	if intake.Count != 1 || server.Count != 1 || delivery.Count != 1 {
		t.Fatalf("split %d/%d/%d pops, want only the stamped one", intake.Count, server.Count, delivery.Count)
	}
	if intake.P50Ms != 0.1 || server.P50Ms != 0.2 {
		t.Errorf("intake %.3f ms, server %.3f ms; want 0.100 and 0.200", intake.P50Ms, server.P50Ms)
	}
	if delivery.P50Ms <= 0 {
		t.Errorf("delivery %.3f ms, want the time since the stamped send", delivery.P50Ms)
	}
}
