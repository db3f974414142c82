package webhook

import "github.com/onus-sec/onus/config"

// Name is the channel's name in onus.yaml (nudges.channels.webhook) and in
// people's channel preference.
const Name = "webhook"

func init() { config.RegisterChannel(Name, func() config.ChannelSection { return &Config{} }) }

// Config is the webhook section of nudges.channels: where signed JSON is
// posted and the key it is signed with.
type Config struct {
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"` // env:NAME or file:PATH
}

// Check reports a secret written in the file and a missing URL or secret:
// receivers check the signature.
func (c *Config) Check(ck *config.ChannelCheck) {
	ck.Secret("secret", c.Secret)
	if c.URL == "" || c.Secret == "" {
		ck.Errorf("", "%s needs url and secret: receivers check the signature", ck.Path(""))
	}
}

// Files names the secret (and a URL given as file:PATH), read relative to
// the configuration directory.
func (c *Config) Files() (secrets, paths []*string) {
	return []*string{&c.URL, &c.Secret}, nil
}
