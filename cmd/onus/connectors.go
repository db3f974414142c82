package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/connector"
	_ "github.com/onus-sec/onus/connector/all" // every built-in connector
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/report"
	"github.com/onus-sec/onus/source"
)

func (a *app) connectorsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "connectors",
		Short: "List the connectors that read systems of record through their APIs",
		Long: `connectors lists every built-in connector with what it can read (options.resource),
its options and the credentials it needs. A source uses one with

  - name: okta
    kind: account
    connector: okta
    options: { domain: acme.okta.com, resource: users }
    credentials: { token: env:OKTA_TOKEN }
    map: { id: id, keys: { email: profile.email } }

Credentials are always env:NAME or file:PATH. docs/connectors/NAME.md says
which least-privilege scopes each needs and how to create them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			specs := connector.All()
			if a.output == report.JSON {
				return report.WriteJSON(a.stdout, specs)
			}
			for i, s := range specs {
				if i > 0 {
					fmt.Fprintln(a.stdout)
				}
				fmt.Fprintf(a.stdout, "%s — %s (%s)\n", s.Name, s.Title, s.Doc)
				if len(s.Resources) > 0 {
					fmt.Fprintf(a.stdout, "  reads:       %s\n", strings.Join(s.Resources, ", "))
				}
				writeOptions(a, "options", s.Options)
				writeOptions(a, "credentials", s.Credentials)
			}
			return nil
		},
	}
}

func writeOptions(a *app, title string, opts []connector.Option) {
	if len(opts) == 0 {
		return
	}
	fmt.Fprintf(a.stdout, "  %s:\n", title)
	for _, o := range opts {
		note := ""
		switch {
		case o.Required:
			note = " (required)"
		case o.Default != "":
			note = " (default " + o.Default + ")"
		}
		fmt.Fprintf(a.stdout, "    %-14s %s%s\n", o.Name, o.Help, note)
	}
}

func (a *app) sourcesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sources",
		Short: "Work with the sources of onus.yaml",
	}
	cmd.AddCommand(a.sourcesTestCmd())
	return cmd
}

// sourceTest is what "onus sources test" found.
type sourceTest struct {
	Source    string `json:"source"`
	Connector string `json:"connector,omitempty"`
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
	// Request is the request the check made, or the file read.
	Request string `json:"request,omitempty"`
	// Records were read; Mapped of them passed the source's map.
	Records int `json:"records"`
	Mapped  int `json:"mapped"`
	// Fields counts, per mapped field, the records that had a value.
	Fields   map[string]int      `json:"fields,omitempty"`
	IDs      []string            `json:"ids,omitempty"`
	Problems []*onus.RecordError `json:"problems,omitempty"`
	Warnings []string            `json:"warnings,omitempty"`
	// Requests, Retries and Refreshes count the HTTP work; Waited is the
	// time spent waiting on rate limits and backoff.
	Requests  int64   `json:"requests,omitempty"`
	Retries   int64   `json:"retries,omitempty"`
	Refreshes int64   `json:"token_refreshes,omitempty"`
	Waited    float64 `json:"waited_seconds,omitempty"`
	Seconds   float64 `json:"seconds"`
}

func (a *app) sourcesTestCmd() *cobra.Command {
	var full bool
	cmd := &cobra.Command{
		Use:   "test NAME",
		Short: "Check that a source can be read, with its credentials, and show what it read",
		Long: `test checks one source without storing anything. For a connector it makes the
smallest requests that prove the credentials work and may read what the source
needs (one user, one device), maps what came back with the source's map:, and
prints which fields had values; a refusal is shown in the vendor's words. With
--full it pulls everything, as a sync would, and reports the records, the
malformed ones and the time taken. For a file source it reads the file.

Record values are not printed, only ids and which fields had a value.
Exits 1 when the source cannot be read.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			src := cfg.Source(args[0])
			if src == nil {
				var names []string
				for _, s := range cfg.Sources {
					names = append(names, s.Name)
				}
				return onus.Errorf(onus.ENOTFOUND, "no source called %q in %s (sources: %s)", args[0], cfg.File, strings.Join(names, ", "))
			}
			start := time.Now()
			res := a.testSource(cmd, cfg, src, full)
			res.Seconds = time.Since(start).Seconds()
			if a.output == report.JSON {
				if err := report.WriteJSON(a.stdout, res); err != nil {
					return err
				}
			} else {
				writeSourceTest(a, res)
			}
			if !res.OK {
				return errSilent
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&full, "full", false, "pull every record, as a sync would (nothing is stored)")
	return cmd
}

