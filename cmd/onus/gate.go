package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/exception"
	"github.com/onus-sec/onus/gate"
	"github.com/onus-sec/onus/ledger"
	"github.com/onus-sec/onus/notify"
	"github.com/onus-sec/onus/report"
)

// Exit codes of onus gate.
const (
	gatePass  = 0
	gateBlock = 1
	gateUsage = 2 // a usage or input error: never a pass
)

// codeError ends a command with a given exit code after it printed why,
// or with its message.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *codeError) Unwrap() error { return e.err }

// gateUsageErr marks an error as a usage or input error (exit 2).
func gateUsageErr(err error) error {
	if err == nil {
		return nil
	}
	return &codeError{code: gateUsage, err: err}
}

// exitCode maps a command's error to an exit code, printing its message;
// ok is false when the error is not a codeError.
func exitCode(err error, stderr io.Writer) (int, bool) {
	var ee *codeError
	if !errors.As(err, &ee) {
		return 0, false
	}
	if ee.err != nil {
		var probs config.Problems
		switch {
		case errors.As(ee.err, &probs):
			fmt.Fprintf(stderr, "onus: %d problem(s):\n", len(probs))
			for _, p := range probs {
				fmt.Fprintf(stderr, "  %s\n", p)
			}
		case onus.ErrorCode(ee.err) != onus.EINTERNAL:
			fmt.Fprintf(stderr, "onus: %s\n", onus.ErrorMessage(ee.err))
		default:
			fmt.Fprintf(stderr, "onus: %v\n", ee.err)
		}
	}
	return ee.code, true
}

type gateFlags struct {
	env, kev, exceptions, codeowners, root, repo, workspace, tfDir, now, token string
	fromDB, record                                                             bool
	reports                                                                    []string
}

