package slack

import "github.com/onus-sec/onus/config"

// Name is the channel's name in onus.yaml (nudges.channels.slack) and in
// people's channel preference.
const Name = "slack"

func init() { config.RegisterChannel(Name, func() config.ChannelSection { return &Config{} }) }

// Config is the slack section of nudges.channels: the bot that sends
// direct messages.
type Config struct {
	Token  string `yaml:"token"` // env:NAME or file:PATH
	APIURL string `yaml:"api_url"`
}

// Check reports a token written in the file.
func (c *Config) Check(ck *config.ChannelCheck) { ck.Secret("token", c.Token) }

// Files names the token, read relative to the configuration directory.
func (c *Config) Files() (secrets, paths []*string) { return []*string{&c.Token}, nil }
