package store

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/onus-sec/onus"
)

// BenchmarkApplyChangesSummaries measures what the summary triggers cost
// an evaluation: 50,000 new findings written, then 50,000 updated (a
// third of them changing state), with the triggers and without.
//
//	go test ./store -run '^$' -bench ApplyChangesSummaries -benchtime 1x
func BenchmarkApplyChangesSummaries(b *testing.B) {
	const n = 50_000
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for _, triggers := range []bool{true, false} {
		b.Run(fmt.Sprintf("triggers=%v", triggers), func(b *testing.B) {
			ctx := context.Background()
			var cpu time.Duration
			for range b.N {
				b.StopTimer()
				db, err := Open(ctx, filepath.Join(b.TempDir(), "onus.db"))
				if err != nil {
					b.Fatal(err)
				}
				if !triggers {
					for _, t := range []string{"insert", "update", "delete"} {
						if _, err := db.db.ExecContext(ctx, "DROP TRIGGER findings_summary_"+t); err != nil {
							b.Fatal(err)
						}
					}
				}
				changes := make([]onus.FindingChange, n)
				for i := range changes {
					changes[i] = onus.FindingChange{New: true, Finding: onus.Finding{Control: []string{"patch", "disk", "edr"}[i%3], Entity: fmt.Sprintf("d%d", i),
						EntityKind: "device", EntityName: fmt.Sprintf("D%d", i), Severity: onus.Severities[i%4], State: onus.StateOpen,
						Responsible: onus.Person{Email: fmt.Sprintf("p%d@x.test", i%20000)}, FirstFailed: now.Add(-time.Duration(i%2000) * time.Hour),
						LastFailed: now, Due: now.Add(time.Duration(i%1000-500) * time.Hour), UpdatedAt: now}}
				}
				run, _ := db.BeginRun(ctx, "eval", "bench", now)
				cpu0 := cpuTime()
				b.StartTimer()
				if err := db.ApplyChanges(ctx, run, changes, nil, -1); err != nil {
					b.Fatal(err)
				}
				for i := range changes {
					c := &changes[i]
					c.New, c.Prior = false, c.Finding.State
					c.Finding.LastFailed = now.Add(time.Hour)
					if i%3 == 0 {
						c.Finding.State = onus.StateResolved
						at := now
						c.Finding.ResolvedAt = &at
					}
				}
				if err := db.ApplyChanges(ctx, run, changes, nil, -1); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				cpu += cpuTime() - cpu0
				db.Close()
				b.StartTimer()
			}
			// CPU time says what the writes cost on a shared machine.
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