func (a *app) gateCmd() *cobra.Command {
	var f gateFlags
	cmd := &cobra.Command{
		Use:   "gate --env ENV [--config DIR] [-o FORMAT] FILE...",
		Short: "Check a proposed change against guardrails: block in production, warn in development",
		Long: `gate reads Terraform plans (terraform show -json), Kubernetes manifests
(multi-document YAML, rendered Helm output), SARIF 2.1.0 reports from scanners
and CycloneDX SBOMs, detects each file's kind from its content, and evaluates
the guardrails over them. What a violation does depends on the environment's
rung of the ladder: block, warn, inform or nothing.

With no --config, the bundled guardrail pack and the default ladder apply
(production blocks from medium, staging from high and warns below,
development warns from high and informs below). A configuration directory
may hold gate.yaml (ladder, environment detection, which bundled guardrails
to use, files for KEV, CODEOWNERS and exceptions), guardrails/*.yaml and
raci.yaml.

Output (-o): text (default), json, sarif (for code scanning), junit or
markdown (for a pull-request comment).

Exit status: 0 the change passes (maybe with warnings), 1 it is blocked,
2 a usage or input error (an input that does not parse is never a pass).`,
		Example: `  terraform show -json plan.out > plan.json
  onus gate --env production plan.json
  onus gate --env development -o markdown k8s/rendered.yaml trivy.sarif
  onus gate --config security/ --kev kev.json --exceptions exceptions.json -o sarif plan.json > gate.sarif`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return gateUsageErr(onus.Errorf(onus.EINVALID, "name at least one file to check (a plan, manifests, a SARIF report or an SBOM)"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runGate(cmd, f, args)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return gateUsageErr(err) })
	fl := cmd.Flags()
	fl.StringVar(&f.env, "env", os.Getenv("ONUS_ENV"), "environment of the change, a rung of the ladder (default: detected from gate.yaml's patterns) [$ONUS_ENV]")
	fl.StringVar(&f.kev, "kev", "", "CISA Known Exploited Vulnerabilities catalog, JSON or CSV, for the KEV guardrails")
	fl.StringVar(&f.exceptions, "exceptions", "", "exceptions exported with \"onus exceptions export\": a file, or an https:// URL that serves the export")
	fl.StringVar(&f.token, "token", os.Getenv("ONUS_TOKEN_REF"), "bearer token for an --exceptions URL, as env:NAME or file:PATH, never the token itself [$ONUS_TOKEN_REF]")
	fl.BoolVar(&f.fromDB, "exceptions-from-db", false, "read exceptions from the store (--db) instead of an exported file")
	fl.StringVar(&f.codeowners, "codeowners", "", "CODEOWNERS file (default: CODEOWNERS, .github/, .gitlab/ or docs/ under --root)")
	fl.StringVar(&f.root, "root", ".", "repository root: paths are made relative to it for CODEOWNERS and reports")
	fl.StringVar(&f.repo, "repo", firstEnv("GITHUB_REPOSITORY", "CI_PROJECT_PATH"), "repository name, for exception scopes [$GITHUB_REPOSITORY, $CI_PROJECT_PATH]")
	fl.StringVar(&f.workspace, "workspace", os.Getenv("TF_WORKSPACE"), "Terraform workspace, for environment detection [$TF_WORKSPACE]")
	fl.StringVar(&f.tfDir, "terraform-dir", "", "directory of the Terraform configuration, relative to --root (default: the plan file's directory)")
	fl.BoolVar(&f.record, "record", false, "record the violations as findings in the ledger (--db), and resolve those this run no longer sees: run it on the default branch")
	fl.StringArrayVar(&f.reports, "report", nil, "also write the report as FORMAT=FILE, such as markdown=gate.md (repeatable)")
	fl.StringVar(&f.now, "now", "", "evaluate as of this time (RFC 3339 or a date), for exception expiry")
	return cmd
}

func firstEnv(keys ...string) string {
	for _, k := range keys {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

func (a *app) runGate(cmd *cobra.Command, f gateFlags, files []string) error {
	if !contains(gate.Formats, a.output) {
		return gateUsageErr(onus.Errorf(onus.EINVALID, "unknown output format %q (want %s)", a.output, strings.Join(gate.Formats, ", ")))
	}
	now, err := a.parseNow(f.now)
	if err != nil {
		return gateUsageErr(err)
	}
	for _, r := range f.reports {
		format, file, ok := strings.Cut(r, "=")
		if !ok || file == "" || !contains(gate.Formats, format) {
			return gateUsageErr(onus.Errorf(onus.EINVALID, "--report %q: want FORMAT=FILE with a format among %s", r, strings.Join(gate.Formats, ", ")))
		}
	}
	// The configuration directory counts only when named: with none, the
	// bundled pack and the default ladder apply.
	var dir string
	if cmd.Flags().Changed("config") || os.Getenv("ONUS_CONFIG") != "" {
		dir = a.configDir
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return gateUsageErr(onus.Errorf(onus.EINVALID, "--config %s is not a directory", dir))
		}
	}
	cfg, pack, raci, err := loadGateConfig(dir)
	if err != nil {
		return gateUsageErr(err)
	}
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) || dir == "" {
			return p
		}
		return filepath.Join(dir, p)
	}

	env := f.env
	if env == "" {
		env = cfg.DetectEnv(slashed(files), f.workspace)
	}
	ladder := cfg.LadderOf()
	if env == "" {
		return gateUsageErr(onus.Errorf(onus.EINVALID, "say which environment the change is for: --env %s (or add detect patterns to gate.yaml)", strings.Join(ladder.Names(), "|")))
	}
	if _, ok := ladder.Envs[env]; !ok {
		return gateUsageErr(onus.Errorf(onus.EINVALID, "--env %s is not in the ladder (%s)", env, strings.Join(ladder.Names(), ", ")))
	}

	o := gate.Options{Env: env, Repository: f.repo, Ladder: ladder, Pack: pack, Now: now}
	if p := firstNonEmpty(f.kev, rel(cfg.KEV)); p != "" {
		k, err := readWith(p, gate.ParseKEV)
		if err != nil {
			return gateUsageErr(err)
		}
		o.KEV = k
	}
	switch {
	case f.fromDB:
		db, err := a.openExisting(cmd.Context())
		if err != nil {
			return gateUsageErr(err)
		}
		list, err := db.Exceptions(cmd.Context(), onus.ExceptionFilter{})
		db.Close()
		if err != nil {
			return gateUsageErr(err)
		}
		if o.Exceptions, err = gate.NewExceptions("the store", list, pack); err != nil {
			return gateUsageErr(err)
		}
	case firstNonEmpty(f.exceptions, rel(cfg.Exceptions)) != "":
		p := firstNonEmpty(f.exceptions, rel(cfg.Exceptions))
		parse := func(name string, r io.Reader) (*gate.Exceptions, error) { return gate.ParseExceptions(name, r, pack) }
		var xs *gate.Exceptions
		if strings.HasPrefix(p, "https://") || strings.HasPrefix(p, "http://") {
			xs, err = fetchExceptions(cmd.Context(), p, f.token, parse)
		} else {
			xs, err = readWith(p, parse)
		}
		if err != nil {
			return gateUsageErr(err)
		}
		o.Exceptions = xs
	}
	owners := &gate.Owners{RACI: raci}
	coPath := firstNonEmpty(f.codeowners, rel(cfg.CodeOwners))
	if coPath == "" {
		for _, c := range []string{".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"} {
			if _, err := os.Stat(filepath.Join(f.root, c)); err == nil {
				coPath = filepath.Join(f.root, c)
				break
			}
		}
	}
	if coPath != "" {
		if owners.CodeOwners, err = readWith(coPath, gate.ParseCodeOwners); err != nil {
			return gateUsageErr(err)
		}
	}
	o.Owners = owners
	o.Source = os.DirFS(f.root)

	var subjects []*gate.Subject
	var inputs []gate.Input
	po := gate.ParseOptions{Root: filepath.ToSlash(f.root), TerraformDir: filepath.ToSlash(f.tfDir)}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return gateUsageErr(onus.Errorf(onus.EINVALID, "%s: cannot read: %v", file, errors.Unwrap(err)))
		}
		kind, subs, err := gate.Parse(filepath.ToSlash(file), data, po)
		if err != nil {
			return gateUsageErr(err)
		}
		subjects = append(subjects, subs...)
		inputs = append(inputs, gate.Input{File: filepath.ToSlash(file), Kind: kind, Subjects: len(subs)})
	}
	if f.record && f.repo == "" {
		return gateUsageErr(onus.Errorf(onus.EINVALID, "--record needs --repo (or $GITHUB_REPOSITORY, $CI_PROJECT_PATH): findings are kept per repository"))
	}
	start := time.Now()
	rep, err := gate.Evaluate(subjects, inputs, o)
	if err != nil {
		return gateUsageErr(err)
	}
	a.log.Info("gate evaluated", "env", env, "subjects", len(subjects), "checks", rep.Evaluated, "results", len(rep.Results), "took", time.Since(start))
	if err := gate.Write(a.stdout, rep, a.output); err != nil {
		return err
	}
	for _, r := range f.reports {
		format, file, _ := strings.Cut(r, "=")
		if err := writeReportFile(file, rep, format); err != nil {
			return gateUsageErr(err)
		}
	}
	if f.record {
		if err := a.recordGate(cmd, rep); err != nil {
			return gateUsageErr(err)
		}
	}
	if rep.Blocked() {
		return &codeError{code: gateBlock}
	}
	return nil
}

