package bench

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

// liveHeap is the heap the last garbage collection marked live.
func liveHeap() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// writeHeapProfile collects garbage and writes an in-use heap profile.
func writeHeapProfile(path string) {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	pprof.Lookup("heap").WriteTo(f, 0)
}

// rssSampler reads the process's resident memory every 20 ms and keeps
// the split (anonymous, file-backed) of the highest reading since the last
// reset. The kernel's high-water mark (VmHWM) has no such split.
type rssSampler struct {
	mu         sync.Mutex
	total      int64
	anon, file int64
	goMem      int64 // memory the Go runtime holds from the OS at that reading
	samples    []metrics.Sample
	done       chan struct{}
	wg         sync.WaitGroup
}

func sampleRSS() *rssSampler {
	s := &rssSampler{done: make(chan struct{}), samples: []metrics.Sample{
		{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}}
	s.read()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.read()
			}
		}
	}()
	return s
}

func (s *rssSampler) read() {
	anon, file, shmem, ok := rssSplit()
	if !ok {
		return
	}
	s.mu.Lock()
	if t := anon + file + shmem; t > s.total {
		metrics.Read(s.samples)
		s.total, s.anon, s.file = t, anon, file+shmem
		s.goMem = int64(s.samples[0].Value.Uint64() - s.samples[1].Value.Uint64())
	}
	s.mu.Unlock()
}

// peak returns the split of the highest reading, taking one more reading
// first.
func (s *rssSampler) peak() (anon, file, goMem int64) {
	s.read()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.anon, s.file, s.goMem
}

func (s *rssSampler) reset() {
	s.mu.Lock()
	s.total, s.anon, s.file, s.goMem = 0, 0, 0, 0
	s.mu.Unlock()
	s.read()
}

func (s *rssSampler) stop() {
	close(s.done)
	s.wg.Wait()
}

// rssSplit reads RssAnon, RssFile and RssShmem from /proc/self/status
// (Linux), in bytes.
func rssSplit() (anon, file, shmem int64, ok bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("RssAnon:")):
			dst = &anon
		case bytes.HasPrefix(line, []byte("RssFile:")):
			dst = &file
		case bytes.HasPrefix(line, []byte("RssShmem:")):
			dst = &shmem
		default:
			continue
		}
		f := bytes.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			continue
		}
		*dst = kb << 10
		n++
	}
	return anon, file, shmem, n == 3
}
