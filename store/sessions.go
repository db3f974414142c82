package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/onus-sec/onus"
)

// SessionHandleLen is how many hex digits of a session's stored id name
// it in lists and revocations: the stored id is the SHA-256 of the
// cookie, so a prefix of it reveals nothing that signs anyone in.
const SessionHandleLen = 16

// SessionInfo is a session as lists show it: never the cookie, its hash
// or its CSRF token.
type SessionInfo struct {
	Handle    string    `json:"id"`
	Email     string    `json:"email"`
	Method    string    `json:"method"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
}

// Handle returns the public name of a session.
func (se *Session) Handle() string {
	if len(se.ID) < SessionHandleLen {
		return se.ID
	}
	return se.ID[:SessionHandleLen]
}

// ActiveSessions lists the sessions neither revoked nor expired at now,
// newest first: of one person, or everyone's when email is "".
func (s *DB) ActiveSessions(ctx context.Context, email string, now time.Time, limit int) ([]SessionInfo, error) {
	q := `SELECT substr(id, 1, ?), email, method, created_at, expires_at, ip, user_agent FROM web_sessions
		WHERE revoked_at IS NULL AND expires_at > ?`
	args := []any{SessionHandleLen, fmtTime(now)}
	if email != "" {
		q += ` AND email = ?`
		args = append(args, strings.ToLower(email))
	}
	q += ` ORDER BY created_at DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: sessions: %w", err)
	}
	defer rows.Close()
	out := []SessionInfo{}
	for rows.Next() {
		var si SessionInfo
		var created, expires string
		if err := rows.Scan(&si.Handle, &si.Email, &si.Method, &created, &expires, &si.IP, &si.UserAgent); err != nil {
			return nil, fmt.Errorf("store: sessions: %w", err)
		}
		si.CreatedAt, si.ExpiresAt = parseTime(created), parseTime(expires)
		out = append(out, si)
	}
	return out, rows.Err()
}

// RevokeSessionByHandle ends the active session a handle names, of owner
// (of anyone when owner is ""), audited as actor. It returns the
// session's person, or a not-found error.
func (s *DB) RevokeSessionByHandle(ctx context.Context, handle, owner, actor string) (string, error) {
	handle = strings.ToLower(strings.TrimSpace(handle))
	if len(handle) != SessionHandleLen || strings.Trim(handle, "0123456789abcdef") != "" {
		return "", onus.Errorf(onus.ENOTFOUND, "no session %q", handle)
	}
	var email string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// The handle is a prefix of the primary key: a range over it.
		q, args := `SELECT id, email FROM web_sessions WHERE id >= ? AND id < ? AND revoked_at IS NULL`, []any{handle, handle + "g"}
		if owner != "" {
			q += ` AND email = ?`
			args = append(args, strings.ToLower(owner))
		}
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("store: revoke session: %w", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id, &email); err != nil {
				rows.Close()
				return fmt.Errorf("store: revoke session: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if len(ids) != 1 {
			return onus.Errorf(onus.ENOTFOUND, "no active session %s", handle)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE web_sessions SET revoked_at = ? WHERE id = ?`, fmtTime(s.now()), ids[0]); err != nil {
			return fmt.Errorf("store: revoke session: %w", err)
		}
		return s.audit(ctx, tx, actor, "session.revoke", "session "+handle, "of "+email)
	})
	return email, err
}
