// Package raci is the responsibility matrix: for each security activity,
// who is Responsible (does the work), Accountable (answers for it: exactly
// one), Consulted and Informed. It checks the matrix for gaps and
// disagreements, resolves its roles to people for each finding, imports and
// exports it as CSV, and renders it.
//
// Everything here is pure: people and teams come in as a Directory, built
// by the caller from the inventory.
package raci

import (
	"sort"
	"strings"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
)

// Person statuses.
const (
	Active   = onus.MemberActive
	OnLeave  = onus.MemberOnLeave
	Departed = onus.MemberDeparted
)

// Person is someone the directory knows; the type lives at the root so
// that stores hold it without knowing the matrix.
type Person = onus.Member

// Directory is the people roles resolve to.
type Directory = onus.Directory

// NewDirectory returns a directory of the given people.
func NewDirectory(people []*Person) *Directory { return onus.NewDirectory(people) }

// Team is a resolved team: declared in raci.yaml, or an HR department.
type Team struct {
	ID       string
	Name     string
	Lead     string   // e-mail; "" when there is none
	Members  []string // e-mails of working members
	Declared bool
	Line     int
	// LeadDerived is set when the lead was inferred from HR, not declared.
	LeadDerived bool
}

// Matrix is a matrix with its teams resolved against a directory.
type Matrix struct {
	*config.RACI
	Dir   *Directory
	teams map[string]*Team // by id, and by lower-case department name
}

// Relative roles are resolved per finding, from the entity it is about.
const (
	AssetOwner = "asset-owner"
	Manager    = "manager"
	TeamLead   = "team-lead"
)

// IsRelative reports whether a role is resolved per finding.
func IsRelative(role string) bool {
	return role == AssetOwner || role == Manager || role == TeamLead
}

// New resolves a matrix's teams against a directory. A nil matrix is an
// empty one.
func New(r *config.RACI, dir *Directory) *Matrix {
	if r == nil {
		r = &config.RACI{}
	}
	if dir == nil {
		dir = &Directory{People: map[string]*Person{}}
	}
	m := &Matrix{RACI: r, Dir: dir, teams: map[string]*Team{}}
	// HR departments are teams by their name.
	byDept := map[string][]*Person{}
	for _, p := range dir.People {
		if p.Team != "" {
			k := strings.ToLower(p.Team)
			byDept[k] = append(byDept[k], p)
		}
	}
	for k, ps := range byDept {
		t := &Team{ID: k, Name: ps[0].Team}
		t.Members = working(ps)
		t.Lead, t.LeadDerived = deriveLead(ps, dir), true
		m.teams[k] = t
	}
	ids := make([]string, 0, len(r.Teams))
	for id := range r.Teams {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		ct := r.Teams[id]
		t := &Team{ID: id, Name: ct.Name, Lead: strings.ToLower(ct.Lead), Declared: true, Line: ct.Line}
		if t.Name == "" {
			t.Name = id
		}
		seen := map[string]bool{}
		for _, e := range ct.Members {
			e = strings.ToLower(e)
			if p := dir.Person(e); p == nil || p.Working() {
				if !seen[e] {
					seen[e] = true
					t.Members = append(t.Members, e)
				}
			}
		}
		if ct.Department != "" {
			if hr := byDept[strings.ToLower(ct.Department)]; hr != nil {
				for _, e := range working(hr) {
					if !seen[e] {
						seen[e] = true
						t.Members = append(t.Members, e)
					}
				}
			}
		}
		sort.Strings(t.Members)
		m.teams[id] = t
	}
	return m
}

func working(ps []*Person) []string {
	var out []string
	for _, p := range ps {
		if p.Working() {
			out = append(out, strings.ToLower(p.Email))
		}
	}
	sort.Strings(out)
	return out
}

// deriveLead picks an HR team's lead: the working member who manages the
// most other members (the department head manages the team's managers,
// who manage the rest); ties go to the first e-mail in order.
func deriveLead(ps []*Person, dir *Directory) string {
	in := map[string]bool{}
	for _, p := range ps {
		in[strings.ToLower(p.Email)] = true
	}
	count := map[string]int{}
	for _, p := range ps {
		// Count every member below each manager in the team.
		for m, steps := dir.Person(p.Manager), 0; m != nil && steps < 10; m, steps = dir.Person(m.Manager), steps+1 {
			if in[strings.ToLower(m.Email)] && m.Working() {
				count[strings.ToLower(m.Email)]++
			}
		}
	}
	best, n := "", 0
	for e, c := range count {
		if c > n || c == n && e < best {
			best, n = e, c
		}
	}
	return best
}

// Team returns a team by declared id or HR department name, or nil.
func (m *Matrix) Team(role string) *Team {
	if t, ok := m.teams[role]; ok {
		return t
	}
	return m.teams[strings.ToLower(role)]
}

// Teams returns every team, declared ones first.
func (m *Matrix) Teams() []*Team {
	var out []*Team
	seen := map[*Team]bool{}
	for _, t := range m.teams {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Declared != out[j].Declared {
			return out[i].Declared
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Letters returns the letters a role holds in an activity, in RACI order.
func Letters(a *config.Activity, role string) string {
	var s string
	for _, l := range []struct {
		letter string
		roles  []string
	}{{"R", a.R}, {"A", a.A}, {"C", a.C}, {"I", a.I}} {
		for _, r := range l.roles {
			if r == role {
				s += l.letter
				break
			}
		}
	}
	return s
}

// Roles returns every role named in an activity, in order of appearance.
func Roles(a *config.Activity) []string {
	var out []string
	seen := map[string]bool{}
	for _, list := range [][]string{a.R, a.A, a.C, a.I} {
		for _, r := range list {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	return out
}
