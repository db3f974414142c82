package gate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/gate"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func bundled(t testing.TB) *gate.Pack {
	t.Helper()
	gs, err := gate.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	p, err := gate.Compile(gs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func kev(t testing.TB) gate.KEV {
	t.Helper()
	f, err := os.Open("testdata/samples/cisa_kev/known_exploited_vulnerabilities.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	k, err := gate.ParseKEV(f.Name(), f)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// read parses input files as the command does.
func read(t testing.TB, files ...string) ([]*gate.Subject, []gate.Input) {
	t.Helper()
	var subs []*gate.Subject
	var ins []gate.Input
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		kind, s, err := gate.Parse(filepath.ToSlash(f), b, gate.ParseOptions{})
		if err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
		subs = append(subs, s...)
		ins = append(ins, gate.Input{File: f, Kind: kind, Subjects: len(s)})
	}
	return subs, ins
}

func run(t testing.TB, o gate.Options, files ...string) *gate.Report {
	t.Helper()
	subs, ins := read(t, files...)
	if o.Ladder == nil {
		o.Ladder = gate.DefaultLadder()
	}
	if o.Pack == nil {
		o.Pack = bundled(t)
	}
	if o.Now.IsZero() {
		o.Now = now
	}
	rep, err := gate.Evaluate(subs, ins, o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func of(rep *gate.Report, guardrail string) []gate.Result {
	var out []gate.Result
	for _, r := range rep.Results {
		if r.Guardrail == guardrail {
			out = append(out, r)
		}
	}
	return out
}

// TestBundledGuardrails runs each bundled guardrail on an input it must
// pass and one it must fail (testdata/guardrails/ID/{pass,fail}.*).
func TestBundledGuardrails(t *testing.T) {
	pack := bundled(t)
	k := kev(t)
	for _, g := range pack.Guardrails {
		t.Run(g.ID, func(t *testing.T) {
			for _, want := range []string{"pass", "fail"} {
				files, _ := filepath.Glob(filepath.Join("testdata/guardrails", g.ID, want+".*"))
				if len(files) != 1 {
					t.Fatalf("want one %s fixture for %s, found %v", want, g.ID, files)
				}
				rep := run(t, gate.Options{Env: "production", Pack: pack, KEV: k}, files[0])
				tally := rep.Tally[g.ID]
				if tally == nil || tally.Evaluated == 0 {
					t.Fatalf("%s: %s selected nothing in %s", want, g.ID, files[0])
				}
				got := of(rep, g.ID)
				switch want {
				case "pass":
					if len(got) != 0 {
						t.Errorf("%s must pass, got %+v", files[0], got[0])
					}
				case "fail":
					if len(got) == 0 {
						t.Fatalf("%s must fail %s; it passed", files[0], g.ID)
					}
					for _, r := range got {
						if want := gate.DefaultLadder().Envs["production"].Action(g.Severity); r.Status != gate.Fail || r.Action != want {
							t.Errorf("%s: got %s/%s, want fail/%s", r.Subject.Address, r.Status, r.Action, want)
						}
					}
				}
			}
		})
	}
}

func TestSamplesParse(t *testing.T) {
	tests := []struct {
		file     string
		kind     string
		subjects int
	}{
		{"testdata/samples/terraform/plan_120_basic.json", gate.Terraform, 7},
		{"testdata/samples/terraform/plan_has_changes.json", gate.Terraform, 0},
		{"testdata/samples/terraform/plan_no_changes.json", gate.Terraform, 0},
		{"testdata/samples/terraform/plan_moved_block.json", gate.Terraform, 0},
		{"testdata/samples/terraform/plan_sensitive_values.json", gate.Terraform, 7},
		{"testdata/samples/sarif/gitleaks_simple.sarif", gate.SARIF, 1},
		{"testdata/samples/sarif/trivy_alpine-310.sarif", gate.SARIF, 4},
		{"testdata/samples/sarif/osv-scanner_vulns.sarif", gate.SARIF, 3},
		{"testdata/samples/sarif/osv-scanner_vuln_and_license.sarif", gate.SARIF, 1},
		{"testdata/guardrails/sbom-vuln-kev/fail.cdx.json", gate.CycloneDX, 5},
		{"testdata/guardrails/k8s-privileged/fail.yaml", gate.Kubernetes, 2},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			subs, ins := read(t, tt.file)
			if ins[0].Kind != tt.kind || len(subs) != tt.subjects {
				t.Errorf("got %s with %d subjects, want %s with %d", ins[0].Kind, len(subs), tt.kind, tt.subjects)
			}
		})
	}
}

// TestLadder: one input; production blocks, development passes with
// warnings.
func TestLadder(t *testing.T) {
	in := []string{"testdata/guardrails/tf-admin-port-open/fail.json", "testdata/guardrails/k8s-latest-image/fail.yaml"}
	tests := []struct {
		env     string
		verdict string
		actions map[string]gate.Action
	}{
		{"production", "blocked", map[string]gate.Action{"tf-admin-port-open": gate.Block, "k8s-latest-image": gate.Block}},
		{"staging", "blocked", map[string]gate.Action{"tf-admin-port-open": gate.Block, "k8s-latest-image": gate.Warn}},
		{"development", "passed with warnings", map[string]gate.Action{"tf-admin-port-open": gate.Warn, "k8s-latest-image": gate.Inform}},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			rep := run(t, gate.Options{Env: tt.env}, in...)
			if got := rep.Verdict(); got != tt.verdict {
				t.Errorf("verdict %q, want %q", got, tt.verdict)
			}
			for g, want := range tt.actions {
				rs := of(rep, g)
				if len(rs) == 0 {
					t.Fatalf("no result for %s", g)
				}
				for _, r := range rs {
					if r.Action != want {
						t.Errorf("%s on %s: %s, want %s", g, r.Subject.Address, r.Action, want)
					}
				}
			}
		})
	}
	if _, err := gate.Evaluate(nil, nil, gate.Options{Env: "prod", Ladder: gate.DefaultLadder(), Pack: bundled(t)}); err == nil ||
		!strings.Contains(err.Error(), "development, production, staging") {
		t.Errorf("unknown environment: got %v", err)
	}
}

