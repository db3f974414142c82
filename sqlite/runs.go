package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
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
	Summary  json.RawMessage `json:"summary,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// BeginRun records the start of a run and returns its id.
func (s *DB) BeginRun(ctx context.Context, kind, actor string, evalNow time.Time) (int64, error) {
	var now any
	if !evalNow.IsZero() {
		now = fmtTime(evalNow)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO runs (kind, actor, started_at, eval_now, status) VALUES (?, ?, ?, ?, 'running')`,
		kind, actor, fmtTime(s.now()), now)
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

// LastRun returns the latest finished run of a kind.
func (s *DB) LastRun(ctx context.Context, kind string) (*Run, error) {
	var r Run
	var started, finished, evalNow, summary sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT id, kind, actor, started_at, finished_at, eval_now, status, summary, COALESCE(error, '')
		FROM runs WHERE kind = ? AND status != 'running' ORDER BY id DESC LIMIT 1`, kind).
		Scan(&r.ID, &r.Kind, &r.Actor, &started, &finished, &evalNow, &r.Status, &summary, &r.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: no %s run yet: %w", kind, ErrNotFound)
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
