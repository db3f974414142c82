package config_test

import (
	"slices"
	"testing"

	"github.com/onus-sec/onus/config"
	_ "github.com/onus-sec/onus/source" // the readers register their formats
)

// Validation knows the formats the readers registered, and no other list.
func TestFormatsComeFromTheReaders(t *testing.T) {
	if got, want := config.Formats(), []string{"csv", "json", "ndjson", "osquery"}; !slices.Equal(got, want) {
		t.Errorf("Formats() = %v, want %v", got, want)
	}
	for file, want := range map[string]string{"a.csv": "csv", "a.TSV": "csv", "a.json": "json", "a.jsonl": "ndjson", "osqueryd.results.log": "osquery", "a.xlsx": ""} {
		if got := config.FormatOf(&config.From{File: file}); got != want {
			t.Errorf("FormatOf(%s) = %q, want %q", file, got, want)
		}
	}
}
