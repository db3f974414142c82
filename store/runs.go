package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/onus-sec/onus"
)

// Run is one sync or evaluation.
type Run struct {
	ID       int64           `json:"id"`
	Kind     string          `json:"kind"`
	Actor    string          `json:"actor"`
	Started  time.Time       `json:"started"`
	Finished time.Time       `json:"finished"`
	EvalNow  time.Time       `json:"eval_now"`
	Status   string          `json:"status"`
	Holder   string          `json:"holder,omitempty"`
	Summary  json.RawMessage `json:"summary,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// BeginRun records the start of a run and returns its id.
func (s *DB) BeginRun(ctx context.Context, kind, actor string, evalNow time.Time) (int64, error) {
	return s.BeginRunAs(ctx, kind, actor, "", evalNow)
}

// BeginRunAs records the start of a run by a lock holder ("host:pid:run"),
// so that a later holder of the run lock can mark it interrupted if the
// process stops before FinishRun.
func (s *DB) BeginRunAs(ctx context.Context, kind, actor, holder string, evalNow time.Time) (int64, error) {
	var now any
	if !evalNow.IsZero() {
		now = fmtTime(evalNow)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO runs (kind, actor, holder, started_at, eval_now, status) VALUES (?, ?, ?, ?, ?, 'running')`,
		kind, actor, holder, fmtTime(s.now()), now)
	if err != nil {
		return 0, fmt.Errorf("store: begin run: %w", err)
	}
	return res.LastInsertId()
}

// FinishRun records the end of a run, with a summary and its error if any.
func (s *DB) FinishRun(ctx context.Context, id int64, summary any, runErr error) error {
	status, msg := "ok", ""
	if runErr != nil {
		status, msg = "failed", runErr.Error()
	}
	b, _ := json.Marshal(summary)
	_, err := s.db.ExecContext(ctx, `UPDATE runs SET finished_at = ?, status = ?, summary = ?, error = ? WHERE id = ?`,
		fmtTime(s.now()), status, string(b), msg, id)
	if err != nil {
		return fmt.Errorf("store: finish run: %w", err)
	}
	return nil
}

// Run returns one run, or a not-found error.
func (s *DB) Run(ctx context.Context, id int64) (*Run, error) {
	rs, err := s.runs(ctx, `WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("store: run: %w", err)
	}
	if len(rs) == 0 {
		return nil, onus.Errorf(onus.ENOTFOUND, "no run %d", id)
	}
	return rs[0], nil
}

// Unfinished returns the runs still marked running, and those marked
// interrupted (their process stopped before they ended) since a time,
// newest first.
func (s *DB) Unfinished(ctx context.Context, since time.Time) ([]*Run, error) {
	return s.runs(ctx, `WHERE status = 'running' OR (status = 'interrupted' AND started_at >= ?) ORDER BY id DESC`, fmtTime(since))
}

func (s *DB) runs(ctx context.Context, where string, args ...any) ([]*Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, actor, started_at, finished_at, eval_now, status, summary, COALESCE(error, ''), holder FROM runs `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: runs: %w", err)
	}
	defer rows.Close()
	var out []*Run
	for rows.Next() {
		var r Run
		var started, finished, evalNow, summary sql.NullString
		if err := rows.Scan(&r.ID, &r.Kind, &r.Actor, &started, &finished, &evalNow, &r.Status, &summary, &r.Error, &r.Holder); err != nil {
			return nil, fmt.Errorf("store: runs: %w", err)
		}
		r.Started, r.Finished, r.EvalNow = parseTime(started.String), parseTime(finished.String), parseTime(evalNow.String)
		if summary.Valid {
			r.Summary = json.RawMessage(summary.String)
		}
		out = append(out, &r)
	}
	return out, rows.Err()
}

// LastRun returns the latest finished run of a kind.
func (s *DB) LastRun(ctx context.Context, kind string) (*Run, error) {
	var r Run
	var started, finished, evalNow, summary sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT id, kind, actor, started_at, finished_at, eval_now, status, summary, COALESCE(error, '')
		FROM runs WHERE kind = ? AND status != 'running' ORDER BY id DESC LIMIT 1`, kind).
		Scan(&r.ID, &r.Kind, &r.Actor, &started, &finished, &evalNow, &r.Status, &summary, &r.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, onus.Errorf(onus.ENOTFOUND, "no %s run yet", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("store: last run: %w", err)
	}
	r.Started, r.Finished, r.EvalNow = parseTime(started.String), parseTime(finished.String), parseTime(evalNow.String)
	if summary.Valid {
		r.Summary = json.RawMessage(summary.String)
	}
	return &r, nil
}