func (a *app) testSource(cmd *cobra.Command, cfg *config.Config, src *config.Source, full bool) *sourceTest {
	ctx := cmd.Context()
	res := &sourceTest{Source: src.Name, Connector: src.Connector}
	fail := func(err error) *sourceTest {
		res.Error = err.Error()
		if onus.ErrorCode(err) != onus.EINTERNAL {
			res.Error = onus.ErrorMessage(err)
		}
		return res
	}
	norm := monitor.Normalizer(cfg)
	var h *connector.Handle
	if src.Connector != "" {
		var err error
		if h, err = connector.Open(src, cfg.Dir, a.log); err != nil {
			return fail(err)
		}
		defer func() {
			st := h.Client.Stats()
			res.Requests, res.Retries, res.Refreshes = st.Requests.Load(), st.Retries.Load(), st.Refreshes.Load()
			res.Waited = time.Duration(st.Waited.Load()).Seconds()
		}()
	}
	var checker connector.Checker
	if h != nil {
		checker, _ = h.Connector.(connector.Checker)
	}
	if checker == nil || full {
		// A file, a full pull, or a connector without a cheaper check:
		// read the source as a sync would, without storing it.
		o := source.Options{Dir: cfg.Dir, Normalizer: norm, MaxBad: cfg.MaxBadRecords(src)}
		if h != nil {
			o.Reader = h.Reader()
		}
		r, err := source.Read(ctx, src, o)
		if r != nil && r.Snapshot != nil {
			res.Records = r.Snapshot.Records.Len() + r.Bad
			res.Mapped = r.Snapshot.Records.Len()
			res.Fields = presence(r.Snapshot)
			res.IDs = ids(r.Snapshot, 5)
			res.Problems, res.Warnings = r.Problems, r.Warnings
		}
		if err != nil {
			return fail(err)
		}
		res.OK = true
		return res
	}
	pg, err := checker.Check(ctx)
	res.Request = pg.Where
	if err != nil {
		return fail(err)
	}
	m, err := source.NewMapping(src, norm)
	if err != nil {
		return fail(err)
	}
	objs := m.NewObjects()
	objs.Add(src.Connector+": "+pg.Where, pg.Objects)
	b := objs.Batch(src.Connector + " API")
	snap := &onus.Snapshot{Source: src.Name, Kind: src.Kind, Schema: m.Schema(), Records: onus.RecordsOf(b.Records)}
	res.Records, res.Mapped = len(pg.Objects), len(b.Records)
	res.Fields, res.IDs, res.Problems = presence(snap), ids(snap, 5), b.Problems
	res.OK = len(b.Problems) == 0
	if !res.OK {
		res.Error = "the credentials work, but the records read do not fit the source's map: (see the problems)"
	}
	return res
}

func presence(s *onus.Snapshot) map[string]int {
	out := map[string]int{}
	for i, f := range s.Schema.Fields {
		out[f] = 0
		for j := range s.Records.Len() {
			if s.Records.HasAttr(j, i) {
				out[f]++
			}
		}
	}
	return out
}

func ids(s *onus.Snapshot, n int) []string {
	var out []string
	for i := range min(n, s.Records.Len()) {
		out = append(out, s.Records.ID(i))
	}
	return out
}

func writeSourceTest(a *app, r *sourceTest) {
	what := "file"
	if r.Connector != "" {
		what = "connector " + r.Connector
	}
	status := "ok"
	if !r.OK {
		status = "FAILED"
	}
	fmt.Fprintf(a.stdout, "source %s (%s): %s\n", r.Source, what, status)
	if r.Request != "" {
		fmt.Fprintf(a.stdout, "  request:  %s\n", r.Request)
	}
	if r.Error != "" {
		fmt.Fprintf(a.stdout, "  error:    %s\n", r.Error)
	}
	fmt.Fprintf(a.stdout, "  records:  %d read, %d mapped\n", r.Records, r.Mapped)
	if len(r.IDs) > 0 {
		fmt.Fprintf(a.stdout, "  ids:      %s\n", strings.Join(r.IDs, ", "))
	}
	if len(r.Fields) > 0 {
		names := make([]string, 0, len(r.Fields))
		for f := range r.Fields {
			names = append(names, f)
		}
		sort.Strings(names)
		fmt.Fprintf(a.stdout, "  fields:\n")
		for _, f := range names {
			fmt.Fprintf(a.stdout, "    %-16s %d of %d records\n", f, r.Fields[f], r.Mapped)
		}
	}
	for _, p := range r.Problems[:min(5, len(r.Problems))] {
		fmt.Fprintf(a.stdout, "  problem:  %s\n", p)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(a.stdout, "  warning:  %s\n", w)
	}
	if r.Requests > 0 {
		fmt.Fprintf(a.stdout, "  http:     %d requests, %d retries, %d token refreshes, %.1fs waiting\n", r.Requests, r.Retries, r.Refreshes, r.Waited)
	}
	fmt.Fprintf(a.stdout, "  took:     %.2fs\n", r.Seconds)
}

// connectorProblems checks every connector source's settings (not its
// secrets), with the line the source is declared on.
func connectorProblems(cfg *config.Config) config.Problems {
	var probs config.Problems
	for _, s := range cfg.Sources {
		if s.Connector == "" {
			continue
		}
		if err := connector.Validate(s); err != nil {
			probs = append(probs, &config.Problem{File: cfg.File, Line: s.Line, Message: onus.ErrorMessage(err)})
		}
	}
	return probs
}
