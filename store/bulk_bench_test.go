package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/onus-sec/onus"
)

// BenchmarkFirstPersist measures what a first evaluation at 100,000
// people writes into an empty SQLite store: the people directory (100,000
// people, 130,000 assets), then 50,000 new findings with their "opened"
// events. It reports the CPU seconds of each (cpu-s-directory,
// cpu-s-findings), the figures a shared machine distorts least.
//
//	go test ./store -run '^$' -bench FirstPersist -benchtime 1x
func BenchmarkFirstPersist(b *testing.B) {
	const people, assets, findings = 100_000, 130_000, 50_000
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	ctx := context.Background()
	members := make([]*onus.Member, people)
	for i := range members {
		members[i] = &onus.Member{Email: fmt.Sprintf("p%06d@acme.test", (i*7919)%people), Name: fmt.Sprintf("Person %d", i), Entity: fmt.Sprintf("person:employee_id:%d", i),
			Status: "active", Manager: fmt.Sprintf("p%06d@acme.test", i/100), Team: fmt.Sprintf("team %d", i%300), TimeZone: "Europe/Paris", Channel: "email"}
	}
	as := make([]onus.Asset, assets)
	for i := range as {
		as[i] = onus.Asset{Person: fmt.Sprintf("p%06d@acme.test", (i*7919)%people), Entity: fmt.Sprintf("device:serial:C02%07d", i), Kind: "device", Name: fmt.Sprintf("LAPTOP-%d", i), Link: "owner"}
	}
	var dir, fnd time.Duration
	for range b.N {
		b.StopTimer()
		db, err := Open(ctx, filepath.Join(b.TempDir(), "onus.db"))
		if err != nil {
			b.Fatal(err)
		}
		changes := make([]onus.FindingChange, findings)
		for i := range changes {
			changes[i] = onus.FindingChange{New: true, Finding: onus.Finding{Control: []string{"patch", "disk", "edr", "mfa"}[i%4], Entity: fmt.Sprintf("device:serial:C02%07d", (i*104729)%assets),
				EntityKind: "device", EntityName: fmt.Sprintf("LAPTOP-%d", i), Severity: onus.Severities[i%4], State: onus.StateOpen,
				Responsible: onus.Person{Email: fmt.Sprintf("p%06d@acme.test", (i*31)%people), Name: "Someone"}, FirstFailed: now, LastFailed: now,
				Due: now.Add(time.Duration(i%1000) * time.Hour), UpdatedAt: now, Evidence: []onus.Evidence{{Path: "sources.jamf.filevault", Value: "Not Encrypted"}},
				Accountable: onus.Person{Email: "ciso@acme.test"}},
				Events: []onus.Event{{At: now, Type: onus.EventOpened, To: string(onus.StateOpen)}}}
		}
		run, _ := db.BeginRun(ctx, "eval", "bench", now)
		b.StartTimer()
		c0 := cpuTime()
		if err := db.ReplaceDirectory(ctx, members, as); err != nil {
			b.Fatal(err)
		}
		c1 := cpuTime()
		if err := db.ApplyChanges(ctx, run, changes, nil, -1); err != nil {
			b.Fatal(err)
		}
		c2 := cpuTime()
		b.StopTimer()
		dir += c1 - c0
		fnd += c2 - c1
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(dir.Seconds()/float64(b.N), "cpu-s-directory")
	b.ReportMetric(fnd.Seconds()/float64(b.N), "cpu-s-findings")
}
