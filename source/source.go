// Package source reads systems of record into onus records: export files
// in CSV, JSON, NDJSON and osquery's results-log formats today, live
// connectors later. A source is mapped by dotted paths; everything that is
// not mapped is dropped as early as possible, because exports are large.
//
// Readers register under a format name; adding one is adding a file that
// calls Register, not editing a switch.
package source

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/identity"
)

// Reader reads every record of one source once.
type Reader interface {
	// Read maps every record with m. A record that cannot be mapped is
	// skipped and described in the batch's problems. Read returns an error,
	// and no batch, when the source cannot be read at all (a missing file, a
	// JSON document that does not parse).
	Read(ctx context.Context, m *Mapping, progress Progress) (*Batch, error)
}

// Progress receives how far a read has come, in bytes.
type Progress interface {
	// Start is called once with the total size (0 when unknown).
	Start(total int64)
	// Add reports n more bytes read.
	Add(n int64)
}

// Noter is implemented by progress displays that can show a short status
// beside the bytes: a connector's pages, records and rate-limit waits.
type Noter interface {
	// Note replaces the status.
	Note(status string)
}

// Opener makes a reader for a source; dir is the configuration directory
// that relative paths are resolved against.
type Opener func(src *config.Source, dir string) (Reader, error)

var openers = map[string]Opener{}

// Register makes a format or connector available under name. It panics
// when the name is taken, as that is a programming error.
func Register(name string, open Opener) {
	if _, dup := openers[name]; dup {
		panic("source: " + name + " registered twice")
	}
	openers[name] = open
}

// RegisterFormat registers a reader of files under name, and tells
// config's validation about the format and the file extensions that
// imply it: adding a format is adding a reader.
func RegisterFormat(name string, exts []string, open Opener) {
	Register(name, open)
	config.RegisterFormat(name, exts...)
}

