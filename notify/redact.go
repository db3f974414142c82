package notify

import (
	"net/url"
	"strings"
)

// Redact returns err with every secret in its text replaced by
// [redacted], so that a channel's error can be logged, stored in the
// outbox and shown by onus outbox without leaking a token, a password or
// a webhook URL (whose path is the secret). errors.Is and errors.As still
// see the original error.
func Redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := RedactString(err.Error(), secrets...)
	if msg == err.Error() {
		return err
	}
	return &redacted{msg: msg, err: err}
}

// RedactString replaces every secret in s with [redacted].
func RedactString(s string, secrets ...string) string {
	for _, sec := range secrets {
		// Very short values would blank out ordinary words.
		if len(sec) < 6 {
			continue
		}
		s = strings.ReplaceAll(s, sec, "[redacted]")
		if esc := url.QueryEscape(sec); esc != sec {
			s = strings.ReplaceAll(s, esc, "[redacted]")
		}
	}
	return s
}

// URLSecrets returns the parts of a URL that grant access, longest first:
// the whole URL, its path and its query (a Teams or Slack incoming webhook
// is a secret path; some APIs take a key in the query).
func URLSecrets(raw string) []string {
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	if len(u.Path) > 1 {
		out = append(out, u.Path, u.EscapedPath())
	}
	if u.RawQuery != "" {
		out = append(out, u.RawQuery)
	}
	if u.User != nil {
		out = append(out, u.User.String())
	}
	return out
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }
