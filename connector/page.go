package connector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/buger/jsonparser"
)

// Records returns the record objects of a JSON response: the top-level
// array when path is empty, else the array at the dotted path ("value",
// "resources", "data.items"). The whole body is checked first, so that a
// response broken halfway fails the pull instead of yielding half a page.
// A record that is not an object is an error too: an API, unlike an export,
// has no excuse for one.
func (c *Client) Records(res *Response, method, path string) (Page, error) {
	pg := Page{Where: method + " " + res.URL, Bytes: len(res.Body)}
	fail := func(format string, args ...any) (Page, error) {
		return pg, &Error{Vendor: c.Vendor, Method: method, URL: res.URL, Message: fmt.Sprintf(format, args...)}
	}
	body := bytes.TrimPrefix(res.Body, []byte("\xef\xbb\xbf"))
	if !json.Valid(body) {
		return fail("the response is not valid JSON: %s", jsonProblem(body))
	}
	arr := body
	if path != "" {
		v, t, _, err := jsonparser.Get(body, strings.Split(path, ".")...)
		switch {
		case err == jsonparser.KeyPathNotFoundError:
			return fail("the response has no %q (its top-level keys: %s)", path, topKeys(body))
		case err != nil:
			return fail("reading %q: %v", path, err)
		case t == jsonparser.Null:
			return pg, nil // "value": null is an empty page
		case t != jsonparser.Array:
			return fail("%q is a %s, not a list of records", path, t)
		}
		arr = v
	} else if t := firstByte(body); t != '[' {
		return fail("the response is an object, not a list of records (its top-level keys: %s)", topKeys(body))
	}
	var bad error
	n := 0
	_, err := jsonparser.ArrayEach(arr, func(v []byte, t jsonparser.ValueType, _ int, _ error) {
		n++
		if t != jsonparser.Object && bad == nil {
			bad = fmt.Errorf("record %d is a %s, not an object", n, t)
			return
		}
		pg.Objects = append(pg.Objects, v)
	})
	if err != nil {
		return fail("reading the records: %v", err)
	}
	if bad != nil {
		return fail("%v", bad)
	}
	return pg, nil
}

func firstByte(b []byte) byte {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func jsonProblem(body []byte) string {
	var v json.RawMessage
	err := json.Unmarshal(body, &v)
	if se, ok := err.(*json.SyntaxError); ok {
		off := int(se.Offset)
		if off > len(body) {
			off = len(body)
		}
		line := 1 + bytes.Count(body[:off], []byte{'\n'})
		col := off - bytes.LastIndexByte(body[:off], '\n')
		return fmt.Sprintf("line %d, column %d (byte %d): %v", line, col, off, se)
	}
	if err != nil {
		return err.Error()
	}
	return "malformed"
}

func topKeys(body []byte) string {
	var keys []string
	_ = jsonparser.ObjectEach(body, func(k, _ []byte, t jsonparser.ValueType, _ int) error {
		keys = append(keys, string(k))
		return nil
	})
	sort.Strings(keys)
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}

// String returns the string at a dotted path of a JSON body ("" when there
// is none). Keys that hold dots, such as "@odata.nextLink", are tried whole
// first.
func String(body []byte, path string) string {
	if path == "" {
		return ""
	}
	if s, err := jsonparser.GetString(body, path); err == nil {
		return s
	}
	s, err := jsonparser.GetString(body, strings.Split(path, ".")...)
	if err != nil {
		return ""
	}
	return s
}

// Int returns the whole number at a dotted path of a JSON body.
func Int(body []byte, path string) (int64, bool) {
	n, err := jsonparser.GetInt(body, strings.Split(path, ".")...)
	return n, err == nil
}

// NextLink returns the URL of the Link header's rel="next" (RFC 8288), as
// Okta and GitHub paginate, resolved against the request's URL; "" when
// this is the last page.
func NextLink(h http.Header, base string) string {
	for _, v := range h.Values("Link") {
		for _, part := range splitLinks(v) {
			i, j := strings.IndexByte(part, '<'), strings.IndexByte(part, '>')
			if i < 0 || j < i {
				continue
			}
			for _, p := range strings.Split(part[j+1:], ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
					if strings.EqualFold(rel, "next") {
						return Resolve(base, part[i+1:j])
					}
				}
			}
		}
	}
	return ""
}

// splitLinks splits a Link header on the commas between links, not those
// inside a URL.
func splitLinks(v string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range v {
		switch r {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

// Resolve resolves ref against base (a next link may be relative).
func Resolve(base, ref string) string {
	b, err := url.Parse(base)
	if err != nil {
		return ref
	}
	r, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return b.ResolveReference(r).String()
}

// WithQuery returns u with the query parameters set (replacing any of the
// same name).
func WithQuery(u string, params url.Values) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := p.Query()
	for k, v := range params {
		q[k] = v
	}
	p.RawQuery = q.Encode()
	return p.String()
}

// Pages follows next links: fetch gets one URL and returns its page and the
// next URL ("" at the end). It stops with an error when a next URL repeats,
// which would otherwise loop for ever.
func Pages(first string, fetch func(url string) (next string, err error)) error {
	seen := map[string]bool{}
	for u := first; u != ""; {
		if seen[u] {
			return fmt.Errorf("the API sent the same next page twice (%s); stopping rather than looping", u)
		}
		seen[u] = true
		next, err := fetch(u)
		if err != nil {
			return err
		}
		u = next
	}
	return nil
}

// CheckObject checks that a whole response body is one well-formed JSON
// object, for APIs that return one record per request.
func CheckObject(body []byte) error {
	if !json.Valid(body) {
		return fmt.Errorf("the response is not valid JSON: %s", jsonProblem(body))
	}
	if firstByte(body) != '{' {
		return fmt.Errorf("the response is not a JSON object")
	}
	return nil
}
