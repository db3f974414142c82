package authz

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/evaluate"
	"github.com/onus-sec/onus/exception"
	"github.com/onus-sec/onus/identity"
	"github.com/onus-sec/onus/raci"
	"github.com/onus-sec/onus/store"
	"github.com/onus-sec/onus/whois"
)

// Service is the store as one signed-in person may see it.
type Service struct {
	Store  *store.DB
	Config *config.Config
	// Business is the clock due dates and overdue are measured in; Ops the
	// machine's clock (sessions, audit).
	Business onus.Clock

	mu       sync.Mutex
	loadedAt string // finished_at of the evaluation the directory is from
	whois    *whois.Service
	matrix   *raci.Matrix
	problems []raci.Problem
	// subjects caches the roles of people signed in, until the next
	// evaluation changes the data they are derived from.
	subjects map[string]Subject
	// dashboards caches the dashboard of each visibility until the next
	// evaluation or change made through this service (gen).
	dashboards map[string]*store.Dashboard
	gen        uint64
	computing  map[string]chan struct{}
	fixes      map[string]evaluate.Fix
}

// New returns a service over a store and a configuration.
func New(st *store.DB, cfg *config.Config, business onus.Clock) *Service {
	return &Service{Store: st, Config: cfg, Business: business}
}

// Now returns the business time.
func (s *Service) Now() time.Time { return s.Business.Now() }

// directory returns the whois service and the matrix of the last
// evaluation, reloading them when a newer evaluation has finished.
func (s *Service) directory(ctx context.Context) (*whois.Service, *raci.Matrix, error) {
	last := ""
	if r, err := s.Store.LastRun(ctx, "eval"); err == nil && r != nil {
		last = fmt.Sprint(r.ID, r.Finished)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.whois != nil && last == s.loadedAt {
		return s.whois, s.matrix, nil
	}
	w, err := whois.New(ctx, s.Store, s.Config)
	if err != nil {
		return nil, nil, err
	}
	dir, err := s.Store.Directory(ctx)
	if err != nil {
		return nil, nil, err
	}
	s.matrix = raci.New(s.Config.RACI, dir)
	s.problems = s.matrix.Check(s.Config)
	s.subjects = map[string]Subject{}
	s.dashboards = map[string]*store.Dashboard{}
	s.whois, s.loadedAt = w, last
	return s.whois, s.matrix, nil
}

func (s *Service) exceptions() *exception.Service {
	return &exception.Service{Store: s.Store, Config: s.Config, Clock: s.Business}
}

// Refusal is why someone cannot sign in, safe to show them.
type Refusal struct{ Message string }

func (r *Refusal) Error() string { return r.Message }

// SignIn resolves a verified e-mail address to a subject: the address is
// normalised with the configuration's aliases, and must belong to a
// person of the directory who has not left.
func (s *Service) SignIn(ctx context.Context, email, method string) (*Subject, error) {
	norm := identity.New(identity.Options{EmailAliases: s.Config.Identity.EmailAliases, StripPlus: s.Config.Identity.StripPlus})
	e := strings.ToLower(strings.TrimSpace(email))
	if n := norm.Normalize("email", e); n != "" {
		e = n
	}
	if e == "" || !strings.Contains(e, "@") {
		return nil, &Refusal{"Your identity provider did not say who you are (no e-mail address)."}
	}
	p, err := s.Store.Person(ctx, e)
	if onus.ErrorCode(err) == onus.ENOTFOUND {
		return nil, &Refusal{fmt.Sprintf("%s is not in the HR directory onus reads, so onus has nothing of yours to show. If you joined recently, try again after the next sync.", e)}
	}
	if err != nil {
		return nil, err
	}
	if !p.Working() {
		return nil, &Refusal{fmt.Sprintf("%s has left the organisation according to the HR directory; onus does not sign in people who have left.", e)}
	}
	return s.subjectOf(ctx, p, method)
}

// Subject returns the subject of a person already signed in (a session
// or a token): their roles are derived again from the current data.
func (s *Service) Subject(ctx context.Context, email, method string) (*Subject, error) {
	if _, _, err := s.directory(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	cached, ok := s.subjects[method+" "+email]
	s.mu.Unlock()
	if ok {
		return &cached, nil
	}
	p, err := s.Store.Person(ctx, email)
	if err != nil {
		return nil, err
	}
	if !p.Working() {
		return nil, onus.Errorf(onus.EUNAUTHORIZED, "%s has left", email)
	}
	sub, err := s.subjectOf(ctx, p, method)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.subjects) > 100_000 {
		s.subjects = map[string]Subject{}
	}
	s.subjects[method+" "+email] = *sub
	s.mu.Unlock()
	return sub, nil
}

func (s *Service) subjectOf(ctx context.Context, p *raci.Person, method string) (*Subject, error) {
	_, m, err := s.directory(ctx)
	if err != nil {
		return nil, err
	}
	team := func(id string) (string, []string, bool) {
		t := m.Team(id)
		if t == nil {
			return "", nil, false
		}
		return t.Lead, t.Members, true
	}
	sub := &Subject{Email: p.Email, Name: p.Name, Method: method, Person: true, TimeZone: p.TimeZone,
		Admin: member(p.Email, s.Config.Serve.Admins, team), Auditor: member(p.Email, s.Config.Serve.Auditors, team)}
	reports, err := s.Store.Reports(ctx, p.Email)
	if err != nil {
		return nil, err
	}
	sub.Manager = len(reports) > 0
	for _, a := range m.Activities {
		for _, r := range a.A {
			if strings.EqualFold(r, p.Email) || member(p.Email, []string{r}, team) {
				sub.Accountable = true
			}
		}
	}
	if !sub.Accountable {
		fs, err := s.Store.Findings(ctx, onus.FindingFilter{Accountable: p.Email, Limit: 1})
		if err != nil {
			return nil, err
		}
		sub.Accountable = len(fs) > 0
	}
	return sub, nil
}

// BreakGlass is the subject of the local administrator.
func BreakGlass(user string) *Subject {
	return &Subject{Email: "break-glass:" + user, Name: user + " (break-glass administrator)", Method: "break-glass", Admin: true}
}

// People lists the working people of the directory, for the demo
// sign-in only.
func (s *Service) People(ctx context.Context) ([]*raci.Person, error) {
	d, err := s.Store.Directory(ctx)
	if err != nil {
		return nil, err
	}
	var out []*raci.Person
	for _, p := range d.People {
		if p.Working() {
			out = append(out, p)
		}
	}
	return out, nil
}

func exceptionRequest(id int64, reason string, expires time.Time, who string) exception.Request {
	return exception.Request{Finding: id, Reason: reason, Expires: expires, Requester: who}
}
