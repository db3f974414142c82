package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/buger/jsonparser"
)

// raw is one value as found in a record, before conversion: either JSON
// bytes with their type, or a CSV cell.
type raw struct {
	b    []byte
	t    jsonparser.ValueType
	cell string
	csv  bool
}

// absent reports whether the value is missing: no such path, JSON null, or
// an empty string. Exports write all three for "no value".
func (r *raw) absent() bool {
	if r.csv {
		return strings.TrimSpace(r.cell) == ""
	}
	switch r.t {
	case jsonparser.NotExist, jsonparser.Null, jsonparser.Unknown:
		return true
	case jsonparser.String:
		return len(r.b) == 0
	}
	return false
}

// text returns the value as a string, for ids, names and keys. Numbers keep
// their literal text; objects and arrays are refused.
func (r *raw) text(in *interner) (string, error) {
	if r.csv {
		s := strings.TrimSpace(r.cell)
		if err := checkText(s); err != nil {
			return "", err
		}
		return in.str(s), nil
	}
	switch r.t {
	case jsonparser.String:
		s, err := unescape(r.b, in)
		if err != nil {
			return "", err
		}
		return s, checkText(s)
	case jsonparser.Number, jsonparser.Boolean:
		return in.bytes(r.b), nil
	case jsonparser.Object:
		return "", fmt.Errorf("is an object, not a value")
	case jsonparser.Array:
		return "", fmt.Errorf("is a list, not a value")
	}
	return "", nil
}

// appendText appends the value's text, as text would return it, to dst.
func (r *raw) appendText(dst []byte) ([]byte, error) {
	start := len(dst)
	switch {
	case r.csv:
		dst = append(dst, strings.TrimSpace(r.cell)...)
	case r.t == jsonparser.String:
		if bytes.IndexByte(r.b, '\\') >= 0 {
			s, err := jsonparser.ParseString(r.b)
			if err != nil {
				return dst, fmt.Errorf("bad string escape")
			}
			dst = append(dst, s...)
		} else {
			dst = append(dst, r.b...)
		}
	case r.t == jsonparser.Number || r.t == jsonparser.Boolean:
		return append(dst, r.b...), nil
	case r.t == jsonparser.Object:
		return dst, fmt.Errorf("is an object, not a value")
	case r.t == jsonparser.Array:
		return dst, fmt.Errorf("is a list, not a value")
	default:
		return dst, nil
	}
	if added := dst[start:]; !utf8.Valid(added) || bytes.IndexByte(added, 0) >= 0 {
		return dst, checkText(string(added))
	}
	return dst, nil
}

// checkText refuses text that is not valid UTF-8 or holds a NUL byte: such a
// value is damage, and would reach messages, terminals and the store.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		i := 0
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return fmt.Errorf("is not valid UTF-8 text (byte %d is 0x%02x)", i+1, s[i])
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		return fmt.Errorf("holds a NUL byte at byte %d", i+1)
	}
	return nil
}

func unescape(b []byte, in *interner) (string, error) {
	for _, c := range b {
		if c == '\\' {
			s, err := jsonparser.ParseString(b)
			if err != nil {
				return "", fmt.Errorf("bad string escape")
			}
			return in.str(s), nil
		}
	}
	return in.bytes(b), nil
}

// convert turns a raw value into an attribute value of the given type.
// format is an optional Go time layout.
func (r *raw) convert(typ, format string, in *interner) (any, error) {
	if r.absent() {
		return nil, nil
	}
	switch typ {
	case "", "auto":
		return r.auto(in)
	case "string":
		s, err := r.text(in)
		if err != nil {
			return nil, err
		}
		return in.box(s), nil
	case "int":
		n, err := r.number()
		if err != nil {
			return nil, err
		}
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return nil, fmt.Errorf("%s is not a whole number", r.show())
		}
		return int64(n), nil
	case "number":
		return r.number()
	case "bool":
		return r.boolean()
	case "time":
		return r.time(format, in)
	case "list":
		if r.csv || r.t != jsonparser.Array {
			return nil, fmt.Errorf("%s is not a list", r.show())
		}
		return r.decode()
	case "object":
		if r.csv || r.t != jsonparser.Object {
			return nil, fmt.Errorf("%s is not an object", r.show())
		}
		return r.decode()
	}
	return nil, fmt.Errorf("unknown type %q", typ)
}

// show quotes a value for an error message, cut to a readable length.
func (r *raw) show() string {
	s := r.cell
	if !r.csv {
		s = string(r.b)
		if r.t == jsonparser.String {
			s = strconv.Quote(s)
		}
	} else {
		s = strconv.Quote(s)
	}
	if len(s) > 60 {
		s = s[:57] + "…"
	}
	return s
}

