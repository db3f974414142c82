// Command linearchart draws the chart of `onus bench --linear` again from
// its JSON output (--json), without measuring anything. Several files are
// merged (sizes measured in separate runs), the points ordered by entities,
// a size in a later file replacing the same size in an earlier one:
//
//	go run ./internal/bench/linearchart -svg docs/linear-growth.svg -json docs/linear-growth.json a.json b.json
//
// It prints the Markdown table of docs/performance.md.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/onus-sec/onus/internal/bench"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "linearchart:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("linearchart", flag.ContinueOnError)
	svg := fs.String("svg", "", "write the chart to this file")
	merged := fs.String("json", "", "write the merged measurements to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("usage: linearchart [-svg CHART.svg] [-json MERGED.json] MEASUREMENTS.json [MORE.json]")
	}
	var res bench.LinearResult
	for _, name := range fs.Args() {
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		var r bench.LinearResult
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if len(r.Points) == 0 {
			return fmt.Errorf("%s: no measurements (points)", name)
		}
		if res.GoVersion == "" {
			res = r
			continue
		}
		for _, p := range r.Points {
			res.Points = slices.DeleteFunc(res.Points, func(q bench.LinearPoint) bool { return q.People == p.People })
			res.Points = append(res.Points, p)
		}
	}
	slices.SortFunc(res.Points, func(a, b bench.LinearPoint) int { return a.Entities - b.Entities })
	if *svg != "" {
		if err := os.WriteFile(*svg, bench.LinearChart(&res), 0o644); err != nil {
			return err
		}
	}
	if *merged != "" {
		b, err := json.MarshalIndent(&res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*merged, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return bench.LinearTable(out, &res)
}
