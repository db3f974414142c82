// Package whois answers "what is mine?" for one person: the activities
// where they or their team hold R, A, C or I, the things they own, their
// open findings with the steps to fix them, what they answer for across
// others, and the exceptions waiting for their decision. The personal page
// and messages are built on it.
package whois

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/evaluate"
	"github.com/onus-sec/onus/raci"
)

// Store is what a lookup reads: the people directory, the findings and
// the exceptions.
type Store interface {
	// Directory returns the people of the last evaluation.
	Directory(ctx context.Context) (*onus.Directory, error)
	// Person returns one person; ENOTFOUND when there is none.
	Person(ctx context.Context, email string) (*onus.Member, error)
	Reports(ctx context.Context, manager string) ([]string, error)
	Assets(ctx context.Context, email string) ([]onus.Asset, error)
	Findings(ctx context.Context, f onus.FindingFilter) ([]onus.Finding, error)
	// Finding returns one finding; ENOTFOUND when there is none.
	Finding(ctx context.Context, id int64) (onus.Finding, error)
	Exceptions(ctx context.Context, f onus.ExceptionFilter) ([]*onus.Exception, error)
}

// The services of onus are enough for a lookup.
var _ Store = (interface {
	onus.DirectoryService
	onus.FindingService
	onus.ExceptionService
})(nil)

// Service answers lookups for one configuration. It loads the directory
// once; a lookup then costs a few indexed queries.
type Service struct {
	store  Store
	cfg    *config.Config
	matrix *raci.Matrix
}

// New loads the directory of the last evaluation and resolves the matrix.
func New(ctx context.Context, st Store, cfg *config.Config) (*Service, error) {
	dir, err := st.Directory(ctx)
	if err != nil {
		return nil, err
	}
	return &Service{store: st, cfg: cfg, matrix: raci.New(cfg.RACI, dir)}, nil
}

// Role is a letter a person holds in an activity, and how.
type Role struct {
	Activity string `json:"activity"`
	Title    string `json:"title,omitempty"`
	Letter   string `json:"letter"`
	Via      string `json:"via"`
}

// Item is an open finding with its fix steps.
type Item struct {
	onus.Finding
	Overdue bool   `json:"overdue"`
	Fix     string `json:"fix,omitempty"`
}

// Accountability counts the open findings of one control someone answers
// for while others do the work.
type Accountability struct {
	Control string `json:"control"`
	Open    int    `json:"open"`
	Overdue int    `json:"overdue"`
}

// Profile is everything that is someone's.
type Profile struct {
	Person      raci.Person       `json:"person"`
	Reports     []string          `json:"reports,omitempty"`
	Roles       []Role            `json:"roles"`
	Assets      []onus.Asset      `json:"assets"`
	Open        []Item            `json:"open_findings"`
	Accountable []Accountability  `json:"accountable_for"`
	Approvals   []*onus.Exception `json:"pending_approvals"`
	Exceptions  []*onus.Exception `json:"own_exceptions,omitempty"`
}

