package evaluate

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/common/types"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/identity"
	"github.com/onus-sec/onus/inventory"
	"github.com/onus-sec/onus/policy"
	"github.com/onus-sec/onus/raci"
)

// Directory builds the people directory of an inventory: each person's
// status (departed, on leave), when they left, their manager and team.
func Directory(inv *inventory.Inventory, c *Compiled) *raci.Directory {
	cfg := c.Config
	sess := c.Env.NewSession(inv)
	var people []*raci.Person
	for _, e := range inv.OfKind(cfg.PersonKind()) {
		email := keyOf(inv, e, "email")
		if email == "" {
			continue // a person nobody can be told about
		}
		p := &raci.Person{Email: email, Name: inv.Name(e), Entity: inv.ID(e), Status: raci.Active}
		if c.Departed != nil {
			if d, err := sess.EvalBool(c.Departed, e); err == nil && d {
				p.Status = raci.Departed
			}
		}
		if p.Status == raci.Active && c.OnLeave != nil {
			if l, err := sess.EvalBool(c.OnLeave, e); err == nil && l {
				p.Status = raci.OnLeave
			}
		}
		if p.Status == raci.Departed && c.LeftOn != nil {
			if v, err := sess.Eval(c.LeftOn, e); err == nil {
				if ts, ok := v.(types.Timestamp); ok {
					p.LeftOn = ts.Time
				}
			}
		}
		p.TimeZone = evalString(sess, c.TimeZone, e)
		p.Channel = evalString(sess, c.Channel, e)
		if m, ok := inv.Link(e, cfg.ManagerLink()); ok {
			p.Manager = keyOf(inv, m, "email")
		}
		if t, ok := inv.Link(e, cfg.TeamLink()); ok {
			p.Team = inv.Name(t)
		}
		people = append(people, p)
	}
	return raci.NewDirectory(people)
}

// evalString evaluates an optional expression that gives a string; an
// expression that fails or gives something else counts as absent.
func evalString(sess *policy.Session, p *policy.Program, e int32) string {
	if p == nil {
		return ""
	}
	v, err := sess.Eval(p, e)
	if err != nil {
		return ""
	}
	if s, ok := v.(types.String); ok {
		return string(s)
	}
	return ""
}

func keyOf(inv *inventory.Inventory, e int32, key string) string {
	return inv.Key(e, key)
}

// Assignment is who holds each letter of the matrix for one finding.
type Assignment struct {
	Ownership
	Accountable onus.Person
	// AccountableGap is set when the activity's A resolves to nobody.
	AccountableGap bool
	Consulted      []string
	Informed       []string
}

// owners finds the one Responsible person for a failing entity:
//
//  1. the control's owner expression (a person, or an e-mail address);
//  2. when that person has left, their manager, up the chain, then their
//     team's lead;
//  3. otherwise the Responsible roles of the control's activity, resolved
//     for the entity (a named person, a team's lead, the asset owner, the
//     asset owner's manager or team lead);
//  4. otherwise the fallback contact, and the finding is an ownership gap.
//
// It also resolves the activity's Accountable, Consulted and Informed.
type owners struct {
	inv    *inventory.Inventory
	c      *Compiled
	m      *raci.Matrix
	person string
	limit  int
	norm   *identity.Normalizer
}

func newOwners(inv *inventory.Inventory, c *Compiled, m *raci.Matrix) *owners {
	cfg := c.Config
	limit := cfg.Ownership.ChainLimit
	if limit == 0 {
		limit = config.DefaultChainLimit
	}
	return &owners{inv: inv, c: c, m: m, person: cfg.PersonKind(), limit: limit,
		norm: identity.New(identity.Options{EmailAliases: cfg.Identity.EmailAliases, StripPlus: cfg.Identity.StripPlus})}
}

func (o *owners) resolve(sess *policy.Session, ctl *Control, e int32) Assignment {
	var why []string
	var a Assignment
	subject := raci.Subject{AssetOwner: o.assetOwner(e)}
	found := false
	if ctl.Owner != nil {
		role := "owner (" + strings.TrimSpace(ctl.Owner.Expr.Src) + ")"
		v, err := sess.Eval(ctl.Owner, e)
		email := ""
		switch {
		case err != nil:
			why = append(why, "owner expression: "+cleanErr(err))
		default:
			if p, ok := policy.EntityOf(v); ok {
				if o.inv.Kind(p) != o.person {
					why = append(why, fmt.Sprintf("the owner expression gave a %s, not a person", o.inv.Kind(p)))
				} else if email = keyOf(o.inv, p, "email"); email == "" {
					why = append(why, "the owner has no e-mail address")
				}
			} else if s, ok := v.(types.String); ok {
				if email = o.norm.Normalize("email", string(s)); email == "" {
					why = append(why, fmt.Sprintf("%q is not an e-mail address", string(s)))
				}
			} else {
				why = append(why, fmt.Sprintf("the owner expression returned %s, not a person", v.Type().TypeName()))
			}
		}
		if email != "" {
			// The owner expression says whose asset this is.
			subject.AssetOwner = email
			r, err := o.m.Handover(email, o.limit)
			if err != nil {
				why = append(why, err.Error())
			} else {
				reason := r.Reason
				if reason == "" {
					reason = role
				} else if reason == "not in any people source" {
					reason = role + ", " + reason
				}
				a.Person, a.Reason, found = r.Person, reason, true
			}
		}
	}
	act := o.m.Activity(ctl.Activity)
	if !found {
		if act == nil {
			if ctl.Activity != "" {
				why = append(why, fmt.Sprintf("activity %s is not in the matrix", ctl.Activity))
			}
		} else if r, whyR := o.m.First(o.m.Responsible(act), subject, o.limit); r.Person.Email != "" {
			reason := r.Reason
			a.Person, a.Reason, found = r.Person, "Responsible for "+act.ID+": "+reason, true
		} else {
			why = append(why, whyR...)
		}
	}
	if !found {
		reason := "nobody found"
		if len(why) > 0 {
			reason = strings.Join(why, "; ")
		}
		a.Gap = true
		if fb := o.c.Config.Ownership.Fallback; fb != "" {
			a.Person, a.Reason = onus.Person{Email: fb}, "ownership gap, sent to the fallback contact: "+reason
		} else {
			a.Reason = "ownership gap: " + reason
		}
	}
	if act != nil {
		if r, _ := o.m.First(act.A, subject, o.limit); r.Person.Email != "" {
			a.Accountable = r.Person
		} else {
			a.AccountableGap = true
		}
		a.Consulted = o.m.People(act.C, subject, o.limit)
		a.Informed = o.m.People(act.I, subject, o.limit)
	} else {
		a.AccountableGap = true
	}
	return a
}

// assetOwner is the e-mail of the person an entity belongs to: itself for
// a person, its "owner" link otherwise.
func (o *owners) assetOwner(e int32) string {
	if o.inv.Kind(e) == o.person {
		return keyOf(o.inv, e, "email")
	}
	if p, ok := o.inv.Link(e, "owner"); ok {
		return keyOf(o.inv, p, "email")
	}
	return ""
}
