package onus

import (
	"context"
	"strings"
	"time"
)

// Member statuses, as the people directory says.
const (
	MemberActive   = "active"
	MemberOnLeave  = "on_leave"
	MemberDeparted = "departed"
)

// Member is someone the people directory knows: a person of the
// inventory, as the latest evaluation saw them.
type Member struct {
	Email   string    `json:"email"`
	Name    string    `json:"name"`
	Entity  string    `json:"entity"`
	Status  string    `json:"status"`
	LeftOn  time.Time `json:"left_on,omitzero"`
	Manager string    `json:"manager,omitempty"` // e-mail
	Team    string    `json:"team,omitempty"`    // HR team (department) name
	// TimeZone is an IANA zone; Channel the preferred message channel.
	TimeZone string `json:"time_zone,omitempty"`
	Channel  string `json:"channel,omitempty"`
}

// Working reports whether the person can act: not departed.
func (p *Member) Working() bool { return p != nil && p.Status != MemberDeparted }

// Directory is the people roles resolve to.
type Directory struct {
	People map[string]*Member // by e-mail
	// Loaded is false when no people data is available (nothing synced):
	// checks that need people are then skipped, not failed.
	Loaded bool
}

// NewDirectory returns a directory of the given people.
func NewDirectory(people []*Member) *Directory {
	d := &Directory{People: map[string]*Member{}, Loaded: true}
	for _, p := range people {
		d.People[strings.ToLower(p.Email)] = p
	}
	return d
}

// Person returns the person with an e-mail address, or nil.
func (d *Directory) Person(email string) *Member {
	if d == nil {
		return nil
	}
	return d.People[strings.ToLower(strings.TrimSpace(email))]
}

// Asset is something a person is the owner of.
type Asset struct {
	Person string `json:"-"`
	Entity string `json:"entity"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	// Link is how the asset points at the person ("owner", "person").
	Link string `json:"link"`
}

// DirectoryService keeps the people directory and their assets as the
// latest evaluation saw them. Every method returns an error wrapping its
// cause, with EINTERNAL for a storage failure.
type DirectoryService interface {
	// ReplaceDirectory replaces the people and assets, all or nothing.
	ReplaceDirectory(ctx context.Context, people []*Member, assets []Asset) error
	// Directory returns the people; it is empty, with Loaded false,
	// before the first evaluation.
	Directory(ctx context.Context) (*Directory, error)
	// Person returns one person by e-mail; ENOTFOUND when there is none.
	Person(ctx context.Context, email string) (*Member, error)
	// Assets returns what a person owns.
	Assets(ctx context.Context, email string) ([]Asset, error)
	// Reports returns the e-mails of the working people who report to a
	// manager.
	Reports(ctx context.Context, manager string) ([]string, error)
}
