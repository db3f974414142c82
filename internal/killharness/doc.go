// Package killharness kills onus at random points and checks that nothing
// was lost, doubled or left behind. It builds the onus binary, copies the
// example organisation, points its e-mail channel at a real mailpit, and
// then, round after round, starts "onus run" or "onus nudge" and kills it
// with SIGKILL after a random delay. The clock (--now) moves on a few
// minutes each round, so that the next round finds the messages a killed
// dispatcher held; every few rounds it moves to the next working day, so
// that new reminders are due. At the end one uninterrupted run and nudge
// settle everything, and the harness reports:
//
//   - messages lost (recorded as sent but never arrived, or still waiting
//     when they were due), duplicated (arrived twice), uncertain (the
//     dispatcher died while handing them over; a person checks them);
//   - ledger differences against a copy that was never killed and ran the
//     same evaluations at the same times (state, owner and due date of
//     every finding), findings with other than one "opened" event, and
//     sent messages whose findings lack exactly one "told" line.
//
// A killed "onus run" is run again at once at the same time, as an
// operator or the next cron tick would; a killed "onus nudge" is left for
// the next round to recover.
//
// The short version runs in the test suite (scripts/test). The long one:
//
//	ONUS_KILLS=200 go test ./internal/killharness -run TestKillHarness -v -timeout 60m
//
// ONUS_KILL_SEED repeats a sequence of kill points.
//
// TestKillHarnessPostgres does the same on PostgreSQL, with the checks
// shared: each round three replicas ("onus run" or "onus nudge" at the same
// time, as three machines' cron ticks) work on one database at once, two in
// three of them are killed at a random point, and halfway through the kills
// PostgreSQL itself stops as in a crash (immediate shutdown: every
// connection cut, nothing checkpointed) while they work, and starts again;
// the replicas started after it go on. It needs PostgreSQL's server
// programs (initdb, postgres: Debian's postgresql package) to run a server
// of its own, since it restarts it. The long run, with PostgreSQL
// restarted at evenly spread points:
//
//	ONUS_KILLS=120 ONUS_PG_RESTARTS=3 go test ./internal/killharness -run TestKillHarnessPostgres -v -timeout 60m
//
// TestServeReplicasPostgresRestart runs three long-lived "onus serve
// --schedule" replicas on one PostgreSQL instead, stops PostgreSQL as in a
// crash while they work and starts it again, and checks that they ride it
// out by themselves (/readyz, no exit, each tick once, no stale lease),
// then the same checks. The longer run:
//
//	ONUS_SERVE_RESTARTS=4 ONUS_SERVE_PHASE=20s go test ./internal/killharness -run TestServeReplicasPostgresRestart -v -timeout 30m
package killharness
