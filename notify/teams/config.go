package teams

import "github.com/onus-sec/onus/config"

// Name is the channel's name in onus.yaml (nudges.channels.teams) and in
// people's channel preference.
const Name = "teams"

func init() { config.RegisterChannel(Name, func() config.ChannelSection { return &Config{} }) }

// Config is the teams section of nudges.channels: the incoming webhook
// cards are posted to.
type Config struct {
	URL string `yaml:"url"` // env:NAME or file:PATH: the URL is a secret
}

// Check reports a URL written in the file: whoever has it can post.
func (c *Config) Check(ck *config.ChannelCheck) { ck.Secret("url", c.URL) }

// Files names the URL, read relative to the configuration directory.
func (c *Config) Files() (secrets, paths []*string) { return []*string{&c.URL}, nil }
