package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/onus-sec/onus"
)

// BenchmarkLoadSnapshot measures reading back a device source of 130,000
// records (five identity keys, four attributes and an owner each, values
// that mostly do not repeat) into a column store: what a re-run pays for
// each unchanged source it must load. It reports the CPU seconds
// (cpu-s) and the time per record.
//
//	go test ./store -run '^$' -bench LoadSnapshot -benchtime 3x
func BenchmarkLoadSnapshot(b *testing.B) {
	const n = 130_000
	ctx := context.Background()
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	snap := &onus.Snapshot{Source: "jamf", Kind: "device", SyncedAt: t0,
		Schema: onus.Schema{Fields: []string{"last_contact", "os_version", "filevault", "model"}, Links: []onus.LinkSpec{{Name: "owner", To: "person", Key: "email"}}}}
	snap.Records = onus.NewRecords(n)
	for i := range n {
		snap.Records.Append(&onus.Record{ID: fmt.Sprintf("%08X-0000-4000-8000-%012d", i, i), Name: fmt.Sprintf("MBP-%06d", i), Loc: i + 1, Seen: t0.Unix() - int64(i),
			Keys: []onus.Key{{Name: "serial", Value: fmt.Sprintf("C02%07d", i)}, {Name: "uuid", Value: fmt.Sprintf("%08x-0000-4000-8000-%012d", i, i)},
				{Name: "mac", Value: fmt.Sprintf("a4:83:e7:%02x:%02x:%02x", i>>16&255, i>>8&255, i&255)}, {Name: "mac", Value: fmt.Sprintf("a6:83:e7:%02x:%02x:%02x", i>>16&255, i>>8&255, i&255)},
				{Name: "hostname", Value: fmt.Sprintf("mbp-%06d", i)}},
			Links: []string{fmt.Sprintf("p%06d@acme.test", i%100_000)},
			Attrs: []any{t0.Add(-time.Duration(i) * time.Minute), []string{"15.1", "14.7", "15.0.1"}[i%3], []string{"Encrypted", "Not Encrypted"}[i%2], "MacBookPro18,3"}})
	}
	db, err := Open(ctx, filepath.Join(b.TempDir(), "onus.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	run, _ := db.BeginRun(ctx, "sync", "bench", t0)
	if err := db.SaveSync(ctx, &onus.Sync{Run: run, Source: "jamf", Status: onus.SyncOK, Records: n}, snap); err != nil {
		b.Fatal(err)
	}
	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		c0 := cpuTime()
		got, err := db.LoadSnapshot(ctx, "jamf")
		if err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
		if got.Records.Len() != n {
			b.Fatalf("loaded %d records", got.Records.Len())
		}
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}
