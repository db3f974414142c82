package config_test

import (
	"strings"
	"testing"

	"github.com/onus-sec/onus/config"
)

func TestConnectorSource(t *testing.T) {
	for _, tc := range []struct {
		name, source, want string
	}{
		{"good", `connector: okta
    options: { domain: acme.okta.com, limit: 200, resource: users }
    credentials: { token: env:OKTA_TOKEN }`, ""},
		{"secret in the file", `connector: okta
    options: { domain: acme.okta.com }
    credentials: { token: 00aBcD }`, "onus.yaml:7: source \"okta\": credential token must be env:NAME or file:PATH"},
		{"options on a file source", `from: { file: users.json }
    options: { domain: acme.okta.com }`, "options: and credentials: only apply to a source with connector:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{"onus.yaml": "version: 1\nsources:\n  - name: okta\n    kind: account\n    " + tc.source + "\n    map: { id: id }\n"})
			cfg, err := config.Load(dir)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := cfg.Sources[0].Options["limit"]; got != "200" {
					t.Errorf("options.limit = %q", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
