package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
)

// A file source may read several files as one snapshot: a glob
// ("exports/defender/machines-*.json") or a directory (every file in it,
// hidden ones aside), read in name order. The pages of a Graph or Defender
// export, linked by @odata.nextLink, are one snapshot of one source.

// isPattern reports whether a source reads a glob or a directory.
func isPattern(dir string, from *config.From) bool {
	if from == nil || from.File == "" {
		return false
	}
	if strings.ContainsAny(from.File, "*?[") {
		return true
	}
	st, err := os.Stat(absPath(dir, from.File))
	return err == nil && st.IsDir()
}

func absPath(dir, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

// files lists the files a source reads.
func files(dir string, from *config.From) ([]string, error) {
	if from == nil || from.File == "" {
		return []string{""}, nil
	}
	p := absPath(dir, from.File)
	if strings.ContainsAny(from.File, "*?[") {
		m, err := filepath.Glob(p)
		if err != nil {
			return nil, onus.Errorf(onus.EINVALID, "from.file %q is not a valid glob: %v", from.File, err)
		}
		var out []string
		for _, f := range m {
			if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
				out = append(out, f)
			}
		}
		if len(out) == 0 {
			return nil, onus.Errorf(onus.EINVALID, "no file matches %s", p)
		}
		sort.Strings(out)
		return out, nil
	}
	st, err := os.Stat(p)
	if err != nil || !st.IsDir() {
		return []string{p}, nil // the reader reports a missing file
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "cannot list %s: %v", p, err)
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(p, e.Name()))
		}
	}
	if len(out) == 0 {
		return nil, onus.Errorf(onus.EINVALID, "directory %s holds no file", p)
	}
	return out, nil
}

// readFiles reads every file of a source with the reader of its format,
// checked against each file's content, and joins the batches.
func readFiles(ctx context.Context, src *config.Source, dir string, m *Mapping, p Progress) (*Batch, []string, error) {
	if src.Connector != "" {
		b, err := openers[src.Connector](src, dir)
		if err != nil {
			return nil, nil, err
		}
		batch, err := b.Read(ctx, m, p)
		if err != nil {
			return nil, nil, fmt.Errorf("source %s: %w", src.Name, err)
		}
		return batch, nil, nil
	}
	paths, err := files(dir, src.From)
	if err != nil {
		return nil, nil, fmt.Errorf("source %s: %w", src.Name, err)
	}
	var total int64
	for _, f := range paths {
		if st, err := os.Stat(f); err == nil {
			total += st.Size()
		}
	}
	multi := len(paths) > 1
	if multi {
		p.Start(total)
		p = startOnce{p}
	}
	var out *Batch
	var warnings []string
	for _, f := range paths {
		if abs, err := filepath.Abs(f); err == nil {
			f = abs
		}
		one := *src
		from := *src.From
		from.File = f
		one.From = &from
		guessed := config.FormatOf(&from)
		format, warn, err := detect(src.Name, src.From.Format, guessed, f)
		if err != nil {
			return nil, nil, onus.Errorf(onus.EINVALID, "%v", err)
		}
		if warn != "" {
			warnings = append(warnings, warn)
		}
		open, ok := openers[format]
		if !ok {
			return nil, nil, onus.Errorf(onus.EINVALID, "source %s: cannot tell the format of %s; set from.format", src.Name, f)
		}
		r, err := open(&one, dir)
		if err != nil {
			return nil, nil, err
		}
		b, err := r.Read(ctx, m, p)
		if err != nil {
			return nil, nil, fmt.Errorf("source %s: %w", src.Name, err)
		}
		if out == nil {
			out = b
			if multi {
				out.File = absPath(dir, src.From.File)
			}
			continue
		}
		switch {
		case out.Columns == nil && b.Columns == nil:
			out.Records = append(out.Records, b.Records...)
		case out.Columns == nil:
			out.Columns, out.Records = m.columns(out.Records), nil
			fallthrough
		default:
			out.Columns.AppendAll(b.Records)
			out.Columns.AppendFrom(b.Columns, 0, b.Columns.Len())
		}
		out.Problems = append(out.Problems, b.Problems...)
		out.Sigs = append(out.Sigs, b.Sigs...)
		for i, n := range b.Presence {
			if i < len(out.Presence) {
				out.Presence[i] += n
			}
		}
	}
	return out, warnings, nil
}

// startOnce passes on the total size of all files once, not each file's.
type startOnce struct{ Progress }

func (startOnce) Start(int64) {}

// Files lists the files a file source reads (a glob's matches or a
// directory's files, in name order), so that a sync can tell whether
// they changed since the last read.
func Files(dir string, from *config.From) ([]string, error) { return files(dir, from) }
