package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/onus-sec/onus"
)

// ManualLink is a link or an unlink an administrator made by hand between
// two records or entities.
type ManualLink struct {
	A         string    `json:"a"`
	B         string    `json:"b"`
	Linked    bool      `json:"linked"`
	Actor     string    `json:"actor"`
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// SetManualLink records that a and b are the same thing (linked) or never
// the same (not linked), replacing any earlier decision about the pair,
// and writes it to the audit log in the same transaction.
func (s *DB) SetManualLink(ctx context.Context, l ManualLink) error {
	a, b := l.A, l.B
	if b < a {
		a, b = b, a
	}
	action := "unlink"
	if l.Linked {
		action = "link"
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO manual_links (a, b, linked, actor, reason, created_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (a, b) DO UPDATE SET linked = excluded.linked, actor = excluded.actor, reason = excluded.reason, created_at = excluded.created_at`,
			a, b, boolInt(l.Linked), l.Actor, l.Reason, fmtTime(s.now())); err != nil {
			return fmt.Errorf("store: manual link: %w", err)
		}
		return s.audit(ctx, tx, l.Actor, action, a+" "+b, l.Reason)
	})
}

// DeleteManualLink forgets the decision about a pair, so that the keys
// alone decide again; it is audited. It fails with ENOTFOUND when
// there was none.
func (s *DB) DeleteManualLink(ctx context.Context, a, b, actor string) error {
	if b < a {
		a, b = b, a
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM manual_links WHERE a = ? AND b = ?`, a, b)
		if err != nil {
			return fmt.Errorf("store: manual link: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return onus.Errorf(onus.ENOTFOUND, "no link or unlink between %s and %s", a, b)
		}
		return s.audit(ctx, tx, actor, "forget-link", a+" "+b, "")
	})
}

// ManualLinks returns every decision, oldest first.
func (s *DB) ManualLinks(ctx context.Context) ([]ManualLink, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT a, b, linked, actor, reason, created_at FROM manual_links ORDER BY created_at, a, b`)
	if err != nil {
		return nil, fmt.Errorf("store: manual links: %w", err)
	}
	defer rows.Close()
	var out []ManualLink
	for rows.Next() {
		var l ManualLink
		var linked int
		var at string
		if err := rows.Scan(&l.A, &l.B, &linked, &l.Actor, &l.Reason, &at); err != nil {
			return nil, err
		}
		l.Linked, l.CreatedAt = linked != 0, parseTime(at)
		out = append(out, l)
	}
	return out, rows.Err()
}
