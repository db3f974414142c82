package config

import (
	"strings"
	"testing"
)

// Every configuration error names file:line:column in onus's words, not
// the YAML decoder's or Go's.
func TestErrorsInOnusWords(t *testing.T) {
	for _, tt := range []struct {
		name, yaml, want string
	}{
		{"a number written in words", "version: 1\nnudges:\n  max_per_day: two\n", `onus.yaml:3:16: max_per_day: "two" is not a whole number`},
		{"a list for a number", "version: 1\nnudges:\n  max_per_day: [2]\n", `onus.yaml:3:16: max_per_day: a list is not a whole number`},
		{"a bad deadline", "version: 1\ndeadlines: { critical: two days }\n", `onus.yaml:2:24: invalid duration "two days"`},
		{"a bad schedule duration", "version: 1\nnudges:\n  schedule:\n    default: { remind_before: soon }\n", `onus.yaml:4:31: invalid duration "soon"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseMain("onus.yaml", strings.NewReader(tt.yaml))
			if err == nil {
				err = cfg.Validate()
				if len(cfg.Validate()) == 0 {
					err = nil
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "Go struct") || strings.Contains(err.Error(), "unmarshal") {
				t.Errorf("the error speaks Go: %v", err)
			}
		})
	}
}
