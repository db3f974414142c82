// Command linearchart draws the chart of `onus bench --linear` again from
// its JSON output (--json), without measuring anything:
//
//	go run ./internal/bench/linearchart docs/linear-growth.json docs/linear-growth.svg
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/onus-sec/onus/internal/bench"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "linearchart:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: linearchart MEASUREMENTS.json CHART.svg")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var res bench.LinearResult
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	if len(res.Points) == 0 {
		return fmt.Errorf("%s: no measurements (points)", args[0])
	}
	if err := os.WriteFile(args[1], bench.LinearChart(&res), 0o644); err != nil {
		return err
	}
	return bench.LinearTable(os.Stdout, &res)
}
