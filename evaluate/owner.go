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
)

// owners finds the one Responsible person for a failing entity:
//
//  1. the control's owner expression (a person, or an e-mail address);
//  2. when that person has left, their manager, up the chain;
//  3. otherwise the Responsible role of the control's activity in the
//     matrix (a named person, a team's lead, or the asset owner);
//  4. otherwise the fallback contact, and the finding is an ownership gap.
type owners struct {
	inv      *inventory.Inventory
	c        *Compiled
	person   string
	manager  string
	limit    int
	departed map[int32]bool
	norm     *identity.Normalizer
}

func newOwners(inv *inventory.Inventory, c *Compiled) *owners {
	cfg := c.Config
	limit := cfg.Ownership.ChainLimit
	if limit == 0 {
		limit = config.DefaultChainLimit
	}
	return &owners{
		inv: inv, c: c, person: cfg.PersonKind(), manager: cfg.ManagerLink(), limit: limit,
		departed: map[int32]bool{},
		norm:     identity.New(identity.Options{EmailAliases: cfg.Identity.EmailAliases, StripPlus: cfg.Identity.StripPlus}),
	}
}

func (o *owners) resolve(sess *policy.Session, ctl *Control, e int32) Ownership {
	var why []string
	if ctl.Owner != nil {
		v, err := sess.Eval(ctl.Owner, e)
		switch {
		case err != nil:
			why = append(why, "owner expression: "+cleanErr(err))
		default:
			if p, ok := policy.EntityOf(v); ok {
				if own, ok := o.active(sess, p, "owner ("+strings.TrimSpace(ctl.Owner.Expr.Src)+")", &why); ok {
					return own
				}
			} else if s, ok := v.(types.String); ok {
				if own, ok := o.byEmail(sess, string(s), "named by the control", &why); ok {
					return own
				}
			} else {
				why = append(why, fmt.Sprintf("owner expression returned %s, not a person", v.Type().TypeName()))
			}
		}
	}
	if own, ok := o.fromMatrix(sess, ctl, e, &why); ok {
		return own
	}
	reason := "nobody found"
	if len(why) > 0 {
		reason = strings.Join(why, "; ")
	}
	if fb := o.c.Config.Ownership.Fallback; fb != "" {
		return Ownership{Person: onus.Person{Email: fb}, Reason: "ownership gap, sent to the fallback contact: " + reason, Gap: true}
	}
	return Ownership{Reason: "ownership gap: " + reason, Gap: true}
}

// active returns p, or their nearest manager who has not left.
func (o *owners) active(sess *policy.Session, p int32, role string, why *[]string) (Ownership, bool) {
	var chain []string
	for step := 0; step <= o.limit; step++ {
		if o.inv.Kind(p) != o.person {
			*why = append(*why, fmt.Sprintf("the %s is a %s, not a person", role, o.inv.Kind(p)))
			return Ownership{}, false
		}
		if !o.isDeparted(sess, p) {
			reason := role
			if len(chain) > 0 {
				reason = "manager of " + strings.Join(chain, ", manager of ") + " (who left)"
				if len(chain) > 1 {
					reason = fmt.Sprintf("%s, %d levels up from %s who left", "manager", len(chain), chain[0])
				}
			}
			return Ownership{Person: o.personOf(p), Reason: reason}, true
		}
		chain = append(chain, o.email(p))
		m, ok := o.inv.Link(p, o.manager)
		if !ok {
			*why = append(*why, fmt.Sprintf("%s %s left and has no manager on record", role, o.email(p)))
			return Ownership{}, false
		}
		p = m
	}
	*why = append(*why, fmt.Sprintf("%s and %d managers above have left", chain[0], o.limit))
	return Ownership{}, false
}

func (o *owners) byEmail(sess *policy.Session, raw, role string, why *[]string) (Ownership, bool) {
	email := o.norm.Normalize("email", raw)
	if email == "" {
		*why = append(*why, fmt.Sprintf("%q is not an e-mail address", raw))
		return Ownership{}, false
	}
	if p, ok := o.inv.Lookup(o.person, "email", email); ok {
		return o.active(sess, p, role, why)
	}
	// A named contact outside the people sources (a shared mailbox) is
	// taken at its word: it was written down on purpose.
	return Ownership{Person: onus.Person{Email: email}, Reason: role + " (not in any people source)"}, true
}

// fromMatrix resolves the Responsible role of the control's activity.
func (o *owners) fromMatrix(sess *policy.Session, ctl *Control, e int32, why *[]string) (Ownership, bool) {
	raci := o.c.Config.RACI
	act := raci.Activity(ctl.Activity)
	if act == nil {
		if ctl.Activity != "" {
			*why = append(*why, fmt.Sprintf("activity %s is not in the matrix", ctl.Activity))
		}
		return Ownership{}, false
	}
	for _, role := range act.R {
		switch {
		case strings.Contains(role, "@"):
			if own, ok := o.byEmail(sess, role, "Responsible for "+act.ID, why); ok {
				return own, true
			}
		case role == "asset-owner":
			if p, ok := o.assetOwner(e); ok {
				if own, ok := o.active(sess, p, "asset owner", why); ok {
					return own, true
				}
			} else {
				*why = append(*why, "no asset owner on record")
			}
		case role == "manager":
			if p, ok := o.assetOwner(e); ok {
				if m, ok := o.inv.Link(p, o.manager); ok {
					if own, ok := o.active(sess, m, "manager of the asset owner", why); ok {
						return own, true
					}
				}
			}
			*why = append(*why, "no manager of the asset owner on record")
		default:
			if t := raci.Teams[role]; t != nil && t.Lead != "" {
				if own, ok := o.byEmail(sess, t.Lead, "lead of "+role+", Responsible for "+act.ID, why); ok {
					return own, true
				}
			} else {
				*why = append(*why, fmt.Sprintf("role %s of %s has no lead", role, act.ID))
			}
		}
	}
	return Ownership{}, false
}

// assetOwner is the person an entity belongs to: itself for a person, its
// "owner" link otherwise.
func (o *owners) assetOwner(e int32) (int32, bool) {
	if o.inv.Kind(e) == o.person {
		return e, true
	}
	return o.inv.Link(e, "owner")
}

func (o *owners) isDeparted(sess *policy.Session, p int32) bool {
	if o.c.Departed == nil {
		return false
	}
	if d, ok := o.departed[p]; ok {
		return d
	}
	d, err := sess.EvalBool(o.c.Departed, p)
	// A person whose status cannot be read is treated as present: the
	// finding stays with them rather than jumping to someone else.
	d = err == nil && d
	o.departed[p] = d
	return d
}

func (o *owners) email(p int32) string {
	for _, k := range o.inv.Keys(p) {
		if k.Name == "email" {
			return k.Value
		}
	}
	return o.inv.ID(p)
}

func (o *owners) personOf(p int32) onus.Person {
	return onus.Person{Email: o.email(p), Name: o.inv.Name(p), Entity: o.inv.ID(p)}
}
