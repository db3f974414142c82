// Package connector reads systems of record through their APIs, so that a
// source can say `connector: okta` instead of pointing at an export file a
// script must produce.
//
// Connectors register under a name, the way Litestream registers its
// replica backends: adding one is adding a package under connector/ that
// calls Register in its init function, and one blank import in
// connector/all. Register also makes the connector available to the source
// package, so a connector source is mapped by the same map: and links: as a
// file source and yields the same snapshot; a failed or partial pull fails
// the source exactly as a broken file does, and no finding changes.
//
// The shared parts live here: an HTTP client with timeouts, retries with
// backoff and jitter that honour Retry-After and the vendors' rate-limit
// headers, credentials from env: or file:, OAuth 2.0 client credentials
// with a refresh when a token expires or is refused mid-pull, pagination
// helpers (Link headers, next-URL and cursor fields, page numbers), and the
// vendor's own error message when a request is refused.
package connector

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/source"
)

// Connector reads every record of one source from a vendor's API.
type Connector interface {
	// Pull fetches every record and hands them to emit a page at a time.
	// It returns an error as soon as a page cannot be fetched, is refused
	// or does not parse: a partial pull is a failed pull, and the source's
	// last good snapshot stays in force. An error from emit is returned
	// as is.
	Pull(ctx context.Context, emit func(Page) error) error
}

// Checker is implemented by connectors that can check their credentials
// more cheaply than a whole pull ("onus sources test").
type Checker interface {
	// Check makes the smallest requests that prove the credentials work and
	// may read what the source needs, and returns the first page read. It
	// returns the vendor's refusal, in the vendor's words, on failure.
	Check(ctx context.Context) (Page, error)
}

// Incremental is implemented by connectors whose API can list only the
// records changed since a time (Okta's lastUpdated).
type Incremental interface {
	// PullSince is Pull restricted to the records created or changed at or
	// after since. It cannot see deletions: a full pull at least every
	// options.full_every does.
	PullSince(ctx context.Context, since time.Time, emit func(Page) error) error
}

// Page is one response's records.
type Page struct {
	// Where names the request ("GET https://acme.okta.com/api/v1/users"),
	// for problems with its records. It never holds a credential.
	Where string
	// Objects are the records, each one well-formed JSON object.
	Objects [][]byte
	// Bytes is the size of the response body.
	Bytes int
}

// Option is a setting of a connector, in options: or credentials:.
type Option struct {
	Name string `json:"name"`
	// Help says what the option is, in one sentence.
	Help     string `json:"help"`
	Default  string `json:"default,omitempty"`
	Required bool   `json:"required,omitempty"`
}

// Spec describes a connector and opens it.
type Spec struct {
	// Name is what a source's connector: says.
	Name string `json:"name"`
	// Title is the vendor and product ("Okta").
	Title string `json:"title"`
	// Resources are what the connector can read, chosen with the resource
	// option; the first is the default.
	Resources []string `json:"resources,omitempty"`
	// Options and Credentials are the keys of options: and credentials:.
	// Credentials are always env:NAME or file:PATH.
	Options     []Option `json:"options"`
	Credentials []Option `json:"credentials"`
	// Doc is the page in docs/connectors that says how to create the
	// credentials and which scopes they need.
	Doc string `json:"doc"`
	// Incremental connectors get the full_every option.
	Incremental bool `json:"incremental,omitempty"`
	// Open makes a connector for one source. It returns an EINVALID error
	// naming the option when the settings are wrong.
	Open func(s *Settings) (Connector, error) `json:"-"`
}

var specs = map[string]*Spec{}

// Register makes a connector available under spec.Name, to this package and
// to the source package. It panics when the name is taken, as that is a
// programming error.
func Register(spec *Spec) {
	if _, dup := specs[spec.Name]; dup {
		panic("connector: " + spec.Name + " registered twice")
	}
	if spec.Incremental {
		spec.Options = append(spec.Options, Option{Name: "full_every", Help: "pull only what changed since the last good sync, with a full pull (which also sees deletions) at the first sync of each such period (24h); every pull is full when empty"})
	}
	spec.Options = append(spec.Options, commonOptions...)
	if len(spec.Resources) > 0 {
		spec.Options = append([]Option{{Name: "resource", Help: "what to read: " + strings.Join(spec.Resources, ", "), Default: spec.Resources[0]}}, spec.Options...)
	}
	specs[spec.Name] = spec
	source.Register(spec.Name, func(src *config.Source, dir string) (source.Reader, error) {
		h, err := Open(src, dir, slog.Default())
		if err != nil {
			return nil, err
		}
		return h.Reader(), nil
	})
}

