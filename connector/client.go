package connector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/buger/jsonparser"
)

// Auth adds credentials to requests.
type Auth interface {
	// Authorize sets the request's credentials, fetching a token first when
	// it has none or it expired. It returns the token endpoint's refusal,
	// in the vendor's words, when it cannot.
	Authorize(ctx context.Context, req *http.Request) error
	// Refresh forgets a token the API refused (401) before its expiry. It
	// reports whether a new token may help; a fixed API key cannot.
	Refresh() bool
}

// Client is the HTTP client every connector shares: a timeout per request,
// retries with exponential backoff and full jitter for timeouts, 5xx and
// 429, waits that honour Retry-After and the rate-limit headers of Okta
// (X-Rate-Limit-Remaining, X-Rate-Limit-Reset) and GitHub
// (X-RateLimit-*), a fresh token when one is refused mid-pull, and errors
// that carry the vendor's own message. It is safe for concurrent use.
type Client struct {
	// Vendor names the API in errors ("Okta").
	Vendor string
	// HTTP sends the requests; its Timeout bounds each one.
	HTTP *http.Client
	// Auth adds credentials; nil for a public API.
	Auth Auth
	// Header is added to every request (Accept, User-Agent).
	Header http.Header
	// Retries is how many times a failed request is tried again.
	Retries int
	// BaseDelay and MaxDelay bound the backoff between attempts.
	BaseDelay, MaxDelay time.Duration
	// MaxWait is the longest rate-limit wait accepted; a vendor asking for
	// longer fails the pull rather than stalling it for hours.
	MaxWait time.Duration
	// LowWater is the remaining rate-limit budget at which the client
	// waits for the window to reset before its next request.
	LowWater int
	// MaxBody bounds a response body.
	MaxBody int64
	// Log receives retries and waits; never credentials or bodies.
	Log *slog.Logger
	// OnWait, when set, is told of each wait before it starts (for a
	// progress display).
	OnWait func(d time.Duration, reason string)

	stats Stats
}

// Stats count a client's work, for logs and "onus sources test".
type Stats struct {
	Requests, Retries, Refreshes atomic.Int64
	// Waited is the time spent waiting for rate limits and backoff, in ns.
	Waited atomic.Int64
}

// Stats returns the client's counters.
func (c *Client) Stats() *Stats { return &c.stats }

// NewClient returns a client for vendor with a per-request timeout and the
// default retry policy.
func NewClient(vendor string, timeout time.Duration) *Client {
	h := http.Header{}
	h.Set("Accept", "application/json")
	h.Set("User-Agent", "onus (+https://github.com/onus-sec/onus)")
	return &Client{
		Vendor:    vendor,
		HTTP:      &http.Client{Timeout: timeout},
		Header:    h,
		Retries:   5,
		BaseDelay: 500 * time.Millisecond,
		MaxDelay:  30 * time.Second,
		MaxWait:   5 * time.Minute,
		LowWater:  1,
		MaxBody:   1 << 30,
	}
}

// Response is a successful response, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// URL is the URL requested, for messages.
	URL string
}

// Where names the request in messages: method and URL.
func (r *Response) Where(method string) string { return method + " " + r.URL }