func TestLadderConfig(t *testing.T) {
	c, err := gate.ParseConfig("gate.yaml", strings.NewReader(`version: 1
ladder:
  prod: {block: high, warn: low}
  sandbox: {inform: critical}
detect:
  - env: prod
    paths: ["infra/prod/**", "k8s/prod/"]
    workspaces: ["prod-*"]
  - env: sandbox
    paths: ["**"]
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		files     []string
		workspace string
		want      string
	}{
		{[]string{"infra/prod/plan.json"}, "", "prod"},
		{[]string{"k8s/prod/a/b.yaml"}, "", "prod"},
		{[]string{"plan.json"}, "prod-eu", "prod"},
		{[]string{"infra/dev/plan.json"}, "dev", "sandbox"},
	}
	for _, tt := range tests {
		if got := c.DetectEnv(tt.files, tt.workspace); got != tt.want {
			t.Errorf("DetectEnv(%v, %q) = %q, want %q", tt.files, tt.workspace, got, tt.want)
		}
	}
	if a := c.LadderOf().Envs["sandbox"].Action("high"); a != gate.Off {
		t.Errorf("sandbox high: %s, want off", a)
	}
	_, err = gate.ParseConfig("gate.yaml", strings.NewReader("ladder:\n  prod: {block: severe}\n"))
	if err == nil || !strings.Contains(err.Error(), "gate.yaml:2") || !strings.Contains(err.Error(), `"severe" is not a severity`) {
		t.Errorf("bad severity: got %v", err)
	}
	_, err = gate.ParseConfig("gate.yaml", strings.NewReader("ladders: {}\n"))
	if err == nil || !strings.Contains(err.Error(), "gate.yaml:1") {
		t.Errorf("unknown key: got %v", err)
	}
}

// TestUnknown: a value known only after apply is never a pass for a
// blocking guardrail; a guardrail that does not read it is unaffected.
func TestUnknown(t *testing.T) {
	for _, env := range []string{"production", "development"} {
		t.Run(env, func(t *testing.T) {
			rep := run(t, gate.Options{Env: env}, "testdata/unknown/plan.json")
			byAddr := map[string]gate.Result{}
			for _, r := range rep.Results {
				byAddr[r.Guardrail+" "+r.Subject.Address] = r
			}
			for _, key := range []string{"tf-admin-port-open aws_security_group_rule.ssh", "tf-iam-star aws_iam_policy.generated"} {
				r, ok := byAddr[key]
				if !ok {
					t.Fatalf("%s: no result; unknown values must not pass", key)
				}
				if r.Status != gate.Unknown {
					t.Errorf("%s: status %s, want unknown", key, r.Status)
				}
			}
			// The bucket's id is unknown, but its ACL is known and private.
			if r, ok := byAddr["tf-public-bucket aws_s3_bucket_acl.private"]; ok {
				t.Errorf("a known private ACL must pass whatever else is unknown: %+v", r)
			}
			if got, want := rep.Blocked(), env == "production"; got != want {
				t.Errorf("blocked = %v, want %v", got, want)
			}
		})
	}
}

func TestInputErrors(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"truncated plan", `{"format_version":"1.2","resource_changes":[{"address":"a"`, "not valid JSON"},
		{"wrong field type", "{\"format_version\":\"1.2\",\n\"resource_changes\":[{\"address\":\"a\",\"change\":{\"actions\":\"create\"}}]}", "plan.json:2"},
		{"future plan format", `{"format_version":"9.0","resource_changes":[]}`, "unsupported plan format version"},
		{"errored plan", `{"format_version":"1.2","errored":true,"resource_changes":[]}`, "the plan errored"},
		{"state, not plan", `{"format_version":"1.0","values":{}}`, "not a state"},
		{"empty", "  ", "empty"},
		{"other JSON", `{"hello":"world"}`, "neither a Terraform plan"},
		{"SARIF field of the wrong type", `{"version":"2.1.0","runs":[{"results":[{"ruleId":1}]}]}`, "runs[0].results[0].ruleId must be a string"},
		{"old SARIF", `{"version":"2.0.0","$schema":"sarif-2.0","runs":[]}`, "only 2.1.0"},
		{"truncated SARIF", `{"version":"2.1.0","runs":[{"results":[{"ruleId":"x"}`, "not valid JSON"},
		{"bad YAML", "apiVersion: v1\nkind: Pod\nmetadata: [\n", "plan.json:"},
		{"YAML without kind", "apiVersion: v1\nmetadata: {name: x}\n", "needs apiVersion and kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := gate.Parse("plan.json", []byte(tt.data), gate.ParseOptions{})
			var ie *gate.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an input error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestGuardrailErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"bad CEL", "id: x\ninput: terraform\nseverity: high\ncheck: >-\n  resource.after.acl ==\n", "g.yaml:5"},
		{"not boolean", "id: x\ninput: terraform\nseverity: high\ncheck: resource.type + 'x'\n", "must be true or false"},
		{"unknown input", "id: x\ninput: helm\nseverity: high\ncheck: 'true'\n", "input \"helm\""},
		{"unknown key", "id: x\ninput: terraform\nseverity: high\ncheck: 'true'\nchek: 'true'\n", "g.yaml:5"},
		{"bad severity", "id: x\ninput: terraform\nseverity: huge\ncheck: 'true'\n", "severity \"huge\""},
		{"undeclared variable", "id: x\ninput: terraform\nseverity: high\ncheck: entity.x\n", "g.yaml:4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs, err := gate.ParseGuardrails("g.yaml", strings.NewReader(tt.src))
			if err == nil {
				_, err = gate.Compile(gs)
			}
			var probs config.Problems
			if !errors.As(err, &probs) && !strings.Contains(tt.name, "key") {
				t.Fatalf("got %v (%T), want config problems", err, err)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestGolden renders one report in every format.
func TestGolden(t *testing.T) {
	co, err := os.Open("testdata/golden/CODEOWNERS")
	if err != nil {
		t.Fatal(err)
	}
	owners, err := gate.ParseCodeOwners(co.Name(), co)
	co.Close()
	if err != nil {
		t.Fatal(err)
	}
	raci := &config.RACI{Activities: []*config.Activity{{ID: "cloud-configuration", R: []string{"platform"}}},
		Teams: map[string]*config.Team{"platform": {Lead: "pat@example.com"}}}
	rep := run(t, gate.Options{Env: "production", Repository: "acme/shop", KEV: kev(t), Owners: &gate.Owners{CodeOwners: owners, RACI: raci}},
		"testdata/guardrails/tf-public-bucket/fail.json",
		"testdata/guardrails/k8s-privileged/fail.yaml",
		"testdata/samples/sarif/gitleaks_simple.sarif",
		"testdata/unknown/plan.json",
	)
	for _, f := range []struct{ format, ext string }{
		{gate.FormatText, "txt"}, {gate.FormatJSON, "json"}, {gate.FormatSARIF, "sarif"}, {gate.FormatJUnit, "xml"}, {gate.FormatMarkdown, "md"},
	} {
		t.Run(f.format, func(t *testing.T) {
			var b bytes.Buffer
			if err := gate.Write(&b, rep, f.format); err != nil {
				t.Fatal(err)
			}
			golden(t, "testdata/golden/report."+f.ext, b.Bytes())
			if f.format == gate.FormatJSON || f.format == gate.FormatSARIF {
				var v map[string]any
				if err := json.Unmarshal(b.Bytes(), &v); err != nil {
					t.Fatalf("invalid JSON: %v", err)
				}
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./gate -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output; run go test ./gate -update and review the diff\n--- got\n%s", path, got)
	}
}

func TestSARIFOutputShape(t *testing.T) {
	rep := run(t, gate.Options{Env: "production"}, "testdata/guardrails/tf-iam-star/fail.json")
	var b bytes.Buffer
	if err := gate.Write(&b, rep, gate.FormatSARIF); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					Physical struct {
						Artifact struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "2.1.0" || len(doc.Runs) != 1 || len(doc.Runs[0].Results) != 1 {
		t.Fatalf("unexpected SARIF: %s", b.String())
	}
	res := doc.Runs[0].Results[0]
	if res.Level != "error" || doc.Runs[0].Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID || res.Locations[0].Physical.Artifact.URI == "" {
		t.Errorf("result %+v does not point at its rule and file", res)
	}
	// Code-scanning dashboards read the gate's own output back as input.
	if _, subs, err := gate.Parse("out.sarif", b.Bytes(), gate.ParseOptions{}); err != nil || len(subs) != 1 {
		t.Errorf("the gate's SARIF does not read back: %v", err)
	}
}

func TestKEVFormats(t *testing.T) {
	for _, f := range []string{"known_exploited_vulnerabilities.csv", "known_exploited_vulnerabilities_trimmed.json"} {
		fh, err := os.Open("testdata/samples/cisa_kev/" + f)
		if err != nil {
			t.Fatal(err)
		}
		k, err := gate.ParseKEV(f, fh)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !k["CVE-2025-48384"] || len(k) < 175 {
			t.Errorf("%s: %d entries, CVE-2025-48384 %v", f, len(k), k["CVE-2025-48384"])
		}
	}
	if _, err := gate.ParseKEV("x.csv", strings.NewReader("a,b\n1,2\n")); err == nil {
		t.Error("a CSV without cveID must be refused")
	}
}

func TestKEVMissingIsANotice(t *testing.T) {
	rep := run(t, gate.Options{Env: "production"}, "testdata/guardrails/vuln-kev/fail.sarif")
	if len(of(rep, "vuln-kev")) != 0 || !slices.ContainsFunc(rep.Notices, func(s string) bool { return strings.Contains(s, "--kev") }) {
		t.Errorf("without a catalog the KEV guardrail must be reported as not run: %v", rep.Notices)
	}
}

func TestExceptions(t *testing.T) {
	pack := bundled(t)
	f, err := os.Open("testdata/exceptions/export.json")
	if err != nil {
		t.Fatal(err)
	}
	xs, err := gate.ParseExceptions(f.Name(), f, pack)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	rep := run(t, gate.Options{Env: "production", Repository: "acme/shop", Pack: pack, Exceptions: xs}, "testdata/exceptions/manifest.yaml")
	tests := []struct {
		name      string
		status    gate.Status
		exception int64
		note      string
	}{
		{"web", gate.Excepted, 101, ""},
		{"legacy", gate.Fail, 0, "exception 102 expired on 2026-11-20"},
		{"selfie", gate.Fail, 0, "approved by its own requester"},
		{"nokey", gate.Fail, 0, "cites no exception id"},
		{"pending", gate.Fail, 0, "exception 104 is requested, not approved"},
		{"scoped", gate.Excepted, 105, ""},
		{"scoped-expired", gate.Fail, 0, "exception 106 expired on 2026-11-15"},
		{"unknown-id", gate.Fail, 0, "exception 999, which is not in the exceptions on record"},
		{"wrong-guardrail", gate.Fail, 0, "exception 107 is for k8s-hostpath, not k8s-privileged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *gate.Result
			for i, r := range of(rep, "k8s-privileged") {
				if r.Subject.Address == "Deployment/shop/"+tt.name {
					got = &of(rep, "k8s-privileged")[i]
				}
			}
			if got == nil {
				t.Fatal("no result")
			}
			if got.Status != tt.status {
				t.Errorf("status %s, want %s (notes %v)", got.Status, tt.status, got.Notes)
			}
			if tt.exception != 0 && (got.Exception == nil || got.Exception.ID != tt.exception) {
				t.Errorf("exception %+v, want %d", got.Exception, tt.exception)
			}
			if tt.note != "" && !slices.ContainsFunc(got.Notes, func(n string) bool { return strings.Contains(n, tt.note) }) {
				t.Errorf("notes %q, want one with %q", got.Notes, tt.note)
			}
		})
	}
	if !rep.Blocked() {
		t.Error("the expired, self-approved and unapproved skips must still block")
	}
	// In another repository the scoped exception does not apply.
	rep = run(t, gate.Options{Env: "production", Repository: "acme/other", Pack: pack, Exceptions: xs}, "testdata/exceptions/manifest.yaml")
	for _, r := range of(rep, "k8s-privileged") {
		if r.Subject.Address == "Deployment/shop/scoped" && r.Status != gate.Fail {
			t.Errorf("exception 105 is scoped to acme/shop; got %s in acme/other", r.Status)
		}
	}
	// A scope that does not compile is an error naming the exception.
	_, err = gate.ParseExceptions("x.json", strings.NewReader(`[{"id":7,"control":"k8s-privileged","scope":"adress == 1","state":"approved"}]`), pack)
	if err == nil || !strings.Contains(err.Error(), "exception 7") {
		t.Errorf("bad scope: got %v", err)
	}
}

func TestCodeOwnersPatterns(t *testing.T) {
	b, err := os.ReadFile("testdata/samples/codeowners/hmarr_codeowners_pattern_tests.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name    string          `json:"name"`
		Pattern string          `json:"pattern"`
		Paths   map[string]bool `json:"paths"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			co, err := gate.ParseCodeOwners("CODEOWNERS", strings.NewReader(c.Pattern+" @owner\n"))
			if err != nil {
				t.Fatal(err)
			}
			for p, want := range c.Paths {
				if got := len(co.Owners(p)) > 0; got != want {
					t.Errorf("pattern %q, path %q: match %v, want %v", c.Pattern, p, got, want)
				}
			}
		})
	}
}

func TestCodeOwnersFiles(t *testing.T) {
	tests := []struct {
		file, path string
		want       []string
	}{
		{"trivy_CODEOWNERS", "pkg/iac/scanners/x.go", []string{"@nikpivkin"}},
		{"trivy_CODEOWNERS", "helm/trivy/Chart.yaml", []string{"@aquasecurity/trivy"}},
		{"trivy_CODEOWNERS", "helm/trivy/values.yaml", []string{"@afdesk"}},
		{"trivy_CODEOWNERS", "README.md", []string{"@knqyf263", "@DmitriyLewen"}},
		{"gitleaks_CODEOWNERS", ".github/workflows/ci.yml", []string{"@bryanbeverly", "@dustin-decker", "@dxa4481", "@zricethezav"}},
		{"falconpy_CODEOWNERS", "src/falconpy/hosts.py", []string{"@jshcodes", "@crowdstrikedcs", "@tsullivan06", "@alhumaw"}},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.path, func(t *testing.T) {
			f, err := os.Open("testdata/samples/codeowners/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			co, err := gate.ParseCodeOwners(tt.file, f)
			if err != nil {
				t.Fatal(err)
			}
			if got := co.Owners(tt.path); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	gitlab := `* @everyone
[Docs] @docs-team
docs/
^[Infra][2] @infra
/infra/ @sre
/infra/legacy/ 
`
	co, err := gate.ParseCodeOwners("CODEOWNERS", strings.NewReader(gitlab))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]string{
		"docs/a.md":           {"@everyone", "@docs-team"},
		"infra/main.tf":       {"@everyone", "@sre"},
		"infra/legacy/old.tf": {"@everyone", "@infra"},
	} {
		if got := co.Owners(path); !slices.Equal(got, want) {
			t.Errorf("GitLab %s: got %v, want %v", path, got, want)
		}
	}
}

// TestSkipComments: a skip comment on the line a scanner points at counts
// only with an approved exception's id.
func TestSkipComments(t *testing.T) {
	pack := bundled(t)
	f, err := os.Open("testdata/skip/exceptions.json")
	if err != nil {
		t.Fatal(err)
	}
	xs, err := gate.ParseExceptions(f.Name(), f, pack)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	rep := run(t, gate.Options{Env: "production", Pack: pack, Exceptions: xs, Source: os.DirFS("testdata/skip")}, "testdata/skip/gitleaks.sarif")
	got := map[string]gate.Result{}
	for _, r := range of(rep, "secret-found") {
		got[r.Subject.Type] = r
	}
	if r := got["aws-access-key"]; r.Status != gate.Excepted || r.Exception == nil || r.Exception.ID != 101 {
		t.Errorf("aws-access-key: %s %+v", r.Status, r.Notes)
	}
	if r := got["github-pat"]; r.Status != gate.Fail || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "comment at src/config.py:5") {
		t.Errorf("github-pat: %s %q", r.Status, r.Notes)
	}
	if !rep.Blocked() {
		t.Error("a skip without an exception id must not unblock")
	}
}

func TestCVEsInSARIF(t *testing.T) {
	sarif := `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"Scanner","rules":[{"id":"R1","name":"CVE-2021-44228"}]}},
	"results":[{"ruleId":"R1","message":{"text":"also CVE-2021-45046, not CVE-21-1, not CVE-2021-12, and CVE-2021-44228 again"}},
	{"ruleId":"R2","kind":"pass","message":{"text":"passing results are not subjects"}}]}]}`
	_, subs, err := gate.Parse("s.sarif", []byte(sarif), gate.ParseOptions{})
	if err != nil || len(subs) != 1 {
		t.Fatalf("%v, %d subjects", err, len(subs))
	}
	got := subs[0].Value["cves"].([]any)
	want := []any{"CVE-2021-44228", "CVE-2021-45046"}
	if !slices.Equal(got, want) {
		t.Errorf("cves %v, want %v", got, want)
	}
}

func TestCycloneDXXML(t *testing.T) {
	rep := run(t, gate.Options{Env: "production", KEV: kev(t)}, "testdata/cyclonedx/kev.cdx.xml")
	if rep.Inputs[0].Kind != gate.CycloneDX || rep.Inputs[0].Subjects != 2 {
		t.Fatalf("inputs %+v", rep.Inputs)
	}
	rs := of(rep, "sbom-vuln-kev")
	if len(rs) != 1 || rs[0].Subject.Address != "CVE-2021-44228 in pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1" {
		t.Errorf("results %+v", rs)
	}
	if _, _, err := gate.Parse("x.xml", []byte(`<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components>`), gate.ParseOptions{}); err == nil {
		t.Error("truncated XML must be an input error")
	}
}

// TestSensitiveValuesStayOut: a message template cannot reach values, which
// a plan may mark sensitive.
func TestSensitiveValuesStayOut(t *testing.T) {
	gs, err := gate.ParseGuardrails("g.yaml", strings.NewReader(`id: leak
input: terraform
severity: high
check: "false"
message: "{{.Value}}"
`))
	if err != nil {
		t.Fatal(err)
	}
	pack, err := gate.Compile(gs)
	if err != nil {
		t.Fatal(err)
	}
	rep := run(t, gate.Options{Env: "production", Pack: pack}, "testdata/samples/terraform/plan_sensitive_values.json")
	for _, r := range rep.Results {
		if strings.Contains(r.Message, "bar") || r.Message == "" {
			t.Errorf("message %q", r.Message)
		}
	}
}

func TestSARIFFingerprintKeysTheLedger(t *testing.T) {
	doc := func(line int) string {
		return fmt.Sprintf(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"semgrep"}},"results":[{"ruleId":"sqli","level":"error",
		"message":{"text":"SQL built from input"},"partialFingerprints":{"primaryLocationLineHash":"9a1b2c:1"},
		"locations":[{"physicalLocation":{"artifactLocation":{"uri":"app/db.py"},"region":{"startLine":%d}}}]}]}]}`, line)
	}
	_, a, err := gate.Parse("s.sarif", []byte(doc(10)), gate.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, b, _ := gate.Parse("s.sarif", []byte(doc(14)), gate.ParseOptions{})
	if a[0].Address == b[0].Address || gate.EntityID("acme/app", a[0]) != gate.EntityID("acme/app", b[0]) {
		t.Errorf("ids %q and %q: a result that moved down four lines must keep its finding", gate.EntityID("acme/app", a[0]), gate.EntityID("acme/app", b[0]))
	}
}
