package all_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/connector/connectortest"
	"github.com/onus-sec/onus/source"
)

// BenchmarkPull pulls a large organisation through local vendor APIs, as a
// sync does (mapping included, nothing stored): 100,000 Okta users and
// 130,000 devices from each device API. The servers run in a second
// process on the same cores, so the figures are a floor; the real limit is
// the vendor's rate limit. records/cpu-s counts this process's CPU only. It reports records per second and the peak
// heap.
//
//	go test -run '^$' -bench Pull -benchtime 1x ./connector/all/
func BenchmarkPull(b *testing.B) {
	b.Setenv("T_TOKEN", "api-token")
	b.Setenv("T_ID", "onus-client")
	b.Setenv("T_SECRET", "s3cret")
	oauth := map[string]string{"client_id": "env:T_ID", "client_secret": "env:T_SECRET"}
	device := config.Map{ID: "id", Name: "name", Keys: map[string]config.Paths{"serial": {"serial"}}}
	for _, bc := range []struct {
		name string
		n    int
		src  func(url string) *config.Source
	}{
		{"okta-users", 100_000, func(u string) *config.Source {
			return &config.Source{Connector: "okta", Options: map[string]string{"domain": u}, Credentials: map[string]string{"token": "env:T_TOKEN"},
				Map: config.Map{ID: "id", Name: "profile.login", Keys: map[string]config.Paths{"email": {"profile.email"}, "employee_id": {"profile.employeeNumber"}},
					Fields: map[string]*config.Field{"status": {Path: "status"}, "last_login": {Path: "lastLogin", Type: "time"}}}}
		}},
		{"crowdstrike-devices", 130_000, func(u string) *config.Source {
			m := device
			m.ID, m.Name, m.Keys = "device_id", "hostname", map[string]config.Paths{"serial": {"serial_number"}, "mac": {"mac_address"}, "hostname": {"hostname"}}
			m.Fields = map[string]*config.Field{"last_seen": {Path: "last_seen", Type: "time"}, "agent_version": {Path: "agent_version"}}
			return &config.Source{Connector: "crowdstrike", Options: map[string]string{"base_url": u}, Credentials: oauth, Map: m}
		}},
		{"intune-devices", 130_000, func(u string) *config.Source {
			m := device
			m.Name, m.Keys = "deviceName", map[string]config.Paths{"serial": {"serialNumber"}, "mac": {"wiFiMacAddress", "ethernetMacAddress"}}
			m.Fields = map[string]*config.Field{"last_sync": {Path: "lastSyncDateTime", Type: "time"}, "encrypted": {Path: "isEncrypted", Type: "bool"}}
			return &config.Source{Connector: "intune", Options: map[string]string{"tenant": "acme", "graph_url": u, "login_url": u}, Credentials: oauth, Map: m}
		}},
		{"jamf-devices", 130_000, func(u string) *config.Source {
			m := device
			m.ID, m.Name, m.Keys = "udid", "general.name", map[string]config.Paths{"serial": {"hardware.serialNumber"}, "mac": {"hardware.macAddress", "hardware.altMacAddress"}}
			m.Fields = map[string]*config.Field{"last_contact": {Path: "general.lastContactTime", Type: "time"}, "filevault": {Path: "operatingSystem.fileVault2Status"}}
			return &config.Source{Connector: "jamf", Options: map[string]string{"url": u, "page_size": "2000"}, Credentials: oauth, Map: m}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			url := benchServer(b, bc.name, bc.n)
			src := bc.src(url)
			src.Name, src.Kind = "bench", "thing"
			runtime.GC()
			base := heapObjects()
			var peak atomic.Uint64
			done := make(chan struct{})
			go func() {
				t := time.NewTicker(2 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-done:
						return
					case <-t.C:
						if h := heapObjects(); h > peak.Load() {
							peak.Store(h)
						}
					}
				}
			}()
			cpu0 := cpuTime()
			var bytes int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := source.Read(context.Background(), src, source.Options{MaxBad: 0.01})
				if err != nil {
					b.Fatal(err)
				}
				if got := res.Snapshot.Records.Len(); got != bc.n {
					b.Fatalf("%d records, want %d", got, bc.n)
				}
				bytes += res.Bytes
			}
			b.StopTimer()
			close(done)
			cpu := (cpuTime() - cpu0).Seconds()
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(bc.n*b.N)/secs, "records/s")
			b.ReportMetric(float64(bc.n*b.N)/cpu, "records/cpu-s")
			b.ReportMetric(float64(bytes)/secs/(1<<20), "MiB/s")
			b.ReportMetric(float64(peak.Load()-min(base, peak.Load()))/(1<<20), "peak-heap-MiB")
		})
	}
}

// benchServer starts this test binary again as the vendor's server, so that
// the server's data and work stay out of the measured process.
func benchServer(b *testing.B, name string, n int) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestBenchServer$")
	cmd.Env = append(os.Environ(), "ONUS_BENCH_SERVE="+name+":"+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "serving "); ok {
			go io.Copy(io.Discard, out)
			return u
		}
	}
	b.Fatalf("the bench server did not start")
	return ""
}

// TestBenchServer is the server half of BenchmarkPull; it does nothing in
// an ordinary test run.
func TestBenchServer(t *testing.T) {
	spec := os.Getenv("ONUS_BENCH_SERVE")
	if spec == "" {
		return
	}
	name, count, _ := strings.Cut(spec, ":")
	n, _ := strconv.Atoi(count)
	s := connectortest.New()
	defer s.Close()
	switch name {
	case "okta-users":
		s.Okta(oktaUsers(t, n), nil, nil)
	case "crowdstrike-devices":
		s.Falcon(falconDevices(t, n))
	case "intune-devices":
		s.Graph(graphDevices(t, n), 1000)
	case "jamf-devices":
		s.Jamf(jamfComputers(t, n))
	default:
		t.Fatalf("no bench server %q", name)
	}
	fmt.Println("serving " + s.URL)
	io.Copy(io.Discard, os.Stdin) // until the benchmark closes stdin
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
