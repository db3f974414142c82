package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/onus-sec/onus"
)

// ReplaceDirectory stores the people directory and the assets of the
// latest evaluation, replacing the previous ones.
func (s *DB) ReplaceDirectory(ctx context.Context, people []*onus.Member, assets []onus.Asset) error {
	// Rows are inserted in key order: each insert then lands next to the
	// last one in the table's B-tree, instead of on a random page that,
	// at 100,000 people, is no longer in SQLite's cache. The sort is
	// stable, so where keys repeat the last row still wins.
	people = slices.Clone(people)
	slices.SortStableFunc(people, func(a, b *onus.Member) int { return strings.Compare(a.Email, b.Email) })
	assets = slices.Clone(assets)
	slices.SortStableFunc(assets, func(a, b onus.Asset) int {
		return cmp.Or(strings.Compare(a.Person, b.Person), strings.Compare(a.Entity, b.Entity), strings.Compare(a.Link, b.Link))
	})
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM people`); err != nil {
			return fmt.Errorf("store: replace directory: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM assets`); err != nil {
			return fmt.Errorf("store: replace directory: %w", err)
		}
		ps, err := tx.PrepareContext(ctx, `INSERT INTO people (email, name, entity, status, left_on, manager, team, time_zone, channel) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (email) DO UPDATE SET name = excluded.name, entity = excluded.entity, status = excluded.status, left_on = excluded.left_on,
			manager = excluded.manager, team = excluded.team, time_zone = excluded.time_zone, channel = excluded.channel`)
		if err != nil {
			return fmt.Errorf("store: replace directory: %w", err)
		}
		defer ps.Close()
		for _, p := range people {
			var left any
			if !p.LeftOn.IsZero() {
				left = fmtTime(p.LeftOn)
			}
			if _, err := ps.ExecContext(ctx, p.Email, p.Name, p.Entity, p.Status, left, p.Manager, p.Team, p.TimeZone, p.Channel); err != nil {
				return fmt.Errorf("store: people: %w", err)
			}
		}
		as, err := tx.PrepareContext(ctx, `INSERT INTO assets (person, entity, kind, name, link) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (person, entity, link) DO UPDATE SET kind = excluded.kind, name = excluded.name`)
		if err != nil {
			return fmt.Errorf("store: replace directory: %w", err)
		}
		defer as.Close()
		for _, a := range assets {
			if _, err := as.ExecContext(ctx, a.Person, a.Entity, a.Kind, a.Name, a.Link); err != nil {
				return fmt.Errorf("store: assets: %w", err)
			}
		}
		return rebuildTeamSummary(ctx, tx, s.pg)
	})
}

// Directory loads the people directory of the latest evaluation. It is
// empty (Loaded false) before the first evaluation.
func (s *DB) Directory(ctx context.Context) (*onus.Directory, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT email, name, entity, status, COALESCE(left_on, ''), manager, team, time_zone, channel FROM people`)
	if err != nil {
		return nil, fmt.Errorf("store: directory: %w", err)
	}
	defer rows.Close()
	var people []*onus.Member
	for rows.Next() {
		var p onus.Member
		var left string
		if err := rows.Scan(&p.Email, &p.Name, &p.Entity, &p.Status, &left, &p.Manager, &p.Team, &p.TimeZone, &p.Channel); err != nil {
			return nil, fmt.Errorf("store: directory: %w", err)
		}
		if left != "" {
			p.LeftOn = parseTime(left)
		}
		people = append(people, &p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: directory: %w", err)
	}
	d := onus.NewDirectory(people)
	d.Loaded = len(people) > 0
	return d, nil
}

// Person returns one person of the directory.
func (s *DB) Person(ctx context.Context, email string) (*onus.Member, error) {
	var p onus.Member
	var left string
	err := s.db.QueryRowContext(ctx, `SELECT email, name, entity, status, COALESCE(left_on, ''), manager, team, time_zone, channel FROM people WHERE email = ?`,
		strings.ToLower(strings.TrimSpace(email))).Scan(&p.Email, &p.Name, &p.Entity, &p.Status, &left, &p.Manager, &p.Team, &p.TimeZone, &p.Channel)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, onus.Errorf(onus.ENOTFOUND, "nobody with the e-mail address %s in the last evaluation", email)
	}
	if err != nil {
		return nil, fmt.Errorf("store: person: %w", err)
	}
	if left != "" {
		p.LeftOn = parseTime(left)
	}
	return &p, nil
}

// Assets returns what a person owns.
func (s *DB) Assets(ctx context.Context, email string) ([]onus.Asset, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT person, entity, kind, name, link FROM assets WHERE person = ? ORDER BY kind, name`, strings.ToLower(email))
	if err != nil {
		return nil, fmt.Errorf("store: assets: %w", err)
	}
	defer rows.Close()
	var out []onus.Asset
	for rows.Next() {
		var a onus.Asset
		if err := rows.Scan(&a.Person, &a.Entity, &a.Kind, &a.Name, &a.Link); err != nil {
			return nil, fmt.Errorf("store: assets: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Reports returns the e-mails of the people who report to a manager.
func (s *DB) Reports(ctx context.Context, manager string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT email FROM people WHERE manager = ? AND status != 'departed' ORDER BY email`, strings.ToLower(manager))
	if err != nil {
		return nil, fmt.Errorf("store: reports: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, fmt.Errorf("store: reports: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
