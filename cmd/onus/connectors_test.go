package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onus-sec/onus/connector/connectortest"
	"github.com/onus-sec/onus/examples"
)

func TestConnectorsList(t *testing.T) {
	out, errs, code := cli(t, "connectors", "-o", "json")
	var specs []struct {
		Name        string
		Resources   []string
		Credentials []struct{ Name string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &specs) != nil {
		t.Fatalf("connectors -o json (exit %d): %s%s", code, out, errs)
	}
	names := map[string]bool{}
	for _, s := range specs {
		names[s.Name] = true
	}
	for _, want := range []string{"okta", "jamf", "crowdstrike", "intune", "http"} {
		if !names[want] {
			t.Errorf("connector %s is not listed", want)
		}
	}
	out, _, _ = cli(t, "connectors")
	if !strings.Contains(out, "okta — Okta (docs/connectors/okta.md)") || !strings.Contains(out, "reads:       users, factors, devices") {
		t.Errorf("connectors:\n%s", out)
	}
}

// TestSourcesTest checks an Okta source against a local Okta: with the
// right token it reads one user and says which fields it mapped; with a
// wrong one it fails in Okta's words and never prints the token.
func TestSourcesTest(t *testing.T) {
	dir := t.TempDir()
	if err := examples.CopyTo(examples.Acme(), dir); err != nil {
		t.Fatal(err)
	}
	users, err := connectortest.Load(filepath.Join(dir, "exports/okta/users.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	s := connectortest.New()
	defer s.Close()
	s.Okta(users, nil, nil)
	path := filepath.Join(dir, "onus.yaml")
	b, _ := os.ReadFile(path)
	b = bytes.Replace(b, []byte("from: { file: exports/okta/users.json }"),
		[]byte("connector: okta\n    options: { domain: "+s.URL+" }\n    credentials: { token: env:TEST_OKTA_TOKEN }"), 1)
	os.WriteFile(path, b, 0o644)

	t.Setenv("TEST_OKTA_TOKEN", "api-token")
	out, errs, code := cli(t, "sources", "test", "okta", "--config", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	for _, want := range []string{"source okta (connector okta): ok", "GET " + s.URL + "/api/v1/users?limit=1", "1 read, 1 mapped", "ids:      00uKW9LFJUCE4EMXRB7F", "status           1 of 1 records"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, _, code = cli(t, "sources", "test", "okta", "--full", "--config", dir, "-o", "json")
	var res sourceTest
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || !res.OK || res.Mapped != 200 || res.Requests != 1 {
		t.Errorf("--full (exit %d, %v): %+v", code, err, res)
	}

	t.Setenv("TEST_OKTA_TOKEN", "wrong-token-value")
	out, errs, code = cli(t, "sources", "test", "okta", "--config", dir)
	if code != 1 || !strings.Contains(out, "401 Unauthorized: Invalid token provided [E0000011]") {
		t.Errorf("wrong token (exit %d):\n%s%s", code, out, errs)
	}
	if strings.Contains(out+errs, "wrong-token-value") {
		t.Error("the token was printed")
	}

	out, _, code = cli(t, "sources", "test", "hr", "--config", dir)
	if code != 0 || !strings.Contains(out, "source hr (file): ok") || !strings.Contains(out, "200 read, 200 mapped") {
		t.Errorf("file source (exit %d):\n%s", code, out)
	}
	_, errs, code = cli(t, "sources", "test", "nope", "--config", dir)
	if code != 1 || !strings.Contains(errs, `no source called "nope"`) {
		t.Errorf("unknown source (exit %d): %s", code, errs)
	}

	// A misspelt option is caught by validate, with the source's line,
	// without the credentials being needed.
	os.Unsetenv("TEST_OKTA_TOKEN")
	b, _ = os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(b, []byte("options: { domain: "), []byte("options: { domian: "), 1), 0o644)
	_, errs, code = cli(t, "validate", dir)
	// The problem names the line of the source's entry.
	b, _ = os.ReadFile(path)
	line := 0
	for i, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) == "- name: okta" {
			line = i + 1
		}
	}
	if want := fmt.Sprintf("onus.yaml:%d: source okta: connector okta needs options.domain", line); code != 1 || line == 0 || !strings.Contains(errs, want) {
		t.Errorf("validate (exit %d), want %q: %s", code, want, errs)
	}
}
