package gcpace

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	o := Options{Room: 256 << 20, Percent: 25}
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{100 << 20, 100}, // small: as GOGC=100
		{256 << 20, 100}, // the room is the live heap
		{512 << 20, 50},  // 256 MiB of room
		{1 << 30, 25},    // a quarter
		{2 << 30, 25},    // never below Percent
		{384 << 20, 66},  // 256/384
	} {
		if got := o.percent(c.live); got != c.want {
			t.Errorf("percent(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

var keep [][]byte

// TestStartPaces holds a live heap large against Room and checks that the
// collector's percentage follows it, and that stop restores GOGC=100.
func TestStartPaces(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	Start(Options{Room: 1, Percent: 90}) // replaced by the next one
	first := running.Load()
	stop := Start(Options{Room: 8 << 20, Percent: 25})
	if !first.stopped.Load() || running.Load() == first {
		t.Fatal("a second Start left the first pacer running")
	}
	for range 64 {
		keep = append(keep, make([]byte, 1<<20)) // 64 MiB live
	}
	defer func() { keep = nil }()
	deadline := time.Now().Add(10 * time.Second)
	got := 100
	for time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the cleanup runs on its own goroutine
		got = gogc()
		if got == 25 {
			break
		}
	}
	if got != 25 {
		t.Fatalf("GOGC = %d with 64 MiB live and 8 MiB of room, want 25", got)
	}
	stop()
	if got := gogc(); got != 100 {
		t.Errorf("GOGC after stop = %d, want 100", got)
	}
}

func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}
