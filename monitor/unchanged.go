package monitor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/source"
)

// A file source whose files hold the same bytes as when its snapshot in
// force was read is not read again: the sync records it as unchanged and
// the evaluation uses that snapshot. What a source was read from is its
// fingerprint: a hash of its configuration (and of what else changes what
// a reader makes of the same bytes), and each file's path, size,
// modification time and SHA-256. A file whose size and modification time
// are those on record is taken to hold the same bytes without hashing it,
// unless it was modified so close to when it was last fingerprinted that
// a later write in the same clock tick could hide (git's "racily clean"
// rule); any other file is hashed, so a file touched but not changed is
// still recognised.

// readerVersion names what readers and the snapshot encoding make of a
// file's bytes. Change it when that changes, so that an upgraded onus
// reads every source again.
const readerVersion = "1"

// racyWindow is how close to the last fingerprint a modification time
// must be for size and time not to be trusted.
const racyWindow = 2 * time.Second

type fileStamp struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime_ns"`
	Hash  string `json:"sha256"`
}

type fingerprint struct {
	Config string      `json:"config"`
	At     int64       `json:"at_ns"` // when the files were stamped (operational time)
	Files  []fileStamp `json:"files"`
}

// sameContent reports whether two fingerprints say the same configuration
// read the same bytes.
func (f *fingerprint) sameContent(g *fingerprint) bool {
	if f == nil || g == nil || f.Config != g.Config || len(f.Files) != len(g.Files) {
		return false
	}
	for i := range f.Files {
		if f.Files[i].Path != g.Files[i].Path || f.Files[i].Hash != g.Files[i].Hash {
			return false
		}
	}
	return true
}

func parseFingerprint(s string) *fingerprint {
	if s == "" {
		return nil
	}
	var f fingerprint
	if json.Unmarshal([]byte(s), &f) != nil {
		return nil
	}
	return &f
}

func (f *fingerprint) String() string {
	b, _ := json.Marshal(f)
	return string(b)
}

// configHash hashes what, beside the files' bytes, decides a source's
// records: its configuration, the identity settings that normalise keys,
// how many bad records it may have, and the reader version.
func configHash(cfg *config.Config, src *config.Source) (string, error) {
	s := *src
	s.Index, s.Line = 0, 0 // moving a source in onus.yaml changes no record
	b, err := json.Marshal(struct {
		Reader   string
		Source   config.Source
		Identity config.Identity
		MaxBad   float64
	}{readerVersion, s, cfg.Identity, cfg.MaxBadRecords(src)})
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// stamp returns the fingerprint of what a file source reads now, reusing
// prev's hashes where size and modification time say the file did not
// change. It returns nil for a source that is not read from files (a
// connector), and an error when a file cannot be read; the caller then
// reads the source as usual.
func (m *Monitor) stamp(ctx context.Context, src *config.Source, prev *fingerprint) (*fingerprint, error) {
	if src.Connector != "" || src.From == nil || src.From.File == "" {
		return nil, nil
	}
	ch, err := configHash(m.Config, src)
	if err != nil {
		return nil, err
	}
	paths, err := source.Files(m.Config.Dir, src.From)
	if err != nil {
		return nil, err
	}
	fp := &fingerprint{Config: ch, At: m.now().UnixNano(), Files: make([]fileStamp, len(paths))}
	known := map[string]fileStamp{}
	if prev != nil && prev.Config == ch {
		for _, f := range prev.Files {
			known[f.Path] = f
		}
	}
	var todo []int
	for i, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		f := fileStamp{Path: p, Size: st.Size(), MTime: st.ModTime().UnixNano()}
		if k, ok := known[p]; ok && k.Size == f.Size && k.MTime == f.MTime && k.Hash != "" && f.MTime < prev.At-int64(racyWindow) {
			f.Hash = k.Hash
		} else {
			todo = append(todo, i)
		}
		fp.Files[i] = f
	}
	// Files are hashed in parallel: a glob may match many pages.
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for j, i := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fp.Files[i].Hash, errs[j] = hashFile(ctx, fp.Files[i].Path)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return fp, nil
}

func hashFile(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