// commonOptions are understood by every connector.
var commonOptions = []Option{
	{Name: "timeout", Help: "how long one request may take", Default: "30s"},
	{Name: "retries", Help: "how many times a failed request (a timeout, 5xx, 429) is tried again", Default: "5"},
	{Name: "max_wait", Help: "the longest rate-limit wait accepted before the pull fails", Default: "5m"},
}

// Lookup returns the connector registered under name, or nil.
func Lookup(name string) *Spec { return specs[name] }

// All returns every registered connector, by name.
func All() []*Spec {
	out := make([]*Spec, 0, len(specs))
	for _, s := range specs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Settings are one source's connector settings, checked against its Spec.
type Settings struct {
	// Source is the source's name, for messages.
	Source string
	// Spec is the connector's description.
	Spec *Spec
	// Dir is the configuration directory; file: credentials are relative to it.
	Dir string
	// Options are the source's options, defaults filled in.
	Options map[string]string
	// Credentials are the source's env:/file: references, not the secrets.
	Credentials map[string]string
	// Client is the HTTP client to use, built from the common options.
	Client *Client
}

// Handle is an opened connector with its spec and HTTP client, whose
// counters say how many requests, retries and waits a pull took.
type Handle struct {
	Connector
	Spec   *Spec
	Client *Client
	// Source is the name of the source the connector reads for.
	Source string
	// FullEvery is options.full_every; 0 when every pull is full.
	FullEvery time.Duration
}

// Reader returns the connector as a source reader.
func (h *Handle) Reader() source.Reader {
	return &reader{vendor: h.Spec.Name, h: h}
}

// Validate checks a source's connector settings without reading its
// credentials, so that "onus validate" can run where the secrets are not:
// the connector exists, every option and credential is one it knows,
// required ones are set, credentials are env: or file: references, and the
// resource is one it reads. The error names the source and the key.
func Validate(src *config.Source) error {
	_, err := settings(src, "")
	return err
}

// Open checks a source's connector settings and opens its connector. log
// receives retries and rate-limit waits; nil logs nothing.
func Open(src *config.Source, dir string, log *slog.Logger) (*Handle, error) {
	s, err := settings(src, dir)
	if err != nil {
		return nil, err
	}
	client, err := s.newClient(log)
	if err != nil {
		return nil, err
	}
	s.Client = client
	c, err := s.Spec.Open(s)
	if err != nil {
		return nil, err
	}
	h := &Handle{Connector: c, Spec: s.Spec, Client: client, Source: src.Name}
	if s.Options["full_every"] != "" {
		if h.FullEvery, err = s.Duration("full_every"); err != nil {
			return nil, err
		}
		if _, ok := c.(Incremental); !ok {
			return nil, onus.Errorf(onus.EINVALID, "source %s: connector %s cannot pull incrementally (options.full_every)", src.Name, s.Spec.Name)
		}
	}
	return h, nil
}

func settings(src *config.Source, dir string) (*Settings, error) {
	spec := specs[src.Connector]
	if spec == nil {
		return nil, onus.Errorf(onus.EINVALID, "source %s: no connector called %q (available: %s)", src.Name, src.Connector, strings.Join(Names(), ", "))
	}
	s := &Settings{Source: src.Name, Spec: spec, Dir: dir, Options: map[string]string{}, Credentials: map[string]string{}}
	known := map[string]bool{}
	for _, o := range spec.Options {
		known[o.Name] = true
		if v, ok := src.Options[o.Name]; ok && strings.TrimSpace(v) != "" {
			s.Options[o.Name] = strings.TrimSpace(v)
		} else if o.Default != "" {
			s.Options[o.Name] = o.Default
		} else if o.Required {
			return nil, onus.Errorf(onus.EINVALID, "source %s: connector %s needs options.%s (%s)", src.Name, spec.Name, o.Name, o.Help)
		}
	}
	for k := range src.Options {
		if !known[k] {
			return nil, onus.Errorf(onus.EINVALID, "source %s: connector %s has no option %q (its options: %s)", src.Name, spec.Name, k, optionNames(spec.Options))
		}
	}
	knownCred := map[string]bool{}
	for _, o := range spec.Credentials {
		knownCred[o.Name] = true
		if v, ok := src.Credentials[o.Name]; ok {
			s.Credentials[o.Name] = v
		} else if o.Required {
			return nil, onus.Errorf(onus.EINVALID, "source %s: connector %s needs credentials.%s (%s; env:NAME or file:PATH)", src.Name, spec.Name, o.Name, o.Help)
		}
	}
	for k, v := range src.Credentials {
		if !knownCred[k] {
			return nil, onus.Errorf(onus.EINVALID, "source %s: connector %s has no credential %q (its credentials: %s)", src.Name, spec.Name, k, optionNames(spec.Credentials))
		}
		if !strings.HasPrefix(v, "env:") && !strings.HasPrefix(v, "file:") {
			return nil, onus.Errorf(onus.EINVALID, "source %s: credential %s must be env:NAME or file:PATH", src.Name, k)
		}
	}
	if r := s.Options["resource"]; len(spec.Resources) > 0 && !contains(spec.Resources, r) {
		return nil, onus.Errorf(onus.EINVALID, "source %s: connector %s cannot read %q (options.resource is one of %s)", src.Name, spec.Name, r, strings.Join(spec.Resources, ", "))
	}
	for _, name := range []string{"timeout", "max_wait"} {
		if _, err := s.Duration(name); err != nil {
			return nil, err
		}
	}
	if _, err := s.Int("retries"); err != nil {
		return nil, err
	}
	if s.Options["full_every"] != "" {
		if _, err := s.Duration("full_every"); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Settings) newClient(log *slog.Logger) (*Client, error) {
	timeout, err := s.Duration("timeout")
	if err != nil {
		return nil, err
	}
	retries, err := s.Int("retries")
	if err != nil {
		return nil, err
	}
	maxWait, err := s.Duration("max_wait")
	if err != nil {
		return nil, err
	}
	c := NewClient(s.Spec.Title, timeout)
	c.Retries, c.MaxWait = retries, maxWait
	if log != nil {
		c.Log = log.With(onus.LogSource, s.Source, onus.LogConnector, s.Spec.Name)
	}
	return c, nil
}

// Names lists the registered connectors.
func Names() []string {
	var names []string
	for _, s := range All() {
		names = append(names, s.Name)
	}
	return names
}

func optionNames(opts []Option) string {
	if len(opts) == 0 {
		return "none"
	}
	names := make([]string, len(opts))
	for i, o := range opts {
		names[i] = o.Name
	}
	return strings.Join(names, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Option returns an option's value ("" when unset and without default).
func (s *Settings) Option(name string) string { return s.Options[name] }

// Int returns an option as a positive whole number.
func (s *Settings) Int(name string) (int, error) {
	v := s.Options[name]
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n < 0 || fmt.Sprint(n) != v {
		return 0, onus.Errorf(onus.EINVALID, "source %s: options.%s is %q, not a whole number", s.Source, name, v)
	}
	return n, nil
}

// Duration returns an option as a duration ("30s", "5m").
func (s *Settings) Duration(name string) (time.Duration, error) {
	v := s.Options[name]
	d, err := onus.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, onus.Errorf(onus.EINVALID, "source %s: options.%s is %q, not a duration (examples: 30s, 5m)", s.Source, name, v)
	}
	return d, nil
}

// List returns a comma-separated option as a list.
func (s *Settings) List(name string) []string {
	var out []string
	for _, p := range strings.Split(s.Options[name], ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// URL returns an option as a base URL without a trailing slash; a bare
// host name gets https://.
func (s *Settings) URL(name string) (string, error) {
	v := strings.TrimRight(s.Options[name], "/")
	if v == "" {
		return "", onus.Errorf(onus.EINVALID, "source %s: options.%s is required", s.Source, name)
	}
	if !strings.Contains(v, "://") {
		v = "https://" + v
	}
	if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
		return "", onus.Errorf(onus.EINVALID, "source %s: options.%s %q is not an http(s) URL", s.Source, name, v)
	}
	return v, nil
}

// Secret reads a credential from the environment or a file. It returns an
// EINVALID error naming the reference, never the value, when it cannot.
func (s *Settings) Secret(name string) (string, error) {
	ref, ok := s.Credentials[name]
	if !ok {
		return "", onus.Errorf(onus.EINVALID, "source %s: connector %s needs credentials.%s (env:NAME or file:PATH)", s.Source, s.Spec.Name, name)
	}
	v, err := ReadSecret(ref, s.Dir)
	if err != nil {
		return "", onus.Errorf(onus.EINVALID, "source %s: credentials.%s: %s", s.Source, name, onus.ErrorMessage(err))
	}
	return v, nil
}

// HasCredential reports whether the source sets a credential.
func (s *Settings) HasCredential(name string) bool {
	_, ok := s.Credentials[name]
	return ok
}