// Error is a request the vendor refused or a response the client could
// not use. Message is the vendor's own words when the body had any.
type Error struct {
	Vendor, Method, URL string
	Status              int
	Message             string

	header http.Header // for the retry decision
	final  bool        // asking again cannot help (a malformed URL, a body too large)
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s %s", e.Vendor, e.Method, e.URL)
	if e.Status != 0 {
		s += fmt.Sprintf(": %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Get fetches url.
func (c *Client) Get(ctx context.Context, url string) (*Response, error) {
	return c.Do(ctx, http.MethodGet, url, nil, nil)
}

// Do sends a request, retrying what may succeed later, and returns the
// response when its status is 2xx. A refused request is an *Error with the
// vendor's message; a request still failing after the retries returns the
// last failure.
func (c *Client) Do(ctx context.Context, method, target string, body []byte, hdr http.Header) (*Response, error) {
	refreshed := false
	for attempt := 0; ; attempt++ {
		res, err := c.once(ctx, method, target, body, hdr)
		if err == nil {
			if wait := c.rateWait(res.Header); wait > 0 {
				if err := c.wait(ctx, method, target, wait, "rate limit nearly used up"); err != nil {
					return nil, err
				}
			}
			return res, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var he *Error
		retryable, delay := false, time.Duration(0)
		isHTTP := errors.As(err, &he)
		switch {
		case isHTTP && he.final:
		case !isHTTP || he.Status == 0:
			retryable = true // a timeout, a reset connection
		case he.Status == http.StatusUnauthorized:
			// A token can expire or be revoked between two pages; one new
			// token is worth a try, a second refusal is the answer.
			if c.Auth != nil && !refreshed && c.Auth.Refresh() {
				refreshed = true
				c.stats.Refreshes.Add(1)
				c.log().Info("token refused; fetching a new one", "url", target)
				attempt--
				continue
			}
		case he.Status == http.StatusTooManyRequests || he.Status == http.StatusServiceUnavailable:
			retryable = true
			if d, ok := retryAfter(he.header, c.backoff(attempt)); ok {
				delay = d
			}
		case he.Status == http.StatusForbidden && (he.header.Get("Retry-After") != "" || firstHeader(he.header, "X-RateLimit-Remaining", "X-Rate-Limit-Remaining") == "0"):
			// GitHub's rate limits answer 403 with these headers.
			retryable = true
			if d, ok := retryAfter(he.header, c.backoff(attempt)); ok {
				delay = d
			}
		case he.Status >= 500:
			retryable = true
		default:
			// Another 4xx: the request itself is wrong; asking again will
			// not change the answer.
		}
		if !retryable || attempt >= c.Retries {
			if retryable && attempt > 0 {
				return nil, fmt.Errorf("%w (after %d attempts)", err, attempt+1)
			}
			return nil, err
		}
		if delay == 0 {
			delay = c.backoff(attempt)
		}
		if delay > c.MaxWait {
			return nil, fmt.Errorf("%w; it asks to wait %s, longer than max_wait (%s)", err, delay.Round(time.Second), c.MaxWait)
		}
		c.stats.Retries.Add(1)
		if err := c.wait(ctx, method, target, delay, err.Error()); err != nil {
			return nil, err
		}
	}
}

func (c *Client) once(ctx context.Context, method, target string, body []byte, hdr http.Header) (*Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, &Error{Vendor: c.Vendor, Method: method, URL: target, Message: err.Error(), final: true}
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if c.Auth != nil {
		if err := c.Auth.Authorize(ctx, req); err != nil {
			return nil, err
		}
	}
	c.stats.Requests.Add(1)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, c.transportError(method, target, err)
	}
	defer resp.Body.Close()
	limit := c.MaxBody
	if limit <= 0 {
		limit = 1 << 30
	}
	b, err := readBody(resp, limit)
	if err != nil {
		return nil, c.transportError(method, target, err)
	}
	if int64(len(b)) > limit {
		return nil, &Error{Vendor: c.Vendor, Method: method, URL: target, Message: fmt.Sprintf("the response is larger than %d MiB", limit>>20), final: true}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &Error{Vendor: c.Vendor, Method: method, URL: target, Status: resp.StatusCode, Message: VendorMessage(b), header: resp.Header}
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b, URL: target}, nil
}

// readBody reads a response body of at most limit bytes (and one more, to
// tell that it was too long), in one allocation when the size is announced:
// growing a buffer for a 20 MB page copies it a dozen times.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	r := io.LimitReader(resp.Body, limit+1)
	if n := resp.ContentLength; n > 0 && n <= limit {
		b := make([]byte, n+1)
		m, err := io.ReadFull(r, b)
		if int64(m) < n {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("the body ended after %d of its %d bytes: %w", m, n, err)
		}
		if m == int(n+1) {
			rest, err2 := io.ReadAll(r)
			return append(b, rest...), err2
		}
		return b[:m], nil
	}
	var buf bytes.Buffer
	buf.Grow(256 << 10)
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

func (c *Client) transportError(method, target string, err error) error {
	var ne net.Error
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = ue.Err.Error()
	}
	if errors.As(err, &ne) && ne.Timeout() {
		msg = fmt.Sprintf("no answer within %s (options.timeout)", c.HTTP.Timeout)
	}
	return &Error{Vendor: c.Vendor, Method: method, URL: target, Message: msg}
}

// backoff is the delay before retry attempt+1: exponential with full
// jitter, so that many clients refused at once do not return at once.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.BaseDelay << min(attempt, 20)
	if d <= 0 || d > c.MaxDelay {
		d = c.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

// retryAfter reads how long a 429 or 503 asks to wait: Retry-After in
// seconds or as a date, else the rate-limit reset time.
func retryAfter(h http.Header, fallback time.Duration) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	if v := h.Get("Retry-After"); v != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
			return time.Duration(n) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return untilAt(h, t, fallback), true
		}
	}
	if reset, ok := resetAt(h); ok {
		return untilAt(h, reset, fallback), true
	}
	return 0, false
}

