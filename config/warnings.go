package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// Warnings returns what is accepted but probably wrong in a configuration
// that validates: onus works, but not the way its author expects.
func (c *Config) Warnings() Problems {
	var out Problems
	for i, s := range c.Sources {
		if s.Map.Seen != "" {
			continue
		}
		keys := c.Correlate[s.Kind]
		if len(keys) == 0 {
			continue // each record is its own entity
		}
		// A source whose record id is one of its correlation keys holds
		// one record per entity; any other may hold several (the reports
		// of one candidate, the two Jamf records of a re-imaged laptop).
		single := false
		var mapped []string
		for _, k := range keys {
			for _, p := range s.Map.Keys[k] {
				mapped = append(mapped, k)
				if strings.TrimSpace(p) == strings.TrimSpace(s.Map.ID) {
					single = true
				}
			}
		}
		if single || len(mapped) == 0 {
			continue
		}
		line := 0
		if c.positions != nil {
			line = c.positions.line(fmt.Sprintf("$.sources[%d].map", i))
		}
		out = append(out, &Problem{File: c.File, Line: line, Message: fmt.Sprintf(
			"source %s: one entity can have several records (its id %s is not one of its correlation keys) and map.seen is not set: "+
				"the record read last speaks for entity.sources.%s; map seen, or check every record with entity.sources.%s.records",
			s.Name, s.Map.ID, s.Name, s.Name)})
	}
	return append(out, c.secretFileWarnings()...)
}

// secretFileWarnings names each file: secret that cannot be read here: a
// warning, not an error, since the configuration may be checked on
// another machine than the one that runs it. Nothing is read from the
// file but whether it opens.
func (c *Config) secretFileWarnings() Problems {
	type ref struct{ where, value string }
	var refs []ref
	for _, s := range c.Sources {
		for k, v := range s.Credentials {
			refs = append(refs, ref{fmt.Sprintf("sources.%s.credentials.%s", s.Name, k), v})
		}
	}
	for name, sec := range c.Nudges.Channels {
		if cf, ok := sec.(ChannelFiles); ok {
			secrets, _ := cf.Files()
			for _, p := range secrets {
				refs = append(refs, ref{"nudges.channels." + name, *p})
			}
		}
	}
	if o := c.Serve.OIDC; o != nil {
		refs = append(refs, ref{"serve.oidc.client_secret", o.ClientSecret})
	}
	if bg := c.Serve.BreakGlass; bg != nil {
		refs = append(refs, ref{"serve.break_glass.password_hash", bg.PasswordHash})
	}
	var out Problems
	for _, r := range refs {
		path, ok := strings.CutPrefix(r.value, "file:")
		if !ok || path == "" {
			continue
		}
		f, err := os.Open(path)
		if err == nil {
			f.Close()
			continue
		}
		why := "cannot be opened"
		switch {
		case errors.Is(err, fs.ErrNotExist):
			why = "does not exist"
		case errors.Is(err, fs.ErrPermission):
			why = "is not readable by this user"
		}
		out = append(out, &Problem{File: c.File, Message: fmt.Sprintf("%s: the secret file %s %s here: onus fails where it needs it", r.where, path, why)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Message < out[j].Message })
	return out
}
