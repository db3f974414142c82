// Package connectortest runs local stand-ins for the vendors' APIs, for
// tests and benchmarks: real HTTP servers that serve records in the
// vendors' payload shapes and pagination styles, check credentials the way
// the vendors do, and misbehave on demand (429 with Retry-After, 5xx, a
// token that expires mid-pull, a page cut off halfway, a slow answer).
package connectortest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/buger/jsonparser"

	"github.com/onus-sec/onus"
)

// Fault is a misbehaviour injected into the responses of a path.
type Fault struct {
	// Path is matched as a prefix of the request path.
	Path string
	// At is the 1-based number of the matching request that misbehaves
	// first; Times is how many in a row do (1 when 0).
	At, Times int
	// Status and Body replace the response; Header is added.
	Status int
	Body   string
	Header http.Header
	// Truncate cuts the real response body in half instead.
	Truncate bool
	// Delay holds the response back this long.
	Delay time.Duration
}

// Server is a local vendor API.
type Server struct {
	*httptest.Server
	Mux *http.ServeMux

	mu     sync.Mutex
	faults []*Fault
	counts map[*Fault]int

	// Requests counts the API requests (token requests apart).
	Requests atomic.Int64
	// TokenRequests counts the token requests.
	TokenRequests atomic.Int64

	// ClientID and ClientSecret are what the token endpoint accepts.
	ClientID, ClientSecret string
	// TokenTTL is the expires_in of issued tokens (3600 when 0).
	TokenTTL int
	// TokenUses, when positive, is how many API requests a token is good
	// for; after that the API answers 401 as if it had expired.
	TokenUses int
	// APIToken is the static token the API accepts (Okta, Fleet, GitHub).
	APIToken string
	// Clock dates rate-limit resets and scroll expiries; the Unix epoch
	// when nil (only packages under cmd/ read the machine's clock).
	Clock onus.Clock

	tokens    map[string]int // token → uses left (-1: unlimited)
	oktaUsers [][]byte
	issued    int
}

// New starts a server; register handlers on Mux. Close it when done.
func New() *Server {
	s := &Server{Mux: http.NewServeMux(), counts: map[*Fault]int{}, tokens: map[string]int{}, ClientID: "onus-client", ClientSecret: "s3cret", APIToken: "api-token"}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *Server) now() time.Time {
	if s.Clock == nil {
		return time.Unix(0, 0)
	}
	return s.Clock.Now()
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

func (s *Server) fault(path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	var hit *Fault
	for _, f := range s.faults {
		if !strings.HasPrefix(path, f.Path) {
			continue
		}
		s.counts[f]++
		n := s.counts[f]
		if hit == nil && n >= f.At && n < f.At+f.Times {
			hit = f
		}
	}
	return hit
}

type recorder struct {
	h      http.Header
	status int
	buf    bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return r.buf.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.status = code }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.URL.Path, "token") {
		s.Requests.Add(1)
	}
	f := s.fault(r.URL.Path)
	if f != nil && f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if f != nil && f.Status != 0 {
		for k, v := range f.Header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		fmt.Fprint(w, f.Body)
		return
	}
	if f != nil && !f.Truncate {
		// Headers alone, on the real response (a rate limit nearly spent).
		for k, v := range f.Header {
			w.Header()[k] = v
		}
	}
	if f != nil && f.Truncate {
		rec := &recorder{h: http.Header{}, status: 200}
		s.Mux.ServeHTTP(rec, r)
		for k, v := range rec.h {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		b := rec.buf.Bytes()
		w.Write(b[:len(b)/2])
		return
	}
	s.Mux.ServeHTTP(w, r)
}

// Token serves an OAuth 2.0 client-credentials token endpoint that takes
// the client's credentials in the form, as Jamf Pro, CrowdStrike and
// Entra ID do. A refusal is written in the OAuth error shape.
func (s *Server) Token(w http.ResponseWriter, r *http.Request) {
	s.TokenRequests.Add(1)
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		JSON(w, 400, `{"error":"invalid_request","error_description":"POST a form"}`)
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	if r.PostForm.Get("grant_type") != "client_credentials" || id != s.ClientID || secret != s.ClientSecret {
		JSON(w, 401, `{"error":"invalid_client","error_description":"Client authentication failed: unknown client or wrong secret"}`)
		return
	}
	s.mu.Lock()
	s.issued++
	tok := fmt.Sprintf("tok-%d", s.issued)
	uses := -1
	if s.TokenUses > 0 {
		uses = s.TokenUses
	}
	s.tokens[tok] = uses
	s.mu.Unlock()
	ttl := s.TokenTTL
	if ttl == 0 {
		ttl = 3600
	}
	JSON(w, 200, fmt.Sprintf(`{"access_token":%q,"token_type":"bearer","expires_in":%d}`, tok, ttl))
}

// Bearer reports whether the request has a valid bearer token, using one
// of its uses; on false it has written a 401 with body.
func (s *Server) Bearer(w http.ResponseWriter, r *http.Request, body string) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	uses, known := s.tokens[tok]
	valid := ok && known && uses != 0
	if valid && uses > 0 {
		s.tokens[tok] = uses - 1
	}
	s.mu.Unlock()
	if !valid {
		JSON(w, 401, body)
	}
	return valid
}

// JSON writes a JSON response.
func JSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

// Array joins objects into a JSON array.
func Array(objs [][]byte) []byte {
	n := 2
	for _, o := range objs {
		n += len(o) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, o := range objs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, o...)
	}
	return append(b, ']')
}

// Load reads the record objects of a JSON file: the top-level array, or
// the array at path.
func Load(file, path string) ([][]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	arr := data
	if path != "" {
		if arr, _, _, err = jsonparser.Get(data, path); err != nil {
			return nil, fmt.Errorf("%s: %s: %v", file, path, err)
		}
	}
	var out [][]byte
	_, err = jsonparser.ArrayEach(arr, func(v []byte, _ jsonparser.ValueType, _ int, _ error) {
		var buf bytes.Buffer
		json.Compact(&buf, v)
		out = append(out, buf.Bytes())
	})
	return out, err
}

// Vary makes n records from a template, setting each path to the value
// fn returns for record i (a JSON string).
func Vary(tmpl []byte, n int, fn func(i int) map[string]string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		b := append([]byte(nil), tmpl...)
		for path, v := range fn(i) {
			q, _ := json.Marshal(v)
			b, _ = jsonparser.Set(b, q, strings.Split(path, ".")...)
		}
		out[i] = b
	}
	return out
}

// window returns the slice of objs for a start index and a count.
func window(objs [][]byte, start, n int) [][]byte {
	if start > len(objs) {
		start = len(objs)
	}
	return objs[start:min(start+n, len(objs))]
}

func atoi(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n
	}
	return def
}
