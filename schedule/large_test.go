package schedule_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/examples"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/schedule"
	"github.com/onus-sec/onus/store"
)

// BenchmarkExportToQueuedLarge is BenchmarkExportToQueued on a generated
// organisation of ONUS_BENCH_PEOPLE people (10,000 by default): the Okta
// export of everyone is rewritten with one leaver's account active again,
// and the time to the notice in the outbox is measured. Delivery is off,
// so that the first day's messages are planned but not sent.
//
//	ONUS_BENCH_PEOPLE=10000 go test ./schedule -run '^$' -bench ExportToQueuedLarge -benchtime 1x
func BenchmarkExportToQueuedLarge(b *testing.B) {
	people := 10000
	if v := os.Getenv("ONUS_BENCH_PEOPLE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		people = n
	}
	dir := b.TempDir()
	if err := examples.CopyConfig(examples.Acme(), dir); err != nil {
		b.Fatal(err)
	}
	if err := orggen.New(orggen.Large(people)).Write(filepath.Join(dir, "exports")); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "onus.yaml")
	y, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	// A channel is needed for planning; nothing is delivered.
	ys := strings.Replace(string(y), "  # channels:\n", "  channels:\n    email: { host: 127.0.0.1, port: 1, tls: none, from: security@acme.com }\n", 1)
	ys += "\nschedule:\n  sync: 24h\n  nudge: 24h\n  deliver: off\n"
	if err := os.WriteFile(path, []byte(ys), 0o644); err != nil {
		b.Fatal(err)
	}
	leavers := deprovisionedLeavers(b, dir)
	if len(leavers) < b.N {
		b.Fatalf("%d deprovisioned leavers, %d iterations", len(leavers), b.N)
	}
	cfg, err := config.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(context.Background(), filepath.Join(dir, "onus.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := schedule.New(schedule.Options{Config: cfg, Store: db, Clock: onus.FixedClock(morning), Wall: onus.ClockFunc(time.Now), Log: log})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t0 := time.Now()
	if err := s.RunDue(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d people: first sync, evaluation and plan in %s", people, time.Since(t0).Round(time.Millisecond))
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	time.Sleep(500 * time.Millisecond) // the watcher is up
	var total, worst time.Duration
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		reactivate(b, dir, leavers[i][0])
		d, f, m := waitQueued(b, db, leavers[i][1], t0)
		total += d
		worst = max(worst, d)
		b.Logf("%s active again: finding #%d queued to %s after %s", leavers[i][1], f.ID, m.Recipient, d.Round(time.Millisecond))
	}
	b.ReportMetric(worst.Seconds(), "worst-s")
	b.ReportMetric((total / time.Duration(b.N)).Seconds(), "s/queued")
	for _, st := range s.Status() {
		if st.Last != nil && strings.Contains(st.Last.Trigger, "after") || strings.HasPrefix(st.Last.Trigger, "watch") {
			b.Logf("%-12s %s (%s)", st.Name, st.Last.Duration.Round(time.Millisecond), st.Last.Trigger)
		}
	}
}

// deprovisionedLeavers lists [okta id, login] of terminated people whose
// account is deprovisioned in a generated organisation.
func deprovisionedLeavers(b *testing.B, dir string) [][2]string {
	f, err := os.Open(filepath.Join(dir, "exports", "hr", "people.csv"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		b.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	terminated := map[string]bool{}
	for _, r := range rows[1:] {
		if r[col["Employment Status"]] == "Terminated" {
			terminated[r[col["Work Email"]]] = true
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "exports", "okta", "users.json"))
	if err != nil {
		b.Fatal(err)
	}
	var users []struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Profile struct {
			Login, Email string
		} `json:"profile"`
	}
	if err := json.Unmarshal(raw, &users); err != nil {
		b.Fatal(fmt.Errorf("okta export: %w", err))
	}
	var out [][2]string
	for _, u := range users {
		if u.Status == "DEPROVISIONED" && terminated[u.Profile.Email] {
			out = append(out, [2]string{u.ID, u.Profile.Login})
		}
	}
	return out
}
