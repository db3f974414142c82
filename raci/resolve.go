package raci

import (
	"fmt"
	"strings"

	"github.com/onus-sec/onus"
)

// DefaultChainLimit bounds how far up the management chain a role moves
// when people have left.
const DefaultChainLimit = 3

// Subject is what relative roles are resolved from: the finding's entity.
type Subject struct {
	// AssetOwner is the e-mail of the person the entity belongs to (for a
	// person, the person), or "".
	AssetOwner string
}

// Resolved is one person a role resolved to, and why.
type Resolved struct {
	Person onus.Person
	Reason string
}

// person returns the onus.Person for an e-mail.
func (m *Matrix) person(email string) onus.Person {
	p := m.Dir.Person(email)
	if p == nil {
		return onus.Person{Email: strings.ToLower(email)}
	}
	return onus.Person{Email: strings.ToLower(p.Email), Name: p.Name, Entity: p.Entity}
}

func leftOn(p *Person) string {
	if p.LeftOn.IsZero() {
		return "who left"
	}
	return "who left on " + p.LeftOn.Format("2 Jan 2006")
}

// Handover returns email, or, when that person has left, the nearest
// working person up their management chain, then their team's lead. A
// person the directory does not know is taken at their word.
func (m *Matrix) Handover(email string, limit int) (Resolved, error) {
	if limit <= 0 {
		limit = DefaultChainLimit
	}
	p := m.Dir.Person(email)
	if p == nil {
		return Resolved{Person: onus.Person{Email: strings.ToLower(email)}, Reason: "not in any people source"}, nil
	}
	if p.Working() {
		return Resolved{Person: m.person(p.Email)}, nil
	}
	first := p
	var chain []string
	for step := 0; step < limit; step++ {
		chain = append(chain, p.Email)
		next := m.Dir.Person(p.Manager)
		if next == nil {
			break
		}
		if next.Working() {
			reason := fmt.Sprintf("manager of %s (%s)", first.Email, leftOn(first))
			if len(chain) > 1 {
				reason = fmt.Sprintf("manager %d levels up from %s (%s; so did %s)", len(chain), first.Email, leftOn(first), strings.Join(chain[1:], ", "))
			}
			return Resolved{Person: m.person(next.Email), Reason: reason}, nil
		}
		p = next
	}
	// No working manager: the lead of the team the person was in.
	if t := m.Team(first.Team); t != nil && t.Lead != "" && t.Lead != strings.ToLower(first.Email) {
		if lead := m.Dir.Person(t.Lead); lead == nil || lead.Working() {
			return Resolved{Person: m.person(t.Lead), Reason: fmt.Sprintf("lead of %s, the team of %s (%s, with no working manager)", t.Name, first.Email, leftOn(first))}, nil
		}
	}
	return Resolved{}, fmt.Errorf("%s left and nobody above them or in their team can take over", first.Email)
}

// Resolve resolves one role of an activity to one working person: a named
// person, a team's lead, or a relative role. It returns an error saying
// why when the role ends in nobody.
func (m *Matrix) Resolve(role string, s Subject, limit int) (Resolved, error) {
	switch {
	case strings.Contains(role, "@"):
		r, err := m.Handover(role, limit)
		if err == nil && r.Reason == "" {
			r.Reason = "named in the matrix"
		}
		return r, err
	case role == AssetOwner:
		if s.AssetOwner == "" {
			return Resolved{}, fmt.Errorf("no asset owner on record")
		}
		r, err := m.Handover(s.AssetOwner, limit)
		if err == nil && r.Reason == "" {
			r.Reason = "asset owner"
		}
		return r, err
	case role == Manager:
		owner := m.Dir.Person(s.AssetOwner)
		if owner == nil || owner.Manager == "" {
			return Resolved{}, fmt.Errorf("no manager of the asset owner on record")
		}
		r, err := m.Handover(owner.Manager, limit)
		if err == nil && r.Reason == "" {
			r.Reason = "manager of " + owner.Email
		}
		return r, err
	case role == TeamLead:
		owner := m.Dir.Person(s.AssetOwner)
		if owner == nil || owner.Team == "" {
			return Resolved{}, fmt.Errorf("no team of the asset owner on record")
		}
		t := m.Team(owner.Team)
		if t == nil || t.Lead == "" {
			return Resolved{}, fmt.Errorf("team %s has no lead", owner.Team)
		}
		r, err := m.Handover(t.Lead, limit)
		if err == nil && r.Reason == "" {
			r.Reason = "lead of " + t.Name + ", the team of " + owner.Email
		}
		return r, err
	}
	t := m.Team(role)
	if t == nil {
		return Resolved{}, fmt.Errorf("role %s is not a team, a person or a relative role", role)
	}
	if t.Lead == "" {
		return Resolved{}, fmt.Errorf("team %s has no lead", t.Name)
	}
	r, err := m.Handover(t.Lead, limit)
	if err == nil && r.Reason == "" {
		r.Reason = "lead of " + t.Name
	}
	return r, err
}

// First resolves the first role of a list that ends in a person.
func (m *Matrix) First(roles []string, s Subject, limit int) (Resolved, []string) {
	var why []string
	for _, role := range roles {
		r, err := m.Resolve(role, s, limit)
		if err == nil {
			return r, why
		}
		why = append(why, err.Error())
	}
	return Resolved{}, why
}

// People resolves every role of a list to people, for Consulted and
// Informed: teams to their leads. Roles that end in nobody are skipped.
func (m *Matrix) People(roles []string, s Subject, limit int) []string {
	var out []string
	seen := map[string]bool{}
	for _, role := range roles {
		r, err := m.Resolve(role, s, limit)
		if err != nil || r.Person.Email == "" || seen[r.Person.Email] {
			continue
		}
		seen[r.Person.Email] = true
		out = append(out, r.Person.Email)
	}
	return out
}

// Responsible returns the roles that are Responsible for an activity:
// its R, or its A when it has no R and the matrix says so.
func (m *Matrix) Responsible(a *Activity) []string {
	if len(a.R) == 0 && m.Options.AccountableIsResponsible {
		return a.A
	}
	return a.R
}
