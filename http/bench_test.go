package http

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/authz"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/raci"
	"github.com/onus-sec/onus/store"
)

// The benchmark organisation: 100,000 people (a CEO, 10 VPs, 100
// directors, 1,000 line managers with about 99 reports each) and 300,000
// findings over five controls, 70% open, 25% resolved, 5% exempted, due
// dates spread around now.
const (
	benchPeople   = 100_000
	benchFindings = 300_000
	benchUsers    = 50
)

var benchOnce struct {
	sync.Once
	path string
	err  error
}

func benchEmail(i int) string { return fmt.Sprintf("p%06d@big.test", i) }

// benchManager returns the manager of person i in the tree.
func benchManager(i int) int {
	switch {
	case i == 0:
		return -1
	case i <= 10:
		return 0
	case i <= 110:
		return 1 + (i-11)/10
	case i <= 1110:
		return 11 + (i-111)/10
	}
	return 111 + (i-1111)%1000
}

// benchStore builds the benchmark organisation once per process, in a
// file kept in the temporary directory between runs.
func benchStore(b *testing.B) string {
	benchOnce.Do(func() {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("onus-web-bench-%d-%d-v4.db", benchPeople, benchFindings))
		benchOnce.path = path
		if _, err := os.Stat(path); err == nil {
			return
		}
		ctx := context.Background()
		tmp := path + ".tmp"
		os.Remove(tmp)
		db, err := store.Open(ctx, tmp)
		if err != nil {
			benchOnce.err = err
			return
		}
		defer db.Close()
		people := make([]*raci.Person, benchPeople)
		for i := range people {
			m := ""
			if k := benchManager(i); k >= 0 {
				m = benchEmail(k)
			}
			people[i] = &raci.Person{Email: benchEmail(i), Name: fmt.Sprintf("Person %d", i), Entity: fmt.Sprintf("person:%d", i),
				Status: raci.Active, Manager: m, Team: fmt.Sprintf("team-%03d", i%120), TimeZone: "Europe/Berlin"}
		}
		assets := make([]onus.Asset, 0, benchPeople)
		for i := range benchPeople {
			assets = append(assets, onus.Asset{Person: benchEmail(i), Entity: fmt.Sprintf("device:%d", i), Kind: "device", Name: fmt.Sprintf("MBP-%06d", i), Link: "owner"})
		}
		if err := db.ReplaceDirectory(ctx, people, assets); err != nil {
			benchOnce.err = err
			return
		}
		run, _ := db.BeginRun(ctx, "eval", "bench", testNow)
		rnd := rand.New(rand.NewPCG(1, 2))
		controls := []string{"patch", "disk", "edr", "mfa", "apps"}
		sevs := []onus.Severity{onus.Critical, onus.High, onus.Medium, onus.Low}
		changes := make([]onus.FindingChange, 0, benchFindings)
		for i := range benchFindings {
			owner := rnd.IntN(benchPeople)
			c := rnd.IntN(len(controls))
			first := testNow.Add(-time.Duration(rnd.IntN(84*24)) * time.Hour)
			f := onus.Finding{Control: controls[c], Entity: fmt.Sprintf("device:%d:%d", owner, i), EntityKind: "device", EntityName: fmt.Sprintf("MBP-%06d-%d", owner, i),
				Severity: sevs[rnd.IntN(4)], State: onus.StateOpen, Responsible: onus.Person{Email: benchEmail(owner), Name: fmt.Sprintf("Person %d", owner)},
				Accountable: onus.Person{Email: benchEmail(1 + c)}, OwnerReason: "owner of the device",
				FirstFailed: first, LastFailed: testNow, Due: first.Add(time.Duration(2+rnd.IntN(60)) * 24 * time.Hour), UpdatedAt: testNow,
				Evidence: []onus.Evidence{{Path: "sources.mdm." + controls[c], Value: "false"}}}
			switch r := rnd.IntN(100); {
			case r < 25:
				f.State = onus.StateResolved
				t := first.Add(time.Duration(1+rnd.IntN(20*24)) * time.Hour)
				f.ResolvedAt = &t
			case r < 30:
				f.State = onus.StateExempted
			}
			changes = append(changes, onus.FindingChange{New: true, Finding: f, Events: []onus.Event{{At: first, Type: "opened"}}})
		}
		if err := db.ApplyChanges(ctx, run, changes, nil, -1); err != nil {
			benchOnce.err = err
			return
		}
		db.FinishRun(ctx, run, nil, nil)
		if err := db.Optimize(ctx); err != nil {
			benchOnce.err = err
			return
		}
		db.Close()
		benchOnce.err = os.Rename(tmp, path)
	})
	if benchOnce.err != nil {
		b.Fatal(benchOnce.err)
	}
	return benchOnce.path
}

func benchConfig() *config.Config {
	cfg := testConfig()
	cfg.Controls = nil
	for _, c := range []string{"patch", "disk", "edr", "mfa", "apps"} {
		cfg.Controls = append(cfg.Controls, &config.Control{ID: c, Title: c, Activity: "patching", Severity: "high", Fix: "Fix {{.Entity.Name}}."})
	}
	cfg.Serve.Admins = []string{benchEmail(5000)}
	return cfg
}

// benchRate is the open loop's arrival rate: 50 active users who each
// ask for a page every 5 seconds on average (reading, then clicking), in
// Poisson arrivals.
const benchRate = 10.0 // requests per second