// fetchExceptions reads the export from a URL with a bearer token. A gate
// that cannot read its exceptions stops (exit 2): it never passes on a
// guess.
func fetchExceptions(ctx context.Context, rawURL, tokenRef string, parse func(string, io.Reader) (*gate.Exceptions, error)) (*gate.Exceptions, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "--exceptions: %q is not a URL", rawURL)
	}
	name := u.Scheme + "://" + u.Host + u.Path // never the query, which may hold a secret
	if tokenRef == "" {
		return nil, onus.Errorf(onus.EINVALID, "--exceptions %s needs --token env:NAME or file:PATH", name)
	}
	token, err := notify.Secret(tokenRef)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, onus.Errorf(onus.EINVALID, "--exceptions %s: a token is only sent over https (or to this machine)", name)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "--exceptions %s: %v", name, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "--exceptions %s: cannot fetch the exceptions: %v", name, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, onus.Errorf(onus.EINVALID, "--exceptions %s: the server answered %s", name, resp.Status)
	}
	return parse(name, resp.Body)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// recordGate writes a run's violations to the ledger as findings, in one
// transaction, as a run of kind "gate".
func (a *app) recordGate(cmd *cobra.Command, rep *gate.Report) error {
	ctx := cmd.Context()
	db, err := a.openExisting(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	run, err := db.BeginRun(ctx, "gate", actor(), rep.At)
	if err != nil {
		return err
	}
	changes, st, err := func() ([]onus.FindingChange, ledger.Stats, error) {
		active, err := db.ActiveFindings(ctx)
		if err != nil {
			return nil, ledger.Stats{}, err
		}
		var prev []onus.Finding
		seen := map[onus.FindingKey]bool{}
		for _, f := range active {
			if rep.Covers(f) {
				prev = append(prev, f)
				seen[onus.FindingKey{Control: f.Control, Entity: f.Entity}] = true
			}
		}
		var keys []onus.FindingKey
		for _, k := range rep.Failures() {
			if !seen[k] {
				keys = append(keys, k)
			}
		}
		closed, err := db.FindingsByKey(ctx, keys)
		if err != nil {
			return nil, ledger.Stats{}, err
		}
		changes, st := gate.Record(rep, append(prev, closed...), nil)
		var stats []onus.ControlStat
		for _, g := range rep.Guardrails {
			t := rep.Tally[g.ID]
			stats = append(stats, onus.ControlStat{Control: g.ID, Pass: t.Passed, Fail: t.Evaluated - t.Passed})
		}
		return changes, st, db.ApplyChanges(ctx, run, changes, stats, -1)
	}()
	if ferr := db.FinishRun(ctx, run, map[string]any{"env": rep.Env, "repository": rep.Repository, "changes": st}, err); ferr != nil {
		err = errors.Join(err, fmt.Errorf("gate: record the end of run %d: %w", run, ferr))
	}
	if err == nil {
		err = db.Audit(ctx, actor(), "gate.record", fmt.Sprintf("run %d", run),
			fmt.Sprintf("%s in %s: %d opened, %d reopened, %d resolved, %d exempted",
				rep.Repository, rep.Env, st.Opened, st.Reopened, st.Resolved, st.Exempted))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "onus: recorded %d change(s) in the ledger: %d opened, %d reopened, %d resolved, %d exempted\n",
		len(changes), st.Opened, st.Reopened, st.Resolved, st.Exempted)
	return nil
}

// guardrailLookup finds guardrails for the exception workflow: the bundled
// pack and the configuration directory's own. A directory whose guardrails
// do not compile offers only the bundled ones; onus gate reports the error.
func (a *app) guardrailLookup() func(string) *exception.Guardrail {
	_, pack, _, err := loadGateConfig(a.configDir)
	if err != nil {
		_, pack, _, err = loadGateConfig("")
		if err != nil {
			return nil
		}
	}
	return func(id string) *exception.Guardrail {
		g := pack.Guardrail(id)
		if g == nil {
			return nil
		}
		return &exception.Guardrail{Severity: g.Severity, Activity: g.Activity, CheckScope: gate.CheckExceptionScope}
	}
}

func writeReportFile(file string, rep *gate.Report, format string) error {
	fh, err := os.Create(file)
	if err != nil {
		return onus.Errorf(onus.EINVALID, "--report: cannot write %s: %v", file, errors.Unwrap(err))
	}
	if err := gate.Write(fh, rep, format); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// gateProblems checks the gate's part of a configuration directory, for
// onus validate: nothing when it has neither gate.yaml nor guardrails/.
func gateProblems(dir string) config.Problems {
	_, e1 := os.Stat(filepath.Join(dir, gate.ConfigFile))
	_, e2 := os.Stat(filepath.Join(dir, gate.GuardrailsDir))
	if e1 != nil && e2 != nil {
		return nil
	}
	_, _, _, err := loadGateConfig(dir)
	if err == nil {
		return nil
	}
	var probs config.Problems
	var p *config.Problem
	switch {
	case errors.As(err, &probs):
		return probs
	case errors.As(err, &p):
		return config.Problems{p}
	}
	return config.Problems{{File: filepath.Join(dir, gate.ConfigFile), Message: err.Error()}}
}

// loadGateConfig reads gate.yaml, guardrails/*.yaml and raci.yaml from dir,
// each when present; with no dir, the bundled pack and default ladder.
func loadGateConfig(dir string) (*gate.Config, *gate.Pack, *config.RACI, error) {
	bundled, err := gate.Bundled()
	if err != nil {
		return nil, nil, nil, err
	}
	var cfg *gate.Config
	var raci *config.RACI
	var own []*gate.Guardrail
	if dir != "" {
		if cfg, err = readOptional(filepath.Join(dir, gate.ConfigFile), gate.ParseConfig); err != nil {
			return nil, nil, nil, err
		}
		if raci, err = readOptional(filepath.Join(dir, config.RACIFile), config.ParseRACI); err != nil {
			return nil, nil, nil, err
		}
		if st, err := os.Stat(filepath.Join(dir, gate.GuardrailsDir)); err == nil && st.IsDir() {
			if own, err = gate.LoadGuardrails(os.DirFS(dir), gate.GuardrailsDir); err != nil {
				var probs config.Problems
				if errors.As(err, &probs) {
					for _, p := range probs {
						p.File = filepath.Join(dir, filepath.FromSlash(p.File))
					}
				}
				return nil, nil, nil, err
			}
			for _, g := range own {
				g.File = filepath.Join(dir, filepath.FromSlash(g.File))
			}
		}
	}
	if cfg == nil {
		cfg = &gate.Config{}
	}
	var all []*gate.Guardrail
	for _, g := range append(cfg.Select(bundled), own...) {
		if !cfg.Disabled(g.ID) {
			all = append(all, g)
		}
	}
	pack, err := gate.Compile(all)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, pack, raci, nil
}

func readOptional[T any](path string, parse func(string, io.Reader) (T, error)) (T, error) {
	var zero T
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return zero, nil
	}
	return readWith(path, parse)
}

func readWith[T any](path string, parse func(string, io.Reader) (T, error)) (T, error) {
	var zero T
	fh, err := os.Open(path)
	if err != nil {
		return zero, onus.Errorf(onus.EINVALID, "%s: cannot read: %v", path, errors.Unwrap(err))
	}
	defer fh.Close()
	return parse(path, fh)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func slashed(files []string) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = filepath.ToSlash(f)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// exceptionsExportCmd writes the ledger's exceptions for gates that run
// offline.
func (a *app) exceptionsExportCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export every exception, for \"onus gate --exceptions FILE\" in CI",
		Long: `export writes every exception in the store, in every state, as one JSON
file. onus gate honours the approved, unexpired ones whose approver is not
their requester, and reports the rest; keep the file where the change under
review cannot edit it (a CI artifact or a protected branch).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			list, err := db.Exceptions(cmd.Context(), onus.ExceptionFilter{})
			if err != nil {
				return err
			}
			if list == nil {
				list = []*onus.Exception{}
			}
			out := gate.Export{Version: gate.ExportVersion, ExportedAt: a.clock.Now().Truncate(time.Second), Exceptions: list}
			if file == "" || file == "-" {
				return report.WriteJSON(a.stdout, out)
			}
			tmp := file + ".tmp"
			fh, err := os.Create(tmp)
			if err != nil {
				return onus.Errorf(onus.EINVALID, "--file: %v", errors.Unwrap(err))
			}
			if err := report.WriteJSON(fh, out); err != nil {
				fh.Close()
				return err
			}
			if err := fh.Close(); err != nil {
				return err
			}
			if err := os.Rename(tmp, file); err != nil {
				return err
			}
			a.printf("Exported %d exception(s) to %s\n", len(list), file)
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "write to this file instead of standard output")
	return cmd
}
