// Package webhook delivers messages as signed JSON: the body is signed
// with HMAC-SHA256 over the timestamp and the body, so that receivers can
// check who sent it and reject replays.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/notify"
)

// Headers of a delivery.
const (
	HeaderTimestamp = "X-Onus-Timestamp"
	HeaderSignature = "X-Onus-Signature" // "sha256=" + hex(HMAC(secret, timestamp + "." + body))
	HeaderKey       = "Idempotency-Key"
)

func init() {
	notify.Register(Name, func(cfg *config.Nudges) (notify.Channel, error) {
		w, _ := cfg.Channels[Name].(*Config)
		if w == nil {
			return nil, nil
		}
		secret, err := notify.Secret(w.Secret)
		if err != nil {
			return nil, err
		}
		return &Channel{URL: w.URL, Secret: []byte(secret), Client: &http.Client{Timeout: 30 * time.Second}}, nil
	})
}

// Channel posts JSON to a URL.
type Channel struct {
	URL    string
	Secret []byte
	Client *http.Client
	Now    func() time.Time
}

var _ notify.Channel = (*Channel)(nil)

// Idempotent is true: every delivery carries its key, and receivers are
// asked to drop a key they have seen.
func (c *Channel) Idempotent() bool { return true }

// Sign returns the signature of a body sent at a time.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a delivery's signature and that it is no older than
// maxAge: what a receiver does.
func Verify(secret []byte, r *http.Request, body []byte, maxAge time.Duration, now time.Time) error {
	ts := r.Header.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("no timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxAge || d < -maxAge {
		return fmt.Errorf("timestamp too far from now: a replay")
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(r.Header.Get(HeaderSignature))) {
		return fmt.Errorf("bad signature")
	}
	return nil
}

// Send posts one message. A request that may have arrived is sent again:
// receivers drop a key they have seen.
func (c *Channel) Send(ctx context.Context, e notify.Envelope) (string, error) {
	id, err := Post(ctx, c.Client, c.URL, c.Secret, e.Key, e.Payload, c.Now)
	if errors.Is(err, notify.ErrUncertain) {
		return "", errors.New(err.Error()) // a temporary failure: retried
	}
	return id, err
}

// Post sends a signed body, for this channel and for Teams.
//
// The URL may be a secret (a Teams incoming webhook): errors never hold it.
func Post(ctx context.Context, client *http.Client, url string, secret []byte, key string, body []byte, now func() time.Time) (string, error) {
	id, err := post(ctx, client, url, secret, key, body, now)
	return id, notify.Redact(err, append(notify.URLSecrets(url), string(secret))...)
}

func post(ctx context.Context, client *http.Client, url string, secret []byte, key string, body []byte, now func() time.Time) (string, error) {
	if now == nil {
		now = onus.SystemClock.Now // signatures are operational time
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("%w: %v", notify.ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderKey, key)
	if secret != nil {
		ts := strconv.FormatInt(now().Unix(), 10)
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, Sign(secret, ts, body))
	}
	// Once the whole request is written, a failure (no answer before the
	// timeout, a dropped connection) may come after the receiver acted
	// on it.
	var wrote atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) { wrote.Store(info.Err == nil) },
	}))
	resp, err := client.Do(req)
	if err != nil {
		if wrote.Load() {
			return "", &uncertain{err}
		}
		return "", err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return resp.Header.Get("X-Request-Id"), nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return "", fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return "", fmt.Errorf("%w: %s: %s", notify.ErrPermanent, resp.Status, bytes.TrimSpace(msg))
}

// uncertain wraps a failure after the request was written: errors.Is sees
// notify.ErrUncertain, and errors.Unwrap gives the failure itself.
type uncertain struct{ err error }

func (u *uncertain) Error() string { return "no answer after the request was sent: " + u.err.Error() }
func (u *uncertain) Unwrap() error { return u.err }
func (u *uncertain) Is(target error) bool {
	return target == notify.ErrUncertain
}
