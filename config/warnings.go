package config

import (
	"fmt"
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
	return out
}
