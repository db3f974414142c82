package smtp

import (
	"net/mail"

	"github.com/onus-sec/onus/config"
)

// Name is the channel's name in onus.yaml (nudges.channels.email) and in
// people's channel preference.
const Name = "email"

func init() { config.RegisterChannel(Name, func() config.ChannelSection { return &Config{} }) }

// Config is the email section of nudges.channels: how to reach the SMTP
// relay.
type Config struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// TLS is starttls (default), tls (implicit, port 465) or none.
	TLS      string `yaml:"tls"`
	Username string `yaml:"username"` // env:NAME or file:PATH
	Password string `yaml:"password"` // env:NAME or file:PATH
	From     string `yaml:"from"`
	// CAFile is a PEM file of the certificate authority of a relay with a
	// private certificate; the system's authorities by default.
	CAFile string `yaml:"ca_file"`
}

// Check reports credentials written in the file, a missing relay or
// sender, and an unknown TLS mode.
func (c *Config) Check(ck *config.ChannelCheck) {
	ck.Secret("username", c.Username)
	ck.Secret("password", c.Password)
	if c.Host == "" || c.From == "" {
		ck.Errorf("", "%s needs host and from", ck.Path(""))
	} else if _, err := mail.ParseAddress(c.From); err != nil {
		ck.Errorf("from", "%s: %q is not an e-mail address (write security@acme.com or \"Acme Security <security@acme.com>\")", ck.Path("from"), c.From)
	}
	switch c.TLS {
	case "", "starttls", "tls", "none":
	default:
		ck.Errorf("tls", "%s: %q is not starttls, tls or none", ck.Path("tls"), c.TLS)
	}
}

// Files names the secrets and the CA file, read relative to the
// configuration directory.
func (c *Config) Files() (secrets, paths []*string) {
	return []*string{&c.Username, &c.Password}, []*string{&c.CAFile}
}
