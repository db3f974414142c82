package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/store"
)

const gateData = "../../gate/testdata/"

func TestGateExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "plan.json")
	os.WriteFile(bad, []byte(`{"format_version":"1.2","resource_changes":[{"address":`), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"production blocks", []string{"--env", "production", gateData + "guardrails/tf-admin-port-open/fail.json"}, 1, "BLOCK  tf-admin-port-open"},
		{"development warns", []string{"--env", "development", gateData + "guardrails/tf-admin-port-open/fail.json"}, 0, "WARN  tf-admin-port-open"},
		{"passes", []string{"--env", "production", gateData + "guardrails/tf-admin-port-open/pass.json"}, 0, "onus gate: passed"},
		{"unknown blocks", []string{"--env", "production", gateData + "unknown/plan.json"}, 1, "BLOCK (unknown)"},
		{"unparseable plan", []string{"--env", "production", bad}, 2, "plan.json"},
		{"missing file", []string{"--env", "production", filepath.Join(dir, "nope.json")}, 2, "cannot read"},
		{"no environment", []string{gateData + "guardrails/tf-iam-star/fail.json"}, 2, "--env"},
		{"unknown environment", []string{"--env", "qa", gateData + "guardrails/tf-iam-star/fail.json"}, 2, "not in the ladder"},
		{"no files", []string{"--env", "production"}, 2, "at least one file"},
		{"bad flag", []string{"--env", "production", "--nope"}, 2, "unknown flag"},
		{"bad format", []string{"--env", "production", "-o", "yaml", gateData + "guardrails/tf-iam-star/fail.json"}, 2, "unknown output format"},
		{"json", []string{"--env", "production", "-o", "json", gateData + "guardrails/tf-iam-star/fail.json"}, 1, `"verdict": "blocked"`},
		{"sarif", []string{"--env", "staging", "-o", "sarif", gateData + "guardrails/k8s-hostpath/fail.yaml"}, 1, `"ruleId": "k8s-hostpath"`},
		{"junit", []string{"--env", "production", "-o", "junit", gateData + "guardrails/k8s-hostpath/pass.yaml"}, 0, `failures="0"`},
		{"markdown", []string{"--env", "development", "-o", "markdown", gateData + "samples/sarif/gitleaks_simple.sarif"}, 0, "passed with warnings"},
		{"bad report", []string{"--env", "production", "--report", "html=x.html", gateData + "guardrails/tf-iam-star/fail.json"}, 2, "FORMAT=FILE"},
		{"kev", []string{"--env", "production", "--kev", gateData + "samples/cisa_kev/known_exploited_vulnerabilities.csv", gateData + "guardrails/sbom-vuln-kev/fail.cdx.json"}, 1, "CVE-2021-44228"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := cli(t, append([]string{"gate"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.code, out, errs)
			}
			if !strings.Contains(out+errs, tt.want) {
				t.Errorf("output lacks %q:\n%s%s", tt.want, out, errs)
			}
		})
	}
}

// TestValidateGuardrails: onus validate checks the gate's files too.
func TestValidateGuardrails(t *testing.T) {
	dir := demo(t)
	if _, errs, code := cli(t, "validate", dir); code != 0 {
		t.Fatalf("the demo does not validate: %s", errs)
	}
	os.MkdirAll(filepath.Join(dir, "guardrails"), 0o755)
	os.WriteFile(filepath.Join(dir, "guardrails", "broken.yaml"), []byte("id: broken\ninput: terraform\nseverity: high\ncheck: resource.x +\n"), 0o644)
	out, errs, code := cli(t, "validate", dir)
	if code == 0 || !strings.Contains(out+errs, filepath.Join(dir, "guardrails", "broken.yaml")+":4") {
		t.Errorf("exit %d:\n%s%s", code, out, errs)
	}
}

func TestGateReports(t *testing.T) {
	dir := t.TempDir()
	md, junit := filepath.Join(dir, "gate.md"), filepath.Join(dir, "gate.xml")
	out, errs, code := cli(t, "gate", "--env", "production", "-o", "sarif", "--report", "markdown="+md, "--report", "junit="+junit,
		gateData+"guardrails/tf-iam-star/fail.json")
	if code != 1 || !strings.Contains(out, `"version": "2.1.0"`) {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	for file, want := range map[string]string{md: "onus gate: blocked", junit: `failures="1"`} {
		b, err := os.ReadFile(file)
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s: %v\n%s", file, err, b)
		}
	}
}

func TestGateConfigDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("gate.yaml", `version: 1
bundled: [tf-iam-star]
ladder:
  live: {block: low}
  lab: {inform: low}
detect:
  - env: live
    paths: ["**/fail.json"]
`)
	write("guardrails/naming.yaml", `id: tf-name-prefix
title: Policies are named acme-*
input: terraform
activity: access-management
severity: low
scope: resource.type == "aws_iam_policy"
check: resource.after.name.startsWith("acme-")
message: "{{.Address}} is not named acme-*"
`)
	write("raci.yaml", `activities:
  - id: access-management
    title: Keep cloud access least-privilege
    R: [platform]
    A: [security]
teams:
  platform: {name: Platform, lead: pat@acme.com}
  security: {name: Security, lead: sam@acme.com}
`)
	// The environment comes from the path pattern; the matrix names the owner.
	out, errs, code := cli(t, "gate", "--config", dir, gateData+"guardrails/tf-iam-star/fail.json")
	if code != 1 || !strings.Contains(out, "environment live") || !strings.Contains(out, "BLOCK  tf-name-prefix [low]") ||
		!strings.Contains(out, "platform (pat@acme.com) (from matrix)") {
		t.Errorf("exit %d:\n%s%s", code, out, errs)
	}
	// Only the selected bundled guardrail runs.
	out, _, _ = cli(t, "gate", "--config", dir, "--env", "lab", gateData+"guardrails/tf-disk-unencrypted/fail.json")
	if !strings.Contains(out, "0 check(s)") {
		t.Errorf("a bundled guardrail not selected ran:\n%s", out)
	}
	// A guardrail that does not compile stops the gate with file and line.
	write("guardrails/broken.yaml", "id: broken\ninput: terraform\nseverity: high\ncheck: resource.after.x ==\n")
	_, errs, code = cli(t, "gate", "--config", dir, "--env", "lab", gateData+"guardrails/tf-iam-star/fail.json")
	if code != 2 || !strings.Contains(errs, filepath.Join(dir, "guardrails", "broken.yaml")+":4") {
		t.Errorf("exit %d: %s", code, errs)
	}
	write("guardrails/broken.yaml", "id: broken\ninput: terraform\nseverity: high\ncheck: 'true'\nchekc: 'true'\n")
	_, errs, code = cli(t, "gate", "--config", dir, "--env", "lab", gateData+"guardrails/tf-iam-star/fail.json")
	if code != 2 || !strings.Contains(errs, filepath.Join(dir, "guardrails", "broken.yaml")+":5") {
		t.Errorf("unknown key: exit %d: %s", code, errs)
	}
}

