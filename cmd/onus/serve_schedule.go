package main

import (
	"context"

	"github.com/onus-sec/onus/connector"
	"github.com/onus-sec/onus/schedule"
)

// onus serve runs the scheduler beside the web application (unless
// --schedule=false, and never for the demo, whose data describes one fixed
// morning): syncs, evaluations, nudge planning and delivery, with its
// metrics on the server's /metrics.
func init() {
	backgroundJobs = append(backgroundJobs, func(env *serveEnv) (func(context.Context) error, error) {
		if !env.Schedule {
			return nil, nil
		}
		// Pages, records, retries and rate-limit waits of the connectors'
		// pulls, beside the jobs' metrics.
		for _, c := range connector.Collectors() {
			if err := env.Metrics.Register(c); err != nil {
				return nil, err
			}
		}
		s, err := schedule.New(schedule.Options{Config: env.Config, Store: env.Store, Clock: env.Business, Wall: env.Wall,
			Log: env.Log, Actor: env.Actor, Registry: env.Metrics})
		if err != nil {
			return nil, err
		}
		return s.Run, nil
	})
}
