package authz

import (
	"context"
	"strings"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/store"
)

// Sessions lists active sign-ins: the subject's own, or, for security
// administrators and auditors, everyone's (or one person's with email).
func (s *Service) Sessions(ctx context.Context, email string, now time.Time) ([]store.SessionInfo, error) {
	sub, err := subject(ctx)
	if err != nil {
		return nil, err
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if !sub.SeesAll() {
		if email != "" && email != sub.Email {
			return nil, forbidden("only security administrators and auditors see other people's sessions")
		}
		email = sub.Email
	}
	return s.Store.ActiveSessions(ctx, email, now, 1000)
}

// sessionActor returns the subject when they may end sessions: anyone
// signed in may end their own (auditors too), a read-only token none.
func sessionActor(ctx context.Context) (*Subject, error) {
	sub, err := subject(ctx)
	if err != nil {
		return nil, err
	}
	if sub.ReadOnly {
		return nil, forbidden("this token is read-only")
	}
	return sub, nil
}

// RevokeSession ends one session: one's own, or anyone's for security
// administrators. It is in the audit log.
func (s *Service) RevokeSession(ctx context.Context, handle string) (*store.SessionInfo, error) {
	sub, err := sessionActor(ctx)
	if err != nil {
		return nil, err
	}
	owner := sub.Email
	if sub.Admin && sub.CanWrite() {
		owner = ""
	}
	email, err := s.Store.RevokeSessionByHandle(ctx, handle, owner, sub.Email)
	if err != nil {
		return nil, err
	}
	return &store.SessionInfo{Handle: strings.ToLower(handle), Email: email}, nil
}

// RevokeSessionsOf ends every session of a person: one's own ("sign out
// everywhere"), or anyone's for security administrators. It returns how
// many ended; it is in the audit log.
func (s *Service) RevokeSessionsOf(ctx context.Context, email string) (int, error) {
	sub, err := sessionActor(ctx)
	if err != nil {
		return 0, err
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return 0, onus.Errorf(onus.EINVALID, "say whose sessions to end (email)")
	}
	if email != sub.Email && !(sub.Admin && sub.CanWrite()) {
		return 0, forbidden("only security administrators end other people's sessions")
	}
	return s.Store.RevokeSessionsOf(ctx, email, sub.Email)
}