// rateWait is how long to pause after a successful response whose
// rate-limit budget is (nearly) spent, until the window resets.
func (c *Client) rateWait(h http.Header) time.Duration {
	rem := firstHeader(h, "X-Rate-Limit-Remaining", "X-RateLimit-Remaining")
	if rem == "" {
		return 0
	}
	n, err := strconv.Atoi(rem)
	if err != nil || n >= c.LowWater {
		return 0
	}
	reset, ok := resetAt(h)
	if !ok {
		return 0
	}
	return untilAt(h, reset, c.BaseDelay)
}

// resetAt reads the epoch-seconds reset time of Okta and GitHub.
func resetAt(h http.Header) (time.Time, bool) {
	v := firstHeader(h, "X-Rate-Limit-Reset", "X-RateLimit-Reset")
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// untilAt is the time from the response's Date to t. Measuring against the
// server's own clock (as Okta advises) makes the wait right even when this
// machine's clock is off; without a Date the fallback is used. One second
// is added because reset times are rounded down to the second.
func untilAt(h http.Header, t time.Time, fallback time.Duration) time.Duration {
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return fallback
	}
	d := t.Sub(date) + time.Second
	if d < 0 {
		return 0
	}
	return d
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

func (c *Client) wait(ctx context.Context, method, target string, d time.Duration, why string) error {
	c.log().Info("waiting before the next request", "wait", d.Round(time.Millisecond).String(), "reason", why, "request", method+" "+target)
	c.stats.Waited.Add(int64(d))
	if c.OnWait != nil {
		c.OnWait(d, why)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}

// VendorMessage finds the human message in an error body, in the shapes
// the vendors use: Okta (errorSummary, errorCauses), Microsoft Graph
// (error.message), CrowdStrike (errors[].message), Jamf
// (errors[].description), OAuth 2.0 (error_description), GitHub and most
// others (message). Otherwise it returns the start of the body as text.
func VendorMessage(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	get := func(path ...string) string {
		s, err := jsonparser.GetString(body, path...)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(s)
	}
	if body[0] == '{' {
		if s := get("errorSummary"); s != "" {
			code := get("errorCode")
			var causes []string
			_, _ = jsonparser.ArrayEach(body, func(v []byte, _ jsonparser.ValueType, _ int, _ error) {
				if c, err := jsonparser.GetString(v, "errorSummary"); err == nil && c != "" && c != s {
					causes = append(causes, c)
				}
			}, "errorCauses")
			if len(causes) > 0 {
				s += " (" + strings.Join(causes, "; ") + ")"
			}
			if code != "" {
				s += " [" + code + "]"
			}
			return s
		}
		if s := get("error", "message"); s != "" {
			if code := get("error", "code"); code != "" {
				s += " [" + code + "]"
			}
			return s
		}
		var msgs []string
		_, _ = jsonparser.ArrayEach(body, func(v []byte, _ jsonparser.ValueType, _ int, _ error) {
			for _, k := range []string{"message", "description"} {
				if m, err := jsonparser.GetString(v, k); err == nil && m != "" {
					if code, err := jsonparser.GetUnsafeString(v, "code"); err == nil && code != "" {
						m += " [" + code + "]"
					}
					msgs = append(msgs, m)
					break
				}
			}
		}, "errors")
		if len(msgs) > 0 {
			return strings.Join(msgs, "; ")
		}
		if s := get("error_description"); s != "" {
			return s
		}
		for _, k := range []string{"message", "error", "detail", "title"} {
			if s := get(k); s != "" {
				return s
			}
		}
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