// Lookup returns the profile of the person with an e-mail address.
func (s *Service) Lookup(ctx context.Context, email string, now time.Time) (*Profile, error) {
	p, err := s.store.Person(ctx, email)
	if err != nil {
		return nil, err
	}
	pr := &Profile{Person: *p}
	if pr.Reports, err = s.store.Reports(ctx, p.Email); err != nil {
		return nil, err
	}
	if pr.Assets, err = s.store.Assets(ctx, p.Email); err != nil {
		return nil, err
	}
	pr.Roles = s.roles(p, len(pr.Assets), len(pr.Reports))
	open, err := s.store.Findings(ctx, onus.FindingFilter{Owner: p.Email, States: []onus.State{onus.StateOpen, onus.StateExempted}})
	if err != nil {
		return nil, err
	}
	for _, f := range open {
		it := Item{Finding: f, Overdue: f.Overdue(now)}
		if ctl := s.cfg.Control(f.Control); ctl != nil && ctl.Fix != "" {
			it.Fix = evaluate.RenderFix(ctl.Fix, map[string]any{"Entity": map[string]string{"Name": f.EntityName, "ID": f.Entity}, "Finding": f})
		}
		pr.Open = append(pr.Open, it)
	}
	acc, err := s.store.Findings(ctx, onus.FindingFilter{Accountable: p.Email, States: []onus.State{onus.StateOpen}})
	if err != nil {
		return nil, err
	}
	byControl := map[string]*Accountability{}
	for _, f := range acc {
		if f.Responsible.Email == p.Email {
			continue
		}
		a := byControl[f.Control]
		if a == nil {
			a = &Accountability{Control: f.Control}
			byControl[f.Control] = a
		}
		a.Open++
		if f.Overdue(now) {
			a.Overdue++
		}
	}
	for _, a := range byControl {
		pr.Accountable = append(pr.Accountable, *a)
	}
	sort.Slice(pr.Accountable, func(i, j int) bool { return pr.Accountable[i].Control < pr.Accountable[j].Control })
	pending, err := s.store.Exceptions(ctx, onus.ExceptionFilter{States: []onus.ExceptionState{onus.ExceptionRequested}})
	if err != nil {
		return nil, err
	}
	for _, x := range pending {
		if x.Requester == p.Email {
			pr.Exceptions = append(pr.Exceptions, x)
			continue
		}
		if s.mayDecide(ctx, x, p.Email) {
			pr.Approvals = append(pr.Approvals, x)
		}
	}
	return pr, nil
}

// mayDecide mirrors exception.Service.MayDecide with the loaded matrix.
func (s *Service) mayDecide(ctx context.Context, x *onus.Exception, email string) bool {
	for _, id := range s.cfg.Exceptions.Approvers {
		if t := s.matrix.Team(id); t != nil && (t.Lead == email || slices.Contains(t.Members, email)) {
			return true
		}
	}
	if x.Finding != 0 {
		f, err := s.store.Finding(ctx, x.Finding)
		return err == nil && f.Accountable.Email == email
	}
	if ctl := s.cfg.Control(x.Control); ctl != nil {
		if act := s.matrix.Activity(ctl.Activity); act != nil {
			r, _ := s.matrix.First(act.A, raci.Subject{}, raci.DefaultChainLimit)
			return r.Person.Email == email
		}
	}
	return false
}

// roles lists the letters someone holds, named, through a team, or
// through a relative role.
func (s *Service) roles(p *raci.Person, assets, reports int) []Role {
	var out []Role
	email := strings.ToLower(p.Email)
	leads := []string{}
	for _, t := range s.matrix.Teams() {
		if t.Lead == email {
			leads = append(leads, t.Name)
		}
	}
	for _, a := range s.matrix.Activities {
		for _, l := range []struct {
			letter string
			roles  []string
		}{{"R", s.matrix.Responsible(a)}, {"A", a.A}, {"C", a.C}, {"I", a.I}} {
			for _, role := range l.roles {
				via := ""
				switch {
				case strings.EqualFold(role, email):
					via = "named"
				case role == raci.AssetOwner:
					if assets > 0 {
						via = fmt.Sprintf("as the owner of %d asset(s)", assets)
					}
				case role == raci.Manager:
					if reports > 0 {
						via = fmt.Sprintf("as the manager of %d people", reports)
					}
				case role == raci.TeamLead:
					if len(leads) > 0 {
						via = "as the lead of " + strings.Join(leads, ", ")
					}
				default:
					if t := s.matrix.Team(role); t != nil {
						if t.Lead == email {
							via = "as the lead of " + t.Name
						} else if slices.Contains(t.Members, email) {
							via = "as a member of " + t.Name
						}
					}
				}
				if via != "" {
					out = append(out, Role{Activity: a.ID, Title: a.Title, Letter: l.letter, Via: via})
				}
			}
		}
	}
	return out
}