// Registered lists the registered format and connector names.
func Registered() []string {
	names := make([]string, 0, len(openers))
	for n := range openers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Batch is what a reader returns.
type Batch struct {
	// File is the path read, for problems found after reading.
	File    string
	Records []onus.Record
	// Columns, when set, holds the records instead of Records: a reader of
	// millions of records (osquery's log) stores them column by column as
	// it goes.
	Columns  *onus.Records
	Problems []*Problem
	// Presence counts, per schema field, the records that had a value.
	Presence []int
	// Sigs holds, per record, the class of each slot's value (see
	// Mapping.consistent); nil when the reader does not keep them.
	Sigs []uint8
}

// Problem is a record that could not be read, with where it is.
type Problem = onus.RecordError

// Result is the outcome of reading one source.
type Result struct {
	Snapshot *onus.Snapshot
	// Problems are the skipped records (at most MaxProblems of them).
	Problems []*Problem
	// Bad is how many records were skipped in all.
	Bad int
	// Warnings are suspicious but accepted facts ("field x was empty in
	// every record").
	Warnings []string
	// Bytes is the size read.
	Bytes int64
}

// MaxProblems bounds how many skipped records a result describes.
const MaxProblems = 200

// ErrTooManyBad is returned (wrapped) when more records are malformed
// than the source's threshold allows.
var ErrTooManyBad = errors.New("too many malformed records")

// Options are the settings of one read.
type Options struct {
	Dir        string
	Normalizer *identity.Normalizer
	// MaxBad is the largest fraction of malformed records accepted.
	MaxBad   float64
	Progress Progress
	Now      time.Time
	// Reader, when set, reads the source instead of the registered reader
	// (a connector the caller opened, to watch its requests).
	Reader Reader
	// Previous returns the source's snapshot in force (nil, nil when there
	// is none), for connectors that pull only what changed since it.
	Previous func(ctx context.Context) (*onus.Snapshot, error)
}

// ReadInfo is what a reader may know of a read beyond its mapping: when
// it started and the snapshot in force. Readers get it with InfoFrom.
type ReadInfo struct {
	Now      time.Time
	Previous func(ctx context.Context) (*onus.Snapshot, error)
}

type readInfoKey struct{}

// InfoFrom returns the ReadInfo of the read ctx belongs to.
func InfoFrom(ctx context.Context) ReadInfo {
	if ri, ok := ctx.Value(readInfoKey{}).(ReadInfo); ok {
		return ri
	}
	return ReadInfo{}
}

// Read reads one source: it opens the reader registered for the source's
// format or connector, maps every record, drops duplicate ids, and fails
// when more records are malformed than allowed. The result is returned
// even with an error, so callers can show the problems.
func Read(ctx context.Context, src *config.Source, o Options) (*Result, error) {
	name := src.Connector
	if name == "" {
		name = config.FormatOf(src.From)
	}
	_, ok := openers[name]
	if o.Reader != nil {
		ok = true
	}
	if !ok && (src.Connector != "" || !isPattern(o.Dir, src.From)) {
		if src.Connector != "" {
			return nil, onus.Errorf(onus.EINVALID, "source %s: no connector called %q (available: %s)", src.Name, name, strings.Join(Registered(), ", "))
		}
		return nil, onus.Errorf(onus.EINVALID, "source %s: no reader for format %q", src.Name, name)
	}
	norm := o.Normalizer
	if norm == nil {
		norm = identity.New(identity.Options{})
	}
	m, err := NewMapping(src, norm)
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "%v", err)
	}
	prog := o.Progress
	if prog == nil {
		prog = nopProgress{}
	}
	counted := &countingProgress{next: prog}
	ctx = context.WithValue(ctx, readInfoKey{}, ReadInfo{Now: o.Now, Previous: o.Previous})
	var batch *Batch
	var warnings []string
	if o.Reader != nil {
		if batch, err = o.Reader.Read(ctx, m, counted); err != nil {
			return nil, fmt.Errorf("source %s: %w", src.Name, err)
		}
	} else if batch, warnings, err = readFiles(ctx, src, o.Dir, m, counted); err != nil {
		return nil, err
	}
	res := &Result{Bytes: counted.n.Load(), Warnings: warnings}
	cprobs, cwarnings := m.consistent(batch.Records, batch.Sigs, batch.File)
	batch.Problems = append(batch.Problems, cprobs...)
	batch.Sigs = nil
	recs := batch.Columns
	if recs == nil {
		recs, batch.Records = m.columns(batch.Records), nil
	}
	recs = dedupe(recs, &batch.Problems, batch.File)
	res.Bad = len(batch.Problems)
	probs := batch.Problems
	sort.SliceStable(probs, func(i, j int) bool {
		if probs[i].Line != probs[j].Line {
			return probs[i].Line < probs[j].Line
		}
		return probs[i].Index < probs[j].Index
	})
	if len(probs) > MaxProblems {
		probs = probs[:MaxProblems]
	}
	res.Problems = probs
	// Every bad record is counted once: the stubs kept for skipped
	// records (so that they join their entities) are among recs too.
	total := res.Bad
	for i := range recs.Len() {
		if !recs.Skipped(i) {
			total++
		}
	}
	for i, n := range batch.Presence {
		if n == 0 && recs.Len() > 0 {
			f := m.fields[i]
			res.Warnings = append(res.Warnings, fmt.Sprintf("field %s (path %s) had no value in any of the %d records; check the path", f.name, f.path, recs.Len()))
		}
	}
	res.Warnings = append(res.Warnings, cwarnings...)
	if m.where != nil {
		kept, err := m.filter(recs)
		if err != nil {
			return nil, fmt.Errorf("source %s: where: %w", src.Name, err)
		}
		if kept.Len() == 0 && recs.Len() > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("where kept none of the %d records", recs.Len()))
		}
		recs = kept
	}
	recs.Compact()
	res.Snapshot = &onus.Snapshot{Source: src.Name, Kind: src.Kind, SyncedAt: o.Now, Schema: m.Schema(), Records: recs}
	if res.Bad > 0 && float64(res.Bad) > o.MaxBad*float64(total) {
		return res, fmt.Errorf("source %s: %w: %d of %d records could not be read (the limit is %.0f%%); first: %v",
			src.Name, ErrTooManyBad, res.Bad, total, o.MaxBad*100, res.Problems[0])
	}
	return res, nil
}

