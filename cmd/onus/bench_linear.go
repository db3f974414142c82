package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/onus-sec/onus/internal/bench"
	"github.com/onus-sec/onus/report"
)

// benchLinear runs `onus bench --linear`.
func (a *app) benchLinear(cmd *cobra.Command, sizes []int, repeat int, dir, cpuProfile, chart, jsonOut string) error {
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "onus-linear")
	}
	o := bench.LinearOptions{People: sizes, Dir: dir, Repeat: repeat}
	if !a.quiet && a.output != report.JSON {
		o.Log = a.stderr
	}
	if cpuProfile != "" {
		o.Profile = func(people int, run, phase string) func() {
			stop, err := bench.StartCPUProfile(fmt.Sprintf("%s-%d-%s-%s.pprof", cpuProfile, people, run, phase))
			if err != nil {
				return func() {}
			}
			return stop
		}
	}
	res, err := bench.Linear(cmd.Context(), o)
	if err != nil {
		return err
	}
	if jsonOut != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if chart != "" {
		if err := os.WriteFile(chart, bench.LinearChart(res), 0o644); err != nil {
			return err
		}
	}
	if a.output == report.JSON {
		return report.WriteJSON(a.stdout, res)
	}
	return bench.LinearTable(a.stdout, res)
}