// benchBusyRate is a busier hour: the same 50 users each asking for a page
// every second (open50).
const benchBusyRate = 50.0

// BenchmarkServe measures pages at the size of a large company, through
// the whole handler (sessions, authz, SQLite, templates), in two loads:
//
//   - closed: 50 signed-in users request the same kind of page at once,
//     back to back, for b.N requests in all. The worst case for 50 users:
//     a request waits for the 49 others, so p50 ≈ 25 × the CPU per
//     request on 2 cores.
//   - open: requests arrive at benchRate per second whatever the server
//     does, as 50 users with think time would send them;
//   - open50: the same at benchBusyRate, 50 users each clicking every
//     second.
//
// It reports the p50 and p99 latency and the CPU time per request (the
// figure that does not depend on what else the machine runs).
//
//	go test ./http -run '^$' -bench Serve -benchtime 200x
func BenchmarkServe(b *testing.B) {
	path := benchDB(b, benchStore(b)) // ONUS_BENCH_DB: on PostgreSQL
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetPool(8)
	az := authz.New(db, benchConfig(), onus.FixedClock(testNow))
	srv, err := New(ctx, az, slog.New(slog.DiscardHandler), onus.ClockFunc(time.Now), Options{})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	cookie := func(email string) string {
		secret := authz.NewSecret()
		now := time.Now()
		if err := db.CreateSession(ctx, &store.Session{ID: authz.HashToken(secret), Email: email, Method: "demo", CSRF: "x", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		return secret
	}
	users := func(pick func(i int) string) []string {
		out := make([]string, benchUsers)
		for i := range out {
			out[i] = cookie(pick(i))
		}
		return out
	}
	employees := users(func(i int) string { return benchEmail(2000 + i*1777) })
	managers := users(func(i int) string { return benchEmail(111 + i*19) })
	admins := users(func(int) string { return benchEmail(5000) })
	// The third page of the mfa findings: a keyset cursor, as the second
	// page's next link carries it.
	p, err := db.FindingsPage(ctx, store.FindingQuery{Visibility: store.Visibility{All: true}, Control: "mfa", States: []onus.State{onus.StateOpen}, Limit: 100})
	if err != nil || p.Next == nil {
		b.Fatalf("mfa page: %v", err)
	}
	third := "/findings?control=mfa&after=" + url.QueryEscape(p.Next.String())
	for _, bc := range []struct {
		name    string
		path    func(i int) string
		cookies []string
		cold    bool
	}{
		{"MyPage", func(int) string { return "/me" }, employees, false},
		{"TeamPage", func(int) string { return "/team" }, managers, false},
		{"FindingsFiltered", func(i int) string {
			return []string{"/findings?severity=high&overdue=1", "/findings?control=edr&team=team-007", "/findings?state=exempted&severity=critical",
				third}[i%4]
		}, admins, false},
		{"FindingsManager", func(int) string { return "/findings?severity=high" }, managers, false},
		{"Dashboard", func(int) string { return "/dashboard" }, admins, false},
		{"DashboardUncached", func(int) string { return "/dashboard" }, admins, true},
		{"DashboardManager", func(int) string { return "/dashboard" }, managers, false},
	} {
		for _, mode := range []string{"closed", "open", "open50"} {
			b.Run(bc.name+"/"+mode, func(b *testing.B) {
				// Warm up: the directory cache, and each user's page once,
				// as signed-in users have used the server before (a
				// server's first minutes read the database from disk).
				for u := range bc.cookies {
					serveOnce(b, h, bc.path(u), bc.cookies[u], srv.cookieName())
				}
				lat := make([]time.Duration, 0, b.N)
				var mu sync.Mutex
				one := func(i, u int) {
					if bc.cold {
						az.Forget()
					}
					start := time.Now()
					serveOnce(b, h, bc.path(i), bc.cookies[u], srv.cookieName())
					d := time.Since(start)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
				cpu0 := cpuTime()
				b.ResetTimer()
				var wg sync.WaitGroup
				if mode == "closed" {
					next := make(chan int, b.N)
					for i := range b.N {
						next <- i
					}
					close(next)
					for u := range benchUsers {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for i := range next {
								one(i, u)
							}
						}()
					}
				} else {
					rnd := rand.New(rand.NewPCG(3, 5))
					rate := benchRate
					if mode == "open50" {
						rate = benchBusyRate
					}
					at := time.Now()
					for i := range b.N {
						at = at.Add(time.Duration(rnd.ExpFloat64() / rate * float64(time.Second)))
						time.Sleep(time.Until(at))
						wg.Add(1)
						go func() {
							defer wg.Done()
							one(i, i%benchUsers)
						}()
					}
				}
				wg.Wait()
				b.StopTimer()
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				q := func(p float64) float64 {
					return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
				}
				b.ReportMetric(q(0.50), "p50-ms")
				b.ReportMetric(q(0.99), "p99-ms")
			})
		}
	}
}

func serveOnce(b *testing.B, h http.Handler, path, cookie, name string) {
	r := httptest.NewRequest("GET", path, nil)
	r.AddCookie(&http.Cookie{Name: name, Value: cookie})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		b.Fatalf("GET %s: %d %s", path, w.Code, clipBody(w.Body.String()))
	}
}

// cpuTime is the CPU time the process used: on a shared machine it says
// what a request costs better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