// dedupe drops records whose id repeats an earlier record's, adding a
// problem for each; the first record wins. It uses a flat open-addressing
// table of 8-byte slots (part of the hash, and the index) rather than a
// map: at 5 million records that is 64 MiB, filled to 60 %, with no
// per-entry allocation.
func dedupe(recs *onus.Records, probs *[]*Problem, file string) *onus.Records {
	n := recs.Len()
	size := 1
	for size < n+n/2+1 {
		size <<= 1
	}
	type slot struct {
		hash uint32 // the hash's high bits
		idx  int32  // record index plus one; 0 is empty
	}
	table := make([]slot, size)
	seed := maphash.MakeSeed()
	mask := uint64(size - 1)
	var drop []bool
	for r := range n {
		h := recs.IDHash(seed, r)
		hi := uint32(h >> 32)
		dup := -1
		i := h & mask
		for ; table[i].idx != 0; i = (i + 1) & mask {
			if table[i].hash == hi && recs.SameID(int(table[i].idx-1), r) {
				dup = int(table[i].idx - 1)
				break
			}
		}
		if dup >= 0 {
			*probs = append(*probs, &Problem{File: file, Line: recs.Loc(r), ID: recs.ID(r), Field: "id",
				Message: fmt.Sprintf("duplicate id: the record at line %d has the same id; the first is kept", recs.Loc(dup))})
			if drop == nil {
				drop = make([]bool, n)
			}
			drop[r] = true
			continue
		}
		table[i] = slot{hash: hi, idx: int32(r + 1)}
	}
	if drop == nil {
		return recs
	}
	return recs.Filter(func(i int) bool { return !drop[i] })
}

type nopProgress struct{}

func (nopProgress) Start(int64) {}
func (nopProgress) Add(int64)   {}

type countingProgress struct {
	next Progress
	n    atomic.Int64
}

func (c *countingProgress) Start(total int64) { c.next.Start(total) }
func (c *countingProgress) Add(n int64)       { c.n.Add(n); c.next.Add(n) }
func (c *countingProgress) Note(s string) {
	if n, ok := c.next.(Noter); ok {
		n.Note(s)
	}
}

// progressReader reports bytes as they are read.
type progressReader struct {
	r io.Reader
	p Progress
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	if n > 0 {
		pr.p.Add(int64(n))
	}
	return n, err
}

// openFile opens a source file relative to dir and announces its size.
func openFile(dir, name string, p Progress) (*os.File, io.Reader, error) {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, name)
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, onus.Errorf(onus.EINVALID, "file %s does not exist", path)
		}
		return nil, nil, onus.Errorf(onus.EINVALID, "cannot open %s: %v", path, errors.Unwrap(err))
	}
	if st, err := f.Stat(); err == nil {
		if st.IsDir() {
			f.Close()
			return nil, nil, onus.Errorf(onus.EINVALID, "%s is a directory, not an export file", path)
		}
		p.Start(st.Size())
	}
	return f, &progressReader{r: f, p: p}, nil
}

// readAll reads a whole file, reporting progress.
func readAll(dir, name string, p Progress) ([]byte, string, error) {
	f, r, err := openFile(dir, name, p)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	buf := make([]byte, 0, size+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", onus.Errorf(onus.EINVALID, "cannot read %s: %v", f.Name(), err)
		}
	}
	return buf, f.Name(), nil
}
