// Package gcpace lets the garbage collector leave less room above a large
// live heap. Go's default (GOGC=100) lets the heap grow to twice what the
// last collection found live: at 100,000 people a run holds about 0.9 GiB
// of records and inventory, and the process would peak at twice that.
// Start keeps the heap goal at the live heap plus a headroom that shrinks,
// relative to it, as it grows: all of GOGC=100 while the live heap is
// small, an eighth of it once it is large. Collections then come more
// often only while much is live. They are cheap then: the records are
// columns of numbers (onus.Records) with few pointers to follow
// (docs/performance.md, "Memory").
package gcpace

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// Options tune the pacing; the zero value is the default.
type Options struct {
	// Room is the headroom above the live heap kept in any case (128 MiB
	// by default): below twice it, the collector paces as GOGC=100.
	Room uint64
	// Percent is the smallest headroom, as a percentage of the live heap
	// (12 by default).
	Percent int
}

// Enabled reports whether Start should pace: not when GOGC or GOMEMLIMIT
// say how the process wants to be collected.
func Enabled() bool {
	return os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == ""
}

// running is the pacer in force: one per process.
var running atomic.Pointer[pacer]

// Start adjusts the collector's percentage after every collection until
// the returned function is called, which restores GOGC=100. A process
// has one pacer: Start while one runs replaces it.
func Start(o Options) (stop func()) {
	if o.Room == 0 {
		o.Room = 128 << 20
	}
	if o.Percent <= 0 {
		o.Percent = 12
	}
	p := &pacer{o: o, last: 100}
	if old := running.Swap(p); old != nil {
		old.stopped.Store(true)
	}
	p.arm()
	return func() {
		if p.stopped.CompareAndSwap(false, true) {
			running.CompareAndSwap(p, nil)
			debug.SetGCPercent(100)
		}
	}
}

type pacer struct {
	o       Options
	stopped atomic.Bool
	last    int
	sample  [1]metrics.Sample
}

// sentinel is garbage as soon as it is made: its cleanup runs after the
// next collection, adjusts the pacing and makes the next sentinel.
type sentinel struct {
	_ [4]*byte // not a tiny allocation, which a cleanup may never see freed
}

func (p *pacer) arm() {
	s := new(sentinel)
	runtime.AddCleanup(s, func(p *pacer) {
		if p.stopped.Load() {
			return
		}
		p.adjust()
		p.arm()
	}, p)
}

// percent returns the GOGC percentage that keeps the heap goal at live
// plus the larger of Room and Percent of live, never above 100.
func (o Options) percent(live uint64) int {
	if live == 0 {
		return 100
	}
	room := max(o.Room, live*uint64(o.Percent)/100)
	pct := int(room * 100 / live)
	return min(max(pct, o.Percent), 100)
}

func (p *pacer) adjust() {
	p.sample[0].Name = "/gc/heap/live:bytes"
	metrics.Read(p.sample[:])
	if p.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	pct := p.o.percent(p.sample[0].Value.Uint64())
	// Small changes are not worth telling the runtime.
	if d := pct - p.last; d > 4 || d < -4 || (pct == 100) != (p.last == 100) {
		debug.SetGCPercent(pct)
		p.last = pct
	}
}
