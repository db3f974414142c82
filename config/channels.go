package config

import (
	"bytes"
	"sort"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// ChannelSection is one channel's settings under nudges.channels. Each
// channel package declares its own section type, registers it with
// RegisterChannel, and checks it in Check; config knows no channel by name.
// A section is decoded strictly: a key its type does not declare is an
// error naming its file and line.
type ChannelSection interface {
	// Check reports the section's problems through c.
	Check(c *ChannelCheck)
}

// ChannelFiles is implemented by a section that names files (file:PATH
// secrets, a CA file): Load makes their relative paths relative to the
// configuration directory, as it does for every other path.
type ChannelFiles interface {
	// Files returns the fields that may hold file:PATH secrets and the
	// fields that hold plain paths.
	Files() (secrets, paths []*string)
}

var (
	channelsMu sync.RWMutex
	channels   = map[string]func() ChannelSection{}
)

// RegisterChannel makes a channel's section known under
// nudges.channels.NAME; newSection returns an empty section to decode
// into. Channel packages call it from init, beside notify.Register.
func RegisterChannel(name string, newSection func() ChannelSection) {
	channelsMu.Lock()
	defer channelsMu.Unlock()
	if _, dup := channels[name]; dup {
		panic("config: channel " + name + " registered twice")
	}
	channels[name] = newSection
}

// ChannelNames lists the registered channels, sorted.
func ChannelNames() []string {
	channelsMu.RLock()
	defer channelsMu.RUnlock()
	out := make([]string, 0, len(channels))
	for n := range channels {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func newChannelSection(name string) func() ChannelSection {
	channelsMu.RLock()
	defer channelsMu.RUnlock()
	return channels[name]
}

// Channels are the configured channels' sections by name. A channel
// whose section is empty (email: with nothing after it) is not set up.
type Channels map[string]ChannelSection

// UnmarshalYAML decodes each channel's section into the type its package
// registered, strictly.
func (cs *Channels) UnmarshalYAML(node ast.Node) error {
	if _, null := node.(*ast.NullNode); null {
		return nil
	}
	m, ok := node.(*ast.MappingNode)
	if !ok {
		return nodeError(node, "%s was used where mapping is expected", nodeKind(node))
	}
	out := Channels{}
	for _, kv := range m.Values {
		name := kv.Key.String()
		if sn, ok := kv.Key.(*ast.StringNode); ok {
			name = sn.Value
		}
		newSection := newChannelSection(name)
		if newSection == nil {
			if len(ChannelNames()) == 0 {
				// A program that reads the configuration without linking
				// the channel packages.
				return nodeError(kv.Key, "channel %q: no channel is registered: the program does not link the channel packages under github.com/onus-sec/onus/notify", name)
			}
			return nodeError(kv.Key, "unknown field %q", name)
		}
		if _, null := kv.Value.(*ast.NullNode); null {
			continue
		}
		sec := newSection()
		dec := yaml.NewDecoder(bytes.NewReader(nil), yaml.DisallowUnknownField())
		if err := dec.DecodeFromNode(kv.Value, sec); err != nil {
			return err
		}
		out[name] = sec
	}
	*cs = out
	return nil
}

func nodeKind(node ast.Node) string {
	switch node.Type() {
	case ast.SequenceType:
		return "sequence"
	case ast.MappingType:
		return "mapping"
	}
	return "scalar"
}

// ChannelCheck is what a channel section's Check reports to: problems
// land in the configuration's list with the file and line of the key
// they are about.
type ChannelCheck struct {
	v    *validator
	name string
}

// Path returns the dotted path of a key of the section, for messages:
// "nudges.channels.email.from"; the section itself for "".
func (c *ChannelCheck) Path(key string) string {
	p := "nudges.channels." + c.name
	if key != "" {
		p += "." + key
	}
	return p
}

// Errorf reports a problem at the line of key ("" for the section).
func (c *ChannelCheck) Errorf(key, format string, args ...any) {
	c.v.errorf(c.v.cfg.File, c.v.at("$."+c.Path(key)), format, args...)
}

// Secret reports a credential written in the configuration: secrets are
// only read from env:NAME or file:PATH.
func (c *ChannelCheck) Secret(key, value string) {
	if value != "" && !strings.HasPrefix(value, "env:") && !strings.HasPrefix(value, "file:") {
		c.Errorf(key, "%s must be env:NAME or file:PATH; onus never reads secrets written in the config", c.Path(key))
	}
}

// channels checks each channel's settings under nudges.channels.
func (v *validator) channels() {
	n := &v.cfg.Nudges
	names := make([]string, 0, len(n.Channels))
	for name := range n.Channels {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if sec := n.Channels[name]; sec != nil {
			sec.Check(&ChannelCheck{v: v, name: name})
		}
	}
}

// defaultChannel checks nudges.default_channel names a registered channel.
func (v *validator) defaultChannel() {
	n, f := &v.cfg.Nudges, v.cfg.File
	if n.DefaultChannel == "" {
		return
	}
	names := ChannelNames()
	if len(names) == 0 {
		v.errorf(f, v.at("$.nudges.default_channel"), "nudges.default_channel: no channel is registered: the program does not link the channel packages under github.com/onus-sec/onus/notify")
		return
	}
	if contains(names, n.DefaultChannel) {
		return
	}
	list := names[0]
	if len(names) > 1 {
		list = strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	}
	v.errorf(f, v.at("$.nudges.default_channel"), "nudges.default_channel: %q is not %s", n.DefaultChannel, list)
}

// resolveChannelPaths makes the files channel sections name relative to
// the configuration directory.
func (c *Config) resolveChannelPaths(abs func(p *string, prefix string)) {
	for _, sec := range c.Nudges.Channels {
		fs, ok := sec.(ChannelFiles)
		if !ok {
			continue
		}
		secrets, paths := fs.Files()
		for _, p := range secrets {
			abs(p, "file:")
		}
		for _, p := range paths {
			abs(p, "")
		}
	}
}