// TestGateExceptionsFromLedger: exceptions recorded in the store reach the
// gate through an export, or straight from the store.
func TestGateExceptionsFromLedger(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "onus.db")
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	add := func(scope, requester, approver string, expires time.Time) int64 {
		t.Helper()
		x := &onus.Exception{Control: "k8s-privileged", Scope: scope, Severity: onus.Critical, Reason: "vendor agent",
			Requester: requester, RequestedAt: now.Add(-48 * time.Hour), Expires: expires}
		if err := db.CreateException(ctx, x); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Decide(ctx, onus.Decision{ID: x.ID, From: []onus.ExceptionState{onus.ExceptionRequested},
			To: onus.ExceptionApproved, Actor: approver, Approver: approver}); err != nil {
			t.Fatal(err)
		}
		return x.ID
	}
	good := add(`address == "Deployment/shop/web"`, "dev@acme.com", "lead@acme.com", now.Add(30*24*time.Hour))
	self := add(`address == "Deployment/shop/selfie"`, "dev@acme.com", "dev@acme.com", now.Add(30*24*time.Hour))
	db.Close()

	manifest := filepath.Join(dir, "deploy.yaml")
	body := ""
	for _, name := range []string{"web", "selfie"} {
		body += `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, namespace: shop}
spec:
  template:
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 1000}
      containers:
        - name: app
          image: ghcr.io/acme/app:1.0.0
          securityContext: {privileged: true}
          resources: {limits: {cpu: 100m, memory: 64Mi}}
`
	}
	os.WriteFile(manifest, []byte(body), 0o644)

	export := filepath.Join(dir, "exceptions.json")
	if out, errs, code := cli(t, "exceptions", "export", "--db", dbPath, "--file", export); code != 0 || !strings.Contains(out, "Exported 2 exception(s)") {
		t.Fatalf("export exit %d: %s%s", code, out, errs)
	}
	// Online: a server hands out the export to a bearer of the token.
	exported, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer gate-s3cret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(exported)
	}))
	defer srv.Close()
	t.Setenv("GATE_TEST_TOKEN", "gate-s3cret")
	t.Setenv("GATE_BAD_TOKEN", "wrong-s3cret")
	_, errs, code := cli(t, "gate", "--env", "production", "--exceptions", srv.URL+"/exceptions", "--token", "env:GATE_BAD_TOKEN", manifest)
	if code != 2 || !strings.Contains(errs, "401") || strings.Contains(errs, "s3cret") {
		t.Errorf("a refused token: exit %d, %s", code, errs)
	}
	for _, how := range [][]string{{"--exceptions", export}, {"--exceptions-from-db", "--db", dbPath},
		{"--exceptions", srv.URL + "/exceptions", "--token", "env:GATE_TEST_TOKEN"}} {
		t.Run(how[0], func(t *testing.T) {
			args := append([]string{"gate", "--env", "production", "-o", "json"}, how...)
			out, errs, code := cli(t, append(args, manifest)...)
			if code != 1 {
				t.Errorf("exit %d, want 1 (the self-approved exception does not count)\n%s", code, errs)
			}
			var rep struct {
				Results []struct {
					Guardrail string `json:"guardrail"`
					Status    string `json:"status"`
					Subject   struct {
						Address string `json:"address"`
					} `json:"subject"`
					Exception *struct {
						ID int64 `json:"id"`
					} `json:"exception"`
					Notes []string `json:"notes"`
				} `json:"results"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			seen := 0
			for _, r := range rep.Results {
				if r.Guardrail != "k8s-privileged" {
					continue
				}
				switch r.Subject.Address {
				case "Deployment/shop/web":
					seen++
					if r.Status != "excepted" || r.Exception == nil || r.Exception.ID != good {
						t.Errorf("web: %+v", r)
					}
				case "Deployment/shop/selfie":
					seen++
					if r.Status != "fail" || len(r.Notes) == 0 || !strings.Contains(r.Notes[0], "approved by its own requester") {
						t.Errorf("selfie (exception %d): %+v", self, r)
					}
				}
			}
			if seen != 2 {
				t.Errorf("saw %d of the 2 deployments: %s", seen, out)
			}
		})
	}
}

// TestGateRecord: on the default branch the violations become findings
// with an owner and a deadline; the next run that no longer sees one
// resolves it; monitoring's evaluation leaves them alone.
func TestGateRecord(t *testing.T) {
	dir := demo(t)
	dbPath := filepath.Join(dir, "onus.db")
	plan := filepath.Join(t.TempDir(), "plan.json")
	copyFile := func(from string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(plan, b, 0o644)
	}
	gateRun := func(wantCode int, wantLog string) {
		t.Helper()
		out, errs, code := cli(t, "gate", "--record", "--db", dbPath, "--repo", "acme/infra", "--env", "production", plan)
		if code != wantCode || !strings.Contains(errs, wantLog) {
			t.Fatalf("exit %d, want %d; stderr lacks %q:\n%s%s", code, wantCode, wantLog, out, errs)
		}
	}
	findings := func() []onus.Finding {
		t.Helper()
		db, err := store.Open(context.Background(), dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		fs, err := db.Findings(context.Background(), onus.FindingFilter{Control: "tf-iam-star"})
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}

	copyFile(gateData + "guardrails/tf-iam-star/fail.json")
	gateRun(1, "1 opened")
	fs := findings()
	if len(fs) != 1 || fs[0].State != onus.StateOpen || fs[0].Entity != "gate:acme/infra:"+filepath.ToSlash(plan)+"#aws_iam_policy.admin" ||
		fs[0].Due.Sub(fs[0].FirstFailed) <= 0 || fs[0].Severity != onus.Critical {
		t.Fatalf("after the first run: %+v", fs)
	}
	// The same violation again changes nothing.
	gateRun(1, "0 opened, 0 reopened, 0 resolved")
	// Monitoring's evaluation does not touch the gate's findings.
	if out, errs, code := cli(t, "eval", "--config", dir); code != 0 {
		t.Fatalf("eval exit %d: %s%s", code, out, errs)
	}
	if fs := findings(); len(fs) != 1 || fs[0].State != onus.StateOpen {
		t.Fatalf("after eval: %+v", fs)
	}
	// Fixed: the next run resolves it.
	copyFile(gateData + "guardrails/tf-iam-star/pass.json")
	gateRun(0, "1 resolved")
	if fs := findings(); len(fs) != 1 || fs[0].State != onus.StateResolved {
		t.Fatalf("after the fix: %+v", fs)
	}
	if _, errs, code := cli(t, "gate", "--record", "--db", dbPath, "--repo", "", "--env", "production", plan); code != 2 || !strings.Contains(errs, "--repo") {
		t.Errorf("--record without a repository: exit %d %s", code, errs)
	}
}

// TestGateExceptionWorkflow: an exception for a guardrail is requested and
// approved like any other, never by its requester, and reaches the gate
// through the export.
func TestGateExceptionWorkflow(t *testing.T) {
	dir := demo(t)
	out, errs, code := cli(t, "except", "request", "--config", dir, "--control", "tf-iam-star",
		"--scope", `repository == "acme/infra" && address == "aws_iam_policy.admin"`,
		"--reason", "break-glass role until the SSO migration", "--expires", "10d", "--as", "ada.lovelace@acme.com", "-o", "json")
	if code != 0 {
		t.Fatalf("request exit %d: %s%s", code, out, errs)
	}
	var x onus.Exception
	if err := json.Unmarshal([]byte(out), &x); err != nil || x.Control != "tf-iam-star" || x.Severity != onus.Critical {
		t.Fatalf("requested %+v (%v)", x, err)
	}
	id := strconv.FormatInt(x.ID, 10)
	if _, errs, code := cli(t, "except", "request", "--config", dir, "--control", "tf-iam-star", "--scope", "adress == 1",
		"--reason", "r", "--expires", "30d", "--as", "ada.lovelace@acme.com"); code == 0 || !strings.Contains(errs, "does not compile") {
		t.Errorf("a bad scope: exit %d %s", code, errs)
	}
	if _, errs, code := cli(t, "except", "approve", id, "--config", dir, "--as", "ada.lovelace@acme.com"); code == 0 || !strings.Contains(errs, "cannot decide") {
		t.Errorf("self-approval: exit %d %s", code, errs)
	}
	export := filepath.Join(t.TempDir(), "x.json")
	cli(t, "exceptions", "export", "--config", dir, "--file", export)
	args := []string{"gate", "--env", "production", "--repo", "acme/infra", "--exceptions", export, gateData + "guardrails/tf-iam-star/fail.json"}
	if out, _, code := cli(t, args...); code != 1 || !strings.Contains(out, "is requested, not approved") && !strings.Contains(out, "BLOCK  tf-iam-star") {
		t.Errorf("requested, not approved: exit %d\n%s", code, out)
	}
	if out, errs, code := cli(t, "except", "approve", id, "--config", dir, "--as", "whitfield.diffie@acme.com"); code != 0 {
		t.Fatalf("approve exit %d: %s%s", code, out, errs)
	}
	cli(t, "exceptions", "export", "--config", dir, "--file", export)
	out, errs, code = cli(t, args...)
	if code != 0 || !strings.Contains(out, "EXCEPTED  tf-iam-star") || !strings.Contains(out, "approved by whitfield.diffie@acme.com") {
		t.Errorf("approved: exit %d\n%s%s", code, out, errs)
	}
	// Another repository is not covered.
	args[4] = "acme/other"
	if _, _, code := cli(t, args...); code != 1 {
		t.Errorf("another repository: exit %d, want 1", code)
	}
}
