package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// sniffSize is how much of a file format detection reads.
const sniffSize = 64 << 10

// sniff says which format a file's content is, from its first bytes:
// "json" (a document), "ndjson" (one object per line), "osquery" (a
// results log), "csv" (anything else but markup), and why; "" when it cannot tell
// (an empty or missing file: the reader reports that).
func sniff(path string) (format, why string) {
	f, err := os.Open(path)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	buf := make([]byte, sniffSize)
	n, _ := io.ReadFull(f, buf)
	b := bytes.TrimPrefix(buf[:n], []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return "", ""
	}
	switch b[0] {
	case '[':
		return "json", "it starts with ["
	case '{':
	case '<':
		// An HTML or XML page where data was expected (a proxy's or the
		// vendor's error page): not a format to switch to; the reader of
		// the expected format reports it in the page's words.
		return "", ""
	default:
		return "csv", "it does not start with { or ["
	}
	first := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		first = b[:i]
	}
	first = bytes.TrimSpace(first)
	osqueryKeys := func(obj []byte) bool {
		return bytes.Contains(obj, []byte(`"hostIdentifier"`)) && bytes.Contains(obj, []byte(`"name"`)) &&
			(bytes.Contains(obj, []byte(`"columns"`)) || bytes.Contains(obj, []byte(`"snapshot"`)) || bytes.Contains(obj, []byte(`"diffResults"`)))
	}
	if !json.Valid(first) {
		// A pretty-printed document (or a pretty-printed osquery log).
		if osqueryKeys(b) {
			return "osquery", "its objects have hostIdentifier, name and columns"
		}
		return "json", "its first line is not a whole JSON object"
	}
	if osqueryKeys(first) {
		return "osquery", "its first line has hostIdentifier, name and columns"
	}
	rest := bytes.TrimLeft(b[len(first):], " \t\r\n")
	if len(rest) > 0 && rest[0] == '{' {
		return "ndjson", "it holds one JSON object per line"
	}
	// One object on one line: a one-record NDJSON file or a compact
	// document; the reader tells.
	return "", ""
}

// detect checks a file source's content against its format. A format
// guessed from the extension gives way to the content, with a warning; a
// format set in from.format is kept, and a content that cannot be read
// that way is refused with a clear message. An osquery log read as plain
// NDJSON on purpose is allowed, with a warning.
func detect(name, declared, guessed, path string) (format, warning string, err error) {
	content, why := sniff(path)
	// osquery logs are NDJSON, or pretty-printed JSON: the osquery
	// reader names what is not a result.
	if content == "" || content == guessed || (guessed == "osquery" && (content == "ndjson" || content == "json")) {
		return guessed, "", nil
	}
	file := filepath.Base(path)
	if declared == "" {
		return content, fmt.Sprintf("file %s has the extension of %s but holds %s (%s): read as %s; set from.format to say so",
			file, guessed, describe(content), why, content), nil
	}
	if declared == "ndjson" && content == "osquery" {
		return declared, fmt.Sprintf("file %s is an osquery results log (%s) read as plain NDJSON: rows are not replayed; set from.format: osquery unless you mean it",
			file, why), nil
	}
	return "", "", fmt.Errorf("source %s: file %s holds %s (%s), not %s; set from.format: %s", name, path, describe(content), why, describe(declared), content)
}

func describe(format string) string {
	switch format {
	case "json":
		return "a JSON document"
	case "ndjson":
		return "NDJSON (one JSON object per line)"
	case "osquery":
		return "an osquery results log"
	case "csv":
		return "CSV"
	}
	return format
}
