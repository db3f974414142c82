package source

import (
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
	"sort"
	"sync"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
)

func init() {
	RegisterFormat("ndjson", []string{".ndjson", ".jsonl"}, func(src *config.Source, dir string) (Reader, error) {
		return &ndjsonReader{dir: dir, file: src.From.File}, nil
	})
}

// ndjsonReader reads one JSON object per line. A line that does not parse
// is skipped and named; the others are kept.
type ndjsonReader struct {
	dir, file string
}

func (r *ndjsonReader) Read(ctx context.Context, m *Mapping, p Progress) (*Batch, error) {
	f, in, err := openFile(r.dir, r.file, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	path := f.Name()
	paths, trie := m.jsonPaths(), m.trie()
	type part struct {
		seq      int
		recs     []onus.Record
		probs    []*Problem
		presence []int
		sigs     []uint8
	}
	var mu sync.Mutex
	var parts []part
	var pool interners
	err = eachLines(ctx, in, fileSize(f), func(seq int, chunk []byte, line int) {
		pt := part{seq: seq, presence: make([]int, len(m.fields))}
		vals := make([]raw, len(m.slots))
		in := pool.get()
		defer pool.put(in)
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			var l []byte
			if i < 0 {
				l, chunk = chunk, nil
			} else {
				l, chunk = chunk[:i], chunk[i+1:]
			}
			l = bytes.TrimSpace(l)
			if len(l) > 0 {
				if line == 1 {
					l = bytes.TrimPrefix(l, []byte("\xef\xbb\xbf"))
				}
				if err := extract(l, trie, paths, vals, true); err != nil {
					pt.probs = append(pt.probs, &Problem{File: path, Line: line, Message: err.Error()})
				} else {
					rec, prob := m.build(vals, line, pt.presence, in)
					if prob != nil {
						prob.File, prob.Line = path, line
						pt.probs = append(pt.probs, prob)
					}
					if prob == nil || rec.ID != "" {
						pt.recs = append(pt.recs, rec)
						pt.sigs = sig(vals, pt.sigs)
					}
				}
			}
			line++
		}
		mu.Lock()
		parts = append(parts, pt)
		mu.Unlock()
	})
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "cannot read %s: %v", path, err)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].seq < parts[j].seq })
	b := &Batch{File: path, Presence: make([]int, len(m.fields))}
	n := 0
	for _, pt := range parts {
		n += len(pt.recs)
	}
	b.Records = make([]onus.Record, 0, n)
	for _, pt := range parts {
		b.Records = append(b.Records, pt.recs...)
		b.Sigs = append(b.Sigs, pt.sigs...)
		b.Problems = append(b.Problems, pt.probs...)
		for i, c := range pt.presence {
			b.Presence[i] += c
		}
	}
	return b, ctx.Err()
}

// fileSize is f's size, or 0 when it cannot be told.
func fileSize(f *os.File) int64 {
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		return st.Size()
	}
	return 0
}

// chunkSize is how many bytes of whole lines a worker takes at a time.
const chunkSize = 4 << 20

// eachLines reads in and calls fn from several goroutines on chunks of
// whole lines. line is the 1-based number of the chunk's first line. The
// chunk is only valid during the call. size, the file's size when known,
// bounds the buffers: a small file does not cost a worker's chunk each.
func eachLines(ctx context.Context, in io.Reader, size int64, fn func(seq int, chunk []byte, line int)) error {
	workers := runtime.GOMAXPROCS(0)
	type job struct {
		seq, line int
		buf       []byte
	}
	jobs := make(chan job, workers)
	bufSize := chunkSize
	if size > 0 && size < chunkSize {
		bufSize = max(int(size)+1, 4096)
	}
	// Buffers are made when first taken.
	free := make(chan []byte, workers+2)
	for i := 0; i < workers+2; i++ {
		free <- nil
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				fn(j.seq, j.buf, j.line)
				select {
				case free <- j.buf[:cap(j.buf)]:
				default:
				}
			}
		}()
	}
	var carry []byte
	seq, line := 0, 1
	var read int64 // bytes read so far
	var rerr error
	for {
		if ctx.Err() != nil {
			rerr = ctx.Err()
			break
		}
		buf := <-free
		if buf == nil {
			// The last chunks of a file need no more than what is left
			// of it: a 5 MB file costs a 4 MiB and a 1 MiB buffer, not two
			// of 4 MiB to clear.
			want := bufSize
			if size > 0 {
				if left := size - read + int64(len(carry)) + 1; left < int64(want) {
					want = max(int(left), 4096)
				}
			}
			buf = make([]byte, want)
		}
		buf = buf[:cap(buf)]
		n := copy(buf, carry)
		if n == len(buf) { // a line longer than the buffer
			nb := make([]byte, 2*len(buf))
			copy(nb, buf)
			buf = nb
		}
		m, err := io.ReadFull(in, buf[n:])
		read += int64(m)
		total := n + m
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			rerr = err
			break
		}
		data := buf[:total]
		var cut int
		if eof {
			cut = total
		} else {
			cut = bytes.LastIndexByte(data, '\n') + 1
			if cut == 0 { // no newline yet: keep reading into a larger buffer
				carry = append(carry[:0:0], data...)
				free <- buf[:cap(buf)]
				continue
			}
		}
		carry = append(carry[:0], data[cut:]...)
		if cut > 0 {
			jobs <- job{seq: seq, line: line, buf: data[:cut]}
			line += bytes.Count(data[:cut], []byte{'\n'})
			if data[cut-1] != '\n' {
				line++
			}
			seq++
		}
		if eof {
			break
		}
	}
	close(jobs)
	wg.Wait()
	return rerr
}
