// Package smtp delivers messages as e-mail: HTML with a plain-text
// alternative, over SMTP with STARTTLS or TLS and authentication.
package smtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/notify"
)

func init() {
	notify.Register(Name, func(cfg *config.Nudges) (notify.Channel, error) {
		c, _ := cfg.Channels[Name].(*Config)
		if c == nil {
			return nil, nil
		}
		return New(c)
	})
}

// Channel sends e-mail. It keeps one connection open across messages
// (TLS and authentication once, not per message) until Close.
type Channel struct {
	from   *mail.Address
	domain string
	opts   []gomail.Option
	host   string

	mu     sync.Mutex
	client *gomail.Client // the open connection; nil when there is none
	// secrets are kept out of errors.
	secrets []string
}

var _ notify.Channel = (*Channel)(nil)

// New builds the e-mail channel; the username and password are read from
// their env: or file: references.
func New(c *Config) (*Channel, error) {
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("from %q is not an address: %w", c.From, err)
	}
	user, err := notify.Secret(c.Username)
	if err != nil {
		return nil, err
	}
	pass, err := notify.Secret(c.Password)
	if err != nil {
		return nil, err
	}
	opts := []gomail.Option{gomail.WithTimeout(30 * time.Second)}
	port := c.Port
	switch c.TLS {
	case "tls":
		opts = append(opts, gomail.WithSSL())
		if port == 0 {
			port = 465
		}
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		if port == 0 {
			port = 25
		}
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		if port == 0 {
			port = 587
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", c.CAFile)
		}
		opts = append(opts, gomail.WithTLSConfig(&tls.Config{RootCAs: pool, ServerName: c.Host, MinVersion: tls.VersionTLS12}))
	}
	if user != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(user), gomail.WithPassword(pass))
	}
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	return &Channel{from: from, domain: domain, opts: opts, host: c.Host, secrets: []string{pass}}, nil
}

// Idempotent is false: an SMTP server takes a message twice if it is sent
// twice. The Message-ID is derived from the key so that mail clients can
// at least tell.
func (c *Channel) Idempotent() bool { return false }

// MessageID returns the Message-ID of the message with a key.
func (c *Channel) MessageID(key string) string { return key + "@" + c.domain }

// Send delivers one e-mail.
func (c *Channel) Send(ctx context.Context, e notify.Envelope) (string, error) {
	id, err := c.send(ctx, e)
	return id, notify.Redact(err, c.secrets...)
}

func (c *Channel) send(ctx context.Context, e notify.Envelope) (string, error) {
	to, err := mail.ParseAddress(e.To.Email)
	if err != nil {
		return "", fmt.Errorf("%w: %q is not an e-mail address", notify.ErrPermanent, e.To.Email)
	}
	m := gomail.NewMsg()
	if err := m.FromFormat(c.from.Name, c.from.Address); err != nil {
		return "", fmt.Errorf("%w: %v", notify.ErrPermanent, err)
	}
	if err := m.AddToFormat(e.To.Name, to.Address); err != nil {
		return "", fmt.Errorf("%w: %v", notify.ErrPermanent, err)
	}
	m.Subject(e.Subject)
	id := c.MessageID(e.Key)
	m.SetMessageIDWithValue(id)
	m.SetGenHeader("X-Onus-Key", e.Key)
	m.SetBodyString(gomail.TypeTextPlain, e.Text)
	if e.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, e.HTML)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if c.client == nil {
			client, err := gomail.NewClient(c.host, c.opts...)
			if err != nil {
				return "", fmt.Errorf("%w: %v", notify.ErrPermanent, err)
			}
			if err := client.DialWithContext(ctx); err != nil {
				return "", classify(err)
			}
			c.client = client
		}
		err := c.client.Send(m)
		if err == nil {
			return "<" + id + ">", nil
		}
		// After an error the connection is not reused.
		c.client.Close()
		c.client = nil
		// A held connection the server dropped fails before the message
		// is handed over (the check or MAIL FROM): once, dial again. Any
		// later failure may have delivered it and is left to the
		// dispatcher.
		var se *gomail.SendError
		if attempt == 0 && errors.As(err, &se) && (se.Reason == gomail.ErrConnCheck || se.Reason == gomail.ErrSMTPMailFrom || se.Reason == gomail.ErrSMTPReset) {
			continue
		}
		return "", classify(err)
	}
}

// classify marks 5xx answers as permanent failures, and a failure after
// the message content went to the server with no answer from it (the
// connection dropped, or the reply to the end of the data came too late)
// as uncertain: the relay may have taken the message, and e-mail cannot
// drop a copy, so sending it again could deliver it twice.
func classify(err error) error {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return err
	}
	if (se.Reason == gomail.ErrWriteContent || se.Reason == gomail.ErrSMTPDataClose) && se.ErrorCode() == 0 {
		return fmt.Errorf("%w: %v", notify.ErrUncertain, err)
	}
	if !se.IsTemp() && se.ErrorCode() >= 500 {
		return fmt.Errorf("%w: %v", notify.ErrPermanent, err)
	}
	return err
}

// Close closes the open connection, if any.
func (c *Channel) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil {
		return nil
	}
	err := c.client.Close()
	c.client = nil
	return err
}
