package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// memberArrays are the exports that hold their records in one member of
// one JSON object ({"results": [...]}), and that member. DuckDB reads a
// document whose top level is the array of records with read_json's
// format = 'array' at 100 MB/s and more per core, in parallel; the same
// records inside an object it reads as one value, through
// read_json_objects and json_transform, at 3–10 MB/s, and slower the
// larger the document (a 125 MB Jamf export took 14 minutes). So the
// yardstick first copies each such array, byte for byte, to a file of its
// own — what an analyst does with `jq '.results'` — and gaps.sql reads
// that file ($SPLIT/<the export's path under exports/>).
var memberArrays = []struct{ File, Member string }{
	{"jamf/computers-inventory.json", "results"},
	{"intune/managedDevices.json", "value"},
	{"crowdstrike/devices.json", "resources"},
	{"checkr/candidates.json", "data"},
	{"checkr/reports.json", "data"},
}

// splitExports copies the member arrays of the exports under dir into
// the same paths under out.
func splitExports(dir, out string) error {
	for _, m := range memberArrays {
		dst := filepath.Join(out, filepath.FromSlash(m.File))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := splitFile(filepath.Join(dir, "exports", filepath.FromSlash(m.File)), m.Member, dst); err != nil {
			return err
		}
	}
	return nil
}

func splitFile(src, member, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	s := &jsonScan{r: bufio.NewReaderSize(in, 1<<20)}
	found, err := s.member(member, w)
	if err == nil && !found {
		err = fmt.Errorf("no member %q holding an array", member)
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("yardstick: %s: byte %d: %w", src, s.off, err)
	}
	return nil
}

// jsonScan walks a JSON document byte by byte without decoding it: just
// enough to find a top-level member and copy its value.
type jsonScan struct {
	r   *bufio.Reader
	off int64
}

var errSyntax = errors.New("not a JSON object of the expected shape")

func (s *jsonScan) next() (byte, error) {
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		s.off++
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c, nil
		}
	}
}

// member finds the top-level member named name, whose value must be an
// array, and copies that value to w.
func (s *jsonScan) member(name string, w io.Writer) (bool, error) {
	c, err := s.next()
	if err != nil {
		return false, err
	}
	if c != '{' {
		return false, errSyntax
	}
	for {
		c, err := s.next()
		if err != nil {
			return false, err
		}
		if c == '}' {
			return false, nil
		}
		if c == ',' {
			continue
		}
		if c != '"' {
			return false, errSyntax
		}
		key, err := s.str(nil)
		if err != nil {
			return false, err
		}
		if c, err = s.next(); err != nil || c != ':' {
			return false, errors.Join(err, errSyntax)
		}
		if c, err = s.next(); err != nil {
			return false, err
		}
		k, err := strconv.Unquote(`"` + string(key) + `"`)
		if err != nil {
			return false, fmt.Errorf("member name %q: %w", key, err)
		}
		if k == name {
			if c != '[' {
				return false, fmt.Errorf("member %q is not an array", name)
			}
			return true, s.value(c, w)
		}
		if err := s.value(c, io.Discard); err != nil {
			return false, err
		}
	}
}

// str reads the rest of a string whose opening quote was read, appending
// its raw bytes (escapes kept) to buf, without the closing quote.
func (s *jsonScan) str(buf []byte) ([]byte, error) {
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return buf, io.ErrUnexpectedEOF
		}
		s.off++
		switch c {
		case '"':
			return buf, nil
		case '\\':
			e, err := s.r.ReadByte()
			if err != nil {
				return buf, io.ErrUnexpectedEOF
			}
			s.off++
			buf = append(buf, c, e)
		default:
			buf = append(buf, c)
		}
	}
}

// value copies the value that starts with c (already read) to w.
func (s *jsonScan) value(c byte, w io.Writer) error {
	bw, ok := w.(io.ByteWriter)
	if !ok {
		bw = discard{}
	}
	bw.WriteByte(c)
	if c != '[' && c != '{' && c != '"' {
		// A number, true, false or null: up to the next delimiter.
		for {
			b, err := s.r.Peek(1)
			if err != nil || b[0] == ',' || b[0] == '}' || b[0] == ']' || b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t' {
				return nil
			}
			s.r.ReadByte()
			s.off++
			bw.WriteByte(b[0])
		}
	}
	depth, inStr := 0, c == '"'
	if !inStr {
		depth = 1
	}
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			return io.ErrUnexpectedEOF
		}
		s.off++
		if err := bw.WriteByte(b); err != nil {
			return err
		}
		if inStr {
			switch b {
			case '\\':
				e, err := s.r.ReadByte()
				if err != nil {
					return io.ErrUnexpectedEOF
				}
				s.off++
				bw.WriteByte(e)
			case '"':
				inStr = false
				if depth == 0 {
					return nil
				}
			}
			continue
		}
		switch b {
		case '"':
			inStr = true
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return nil
			}
		}
	}
}

type discard struct{}

func (discard) WriteByte(byte) error { return nil }
