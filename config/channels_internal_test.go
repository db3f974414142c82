package config

import (
	"strings"
	"testing"
)

// A program that reads the configuration without linking any channel
// package is told so, rather than told that email is an unknown key.
func TestChannelsNotLinked(t *testing.T) {
	channelsMu.Lock()
	saved := channels
	channels = map[string]func() ChannelSection{}
	channelsMu.Unlock()
	t.Cleanup(func() {
		channelsMu.Lock()
		channels = saved
		channelsMu.Unlock()
	})
	_, err := ParseMain("onus.yaml", strings.NewReader("version: 1\nnudges:\n  channels:\n    email: { host: h }\n"))
	want := `onus.yaml:4:5: channel "email": no channel is registered: the program does not link the channel packages under github.com/onus-sec/onus/notify`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant %s", err, want)
	}
	cfg, err := ParseMain("onus.yaml", strings.NewReader("version: 1\nnudges:\n  default_channel: email\n"))
	if err != nil {
		t.Fatal(err)
	}
	want = `onus.yaml:3: nudges.default_channel: no channel is registered`
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want %q", err, want)
	}
}
