package source_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/identity"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/source"
)

// benchOrg generates the benchmark organisation at a size the Go
// benchmarks can afford; `onus bench` measures the full 100,000 people.
func benchOrg(b *testing.B, people int) (string, *config.Config) {
	b.Helper()
	dir := filepath.Join(os.TempDir(), "onus-source-bench")
	stamp := filepath.Join(dir, "people")
	if got, _ := os.ReadFile(stamp); string(got) != itoa(people) {
		os.RemoveAll(dir)
		if err := orggen.New(orggen.Large(people)).Write(dir); err != nil {
			b.Fatal(err)
		}
		os.WriteFile(stamp, []byte(itoa(people)), 0o644)
	}
	cfg, err := config.ParseMain("onus.yaml", mustOpen(b, "../examples/acme/onus.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	return dir, cfg
}

// cpuTime is the user and system time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func itoa(n int) string { return time.Duration(n).String() }

func mustOpen(b *testing.B, path string) *os.File {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// BenchmarkSources reads each source of a 10,000-person organisation.
func BenchmarkSources(b *testing.B) {
	dir, cfg := benchOrg(b, 10000)
	for _, src := range cfg.Sources {
		src.From.File = filepath.Join(dir, src.From.File[len("exports/"):])
		b.Run(src.Name, func(b *testing.B) {
			info, _ := os.Stat(src.From.File)
			b.SetBytes(info.Size())
			b.ReportAllocs()
			cpu0 := cpuTime()
			defer func() {
				// Wall-clock MB/s depends on what else the machine runs; the
				// bytes per second of CPU (all cores, garbage collection
				// included) does not.
				if d := (cpuTime() - cpu0).Seconds(); d > 0 {
					b.ReportMetric(float64(info.Size())*float64(b.N)/d/1e6, "MB/cpu-s")
				}
			}()
			for i := 0; i < b.N; i++ {
				res, err := source.Read(context.Background(), src, source.Options{Normalizer: identity.New(identity.Options{}), MaxBad: 0.05})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(res.Snapshot.Records.Len()), "records")
			}
		})
	}
}
