package config

import (
	"net/netip"
	"strings"
	"time"
)

// Serve configures "onus serve", the web application and API.
type Serve struct {
	// URL is the address people reach onus at (https://onus.acme.com); the
	// OIDC redirect and the links in nudges are built from it.
	URL string `yaml:"url"`
	// Admins are the security administrators: e-mails or team ids. They
	// see everything and may act on sources.
	Admins []string `yaml:"admins"`
	// Auditors see everything, read-only, with the audit log.
	Auditors []string `yaml:"auditors"`
	// OIDC signs people in through the organisation's identity provider.
	OIDC *OIDC `yaml:"oidc"`
	// BreakGlass is a local administrator for when the identity provider
	// is down; off unless set.
	BreakGlass *BreakGlass `yaml:"break_glass"`
	// DemoSignIn lets anyone pick a person from the directory and act as
	// them. For demonstrations only; refused together with oidc.
	DemoSignIn bool `yaml:"demo_signin"`
	// Session is how long a sign-in lasts (12h by default).
	Session *Duration `yaml:"session"`
	// TLS serves HTTPS from these files.
	TLS *TLS `yaml:"tls"`
	// TrustedProxies are the addresses (CIDR) whose X-Forwarded-For and
	// X-Forwarded-Proto headers are believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// RateLimits caps sign-in attempts and token use per client address,
	// in each process: N replicas behind a load balancer allow up to N
	// times as many.
	RateLimits *RateLimits `yaml:"rate_limits"`
}

// RateLimits are per client address and per minute, counted in each
// onus serve process.
type RateLimits struct {
	// SignIn is how many sign-in attempts (OIDC start and callback,
	// break-glass) one address may make per minute (10 by default).
	SignIn int `yaml:"signin_per_minute"`
	// Token is how many requests with a bearer token one address may
	// make per minute (600 by default).
	Token int `yaml:"token_per_minute"`
}

// OIDC is an OpenID Connect relying party.
type OIDC struct {
	Issuer       string   `yaml:"issuer"`
	ClientID     string   `yaml:"client_id"`
	ClientSecret string   `yaml:"client_secret"` // env:NAME or file:PATH
	Scopes       []string `yaml:"scopes"`
	// EmailClaim is the claim holding the e-mail address ("email").
	EmailClaim string `yaml:"email_claim"`
}

// BreakGlass is a local administrator.
type BreakGlass struct {
	User string `yaml:"user"`
	// PasswordHash is a bcrypt hash, from env:NAME or file:PATH.
	PasswordHash string `yaml:"password_hash"`
}

// TLS names a certificate and its key.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// SessionLength returns how long a sign-in lasts.
func (s *Serve) SessionLength() time.Duration {
	if s.Session != nil && s.Session.Duration > 0 {
		return s.Session.Duration
	}
	return 12 * time.Hour
}

func (v *validator) serve() {
	c := v.cfg
	f, s := c.File, &c.Serve
	secret := func(path, val string) {
		if val != "" && !strings.HasPrefix(val, "env:") && !strings.HasPrefix(val, "file:") {
			v.errorf(f, v.at(path), "%s must be env:NAME or file:PATH; onus never reads secrets written in the config", strings.TrimPrefix(path, "$."))
		}
	}
	if s.URL != "" && !strings.HasPrefix(s.URL, "https://") && !strings.HasPrefix(s.URL, "http://") {
		v.errorf(f, v.at("$.serve.url"), "serve.url: %q is not an http(s) address", s.URL)
	}
	if o := s.OIDC; o != nil {
		if o.Issuer == "" || o.ClientID == "" {
			v.errorf(f, v.at("$.serve.oidc"), "serve.oidc needs issuer and client_id")
		}
		secret("$.serve.oidc.client_secret", o.ClientSecret)
		if s.URL == "" {
			v.errorf(f, v.at("$.serve.oidc"), "serve.oidc needs serve.url: the identity provider sends people back to <url>/auth/callback")
		}
		if s.DemoSignIn {
			v.errorf(f, v.at("$.serve.demo_signin"), "serve.demo_signin lets anyone act as anyone: it cannot be on beside serve.oidc")
		}
	}
	if b := s.BreakGlass; b != nil {
		if b.User == "" || b.PasswordHash == "" {
			v.errorf(f, v.at("$.serve.break_glass"), "serve.break_glass needs user and password_hash (a bcrypt hash from env: or file:)")
		}
		secret("$.serve.break_glass.password_hash", b.PasswordHash)
	}
	if t := s.TLS; t != nil && (t.Cert == "" || t.Key == "") {
		v.errorf(f, v.at("$.serve.tls"), "serve.tls needs cert and key")
	}
	if r := s.RateLimits; r != nil && (r.SignIn < 0 || r.Token < 0) {
		v.errorf(f, v.at("$.serve.rate_limits"), "serve.rate_limits: a limit is a number of requests per minute, 0 for the default")
	}
	for i, p := range s.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				v.errorf(f, v.at("$.serve.trusted_proxies"), "serve.trusted_proxies[%d]: %q is not an address or CIDR prefix", i, p)
			}
		}
	}
}
