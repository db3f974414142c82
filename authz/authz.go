// Package authz decides what the signed-in person may see and do, from
// the data: an employee sees their own findings, assets, roles and
// exceptions; a manager also those of everyone below them in the
// management chain; an Accountable person the findings of the activities
// they answer for and the approvals waiting for them; a security
// administrator everything, with the source actions; an auditor
// everything, read-only, with the audit log.
//
// Every page, API route, export and count of "onus serve" reads the store
// through a Service, never directly: the restriction is applied in the
// queries, below the handlers, so a handler cannot forget it.
package authz

import (
	"context"
	"slices"
	"strings"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/store"
)

// Subject is who is signed in.
type Subject struct {
	// Email is the person's address in the directory; for the break-glass
	// administrator and service tokens it is "break-glass:<user>" or
	// "service:<name>".
	Email string `json:"email"`
	Name  string `json:"name"`
	// Method is how they signed in: oidc, demo, break-glass or token.
	Method string `json:"method"`
	// Person is false for the break-glass administrator and service
	// tokens: they have no findings of their own.
	Person  bool `json:"person"`
	Admin   bool `json:"admin"`
	Auditor bool `json:"auditor"`
	// Manager is set when people report to them.
	Manager bool `json:"manager"`
	// Accountable is set when they hold an A in the matrix or answer for a
	// finding.
	Accountable bool `json:"accountable"`
	// ReadOnly is set for a token without the write scope.
	ReadOnly bool `json:"read_only"`
	// TimeZone is the person's IANA zone for due dates.
	TimeZone string `json:"time_zone,omitempty"`
}

// SeesAll reports whether the subject sees every finding.
func (s *Subject) SeesAll() bool { return s.Admin || s.Auditor }

// CanWrite reports whether the subject may change anything at all.
func (s *Subject) CanWrite() bool {
	return !s.ReadOnly && !(s.Auditor && !s.Admin)
}

// Roles names the subject's roles, for the page header and the API.
func (s *Subject) Roles() []string {
	var r []string
	if s.Person {
		r = append(r, "employee")
	}
	if s.Manager {
		r = append(r, "manager")
	}
	if s.Accountable {
		r = append(r, "accountable")
	}
	if s.Admin {
		r = append(r, "admin")
	}
	if s.Auditor {
		r = append(r, "auditor")
	}
	return r
}

// Visibility is the store restriction for the subject.
func (s *Subject) Visibility() store.Visibility {
	if s.SeesAll() {
		return store.Visibility{All: true}
	}
	if !s.Person {
		return store.Visibility{}
	}
	return store.Visibility{Email: s.Email}
}

type ctxKey struct{}

// WithSubject returns a context carrying the subject.
func WithSubject(ctx context.Context, s *Subject) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// FromContext returns the subject of a context, or nil.
func FromContext(ctx context.Context) *Subject {
	s, _ := ctx.Value(ctxKey{}).(*Subject)
	return s
}

// ErrSignIn is returned when nobody is signed in.
var ErrSignIn = onus.Errorf(onus.EUNAUTHORIZED, "sign in first")

func subject(ctx context.Context) (*Subject, error) {
	s := FromContext(ctx)
	if s == nil {
		return nil, ErrSignIn
	}
	return s, nil
}

func forbidden(format string, args ...any) error {
	return onus.Errorf(onus.EFORBIDDEN, format, args...)
}

// writer returns the subject when they may change state.
func writer(ctx context.Context) (*Subject, error) {
	s, err := subject(ctx)
	if err != nil {
		return nil, err
	}
	if !s.CanWrite() {
		if s.ReadOnly {
			return nil, forbidden("this token is read-only")
		}
		return nil, forbidden("auditors read; they do not change anything")
	}
	return s, nil
}

// member reports whether an e-mail is listed, or is a member or lead of a
// listed team.
func member(email string, list []string, team func(string) (lead string, members []string, ok bool)) bool {
	for _, x := range list {
		if strings.EqualFold(x, email) {
			return true
		}
		if lead, members, ok := team(x); ok && (lead == email || slices.Contains(members, email)) {
			return true
		}
	}
	return false
}