func (r *raw) auto(in *interner) (any, error) {
	if r.csv {
		s, err := r.text(in)
		if err != nil {
			return nil, err
		}
		return in.box(s), nil
	}
	switch r.t {
	case jsonparser.String:
		s, err := r.text(in)
		if err != nil {
			return nil, err
		}
		return in.box(s), nil
	case jsonparser.Number:
		if i, err := strconv.ParseInt(string(r.b), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(r.b), 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not a number", r.show())
		}
		return f, nil
	case jsonparser.Boolean:
		return r.b[0] == 't', nil
	case jsonparser.Array, jsonparser.Object:
		return r.decode()
	}
	return nil, nil
}

func (r *raw) decode() (any, error) {
	if !utf8.Valid(r.b) {
		return nil, fmt.Errorf("is not valid UTF-8 text")
	}
	if bytes.Contains(r.b, []byte(`\u0000`)) {
		return nil, fmt.Errorf("holds a NUL character")
	}
	if fastPaths {
		if v, ok := decodeAny(r.b); ok {
			return v, nil
		}
	}
	var v any
	if err := json.Unmarshal(r.b, &v); err != nil {
		return nil, fmt.Errorf("malformed JSON value")
	}
	return v, nil
}

// keptDecode reports whether convert would decode r for type typ, so that
// decodeKept can stand for convert and project.
func keptDecode(r *raw, typ string) bool {
	if !fastPaths || r.csv {
		return false
	}
	switch typ {
	case "", "auto":
		return r.t == jsonparser.Array || r.t == jsonparser.Object
	case "list":
		return r.t == jsonparser.Array
	case "object":
		return r.t == jsonparser.Object
	}
	return false
}

// decodeKept is decode followed by project.
func (r *raw) decodeKept(keep map[string]bool, in *interner) (any, error) {
	if utf8.Valid(r.b) && !bytes.Contains(r.b, []byte(`\u0000`)) {
		if v, ok := decodeKept(r.b, keep, in); ok {
			return v, nil
		}
	}
	v, err := r.decode()
	if err != nil {
		return nil, err
	}
	return project(v, keep, in), nil
}

func (r *raw) number() (float64, error) {
	s := r.cell
	if !r.csv {
		switch r.t {
		case jsonparser.Number, jsonparser.String:
			s = string(r.b)
		default:
			return 0, fmt.Errorf("%s is not a number", r.show())
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s is not a number", r.show())
	}
	return f, nil
}

func (r *raw) boolean() (bool, error) {
	s := r.cell
	if !r.csv {
		switch r.t {
		case jsonparser.Boolean:
			return r.b[0] == 't', nil
		case jsonparser.String, jsonparser.Number:
			s = string(r.b)
		default:
			return false, fmt.Errorf("%s is not true or false", r.show())
		}
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "y", "1", "on", "enabled":
		return true, nil
	case "false", "no", "n", "0", "off", "disabled":
		return false, nil
	}
	return false, fmt.Errorf("%s is not true or false", r.show())
}

// timeLayouts are the formats exports write times in, tried in order.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
	"Mon Jan _2 15:04:05 2006 MST", // osquery calendarTime
	"Mon Jan _2 15:04:05 2006",
	time.RFC1123Z,
	time.RFC1123,
	"01/02/2006",
}

func (r *raw) time(format string, in *interner) (time.Time, error) {
	if !r.csv && r.t == jsonparser.Number {
		f, err := strconv.ParseFloat(string(r.b), 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s is not a time", r.show())
		}
		return epoch(f), nil
	}
	s, err := r.text(nil)
	if err != nil {
		return time.Time{}, err
	}
	return ParseTime(s, format)
}

// ParseTime parses a time the way exports write them: RFC 3339, dates,
// osquery's calendarTime, or unix seconds (milliseconds when larger than
// 1e12). With a layout, only that layout is accepted.
func ParseTime(s, layout string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if layout != "" {
		t, err := time.Parse(layout, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q does not match the time format %q", s, layout)
		}
		return t.UTC(), nil
	}
	if t, ok := parseDate(s); ok && fastPaths {
		return t, nil
	}
	if s != "" && (s[0] >= '0' && s[0] <= '9') && !strings.ContainsAny(s, "-/:T ") {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return epoch(f), nil
		}
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (expected RFC 3339 such as 2026-11-30T09:00:00Z, a date, or unix seconds)", s)
}

// parseDate reads a plain date, 2026-11-30, as the layouts above would
// (only "2006-01-02" matches it), without trying the others first.
func parseDate(s string) (time.Time, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	n := 0
	for i := 0; i < 10; i++ {
		if i == 4 || i == 7 {
			continue
		}
		c := s[i]
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
		n = n*10 + int(c-'0')
	}
	y, m, d := n/10000, time.Month(n/100%100), n%100
	if m < 1 || m > 12 || d < 1 || d > time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, false
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), true
}

func epoch(f float64) time.Time {
	if f > 1e12 { // milliseconds
		return time.UnixMilli(int64(f)).UTC()
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}
