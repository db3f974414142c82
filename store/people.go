package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/onus-sec/onus"
)

// ReplaceDirectory stores the people directory and the assets of the
// latest evaluation, replacing the previous ones. Only the difference is
// written: rows that did not change are left alone, so a re-run in which
// few people or devices changed writes few rows (a 100,000-person
// directory rewritten in full is most of an unchanged run's persist time),
// and a directory whose digest is the one last written is not compared
// row by row at all.
func (s *DB) ReplaceDirectory(ctx context.Context, people []*onus.Member, assets []onus.Asset) error {
	digest := directoryDigest(people, assets)
	type personRow struct {
		name, entity, status, left, manager, team, tz, channel string
	}
	type assetKey struct{ person, entity, link string }
	type assetRow struct{ kind, name string }
	wantP := make(map[string]personRow, len(people))
	for _, p := range people {
		var left string
		if !p.LeftOn.IsZero() {
			left = fmtTime(p.LeftOn)
		}
		wantP[p.Email] = personRow{p.Name, p.Entity, p.Status, left, p.Manager, p.Team, p.TimeZone, p.Channel}
	}
	wantA := make(map[assetKey]assetRow, len(assets))
	for _, a := range assets {
		wantA[assetKey{a.Person, a.Entity, a.Link}] = assetRow{a.Kind, a.Name}
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		// The same directory as the last one written: nothing to do.
		var stored string
		if err := tx.QueryRowContext(ctx, `SELECT digest FROM directory_digest WHERE id = 1`).Scan(&stored); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: directory digest: %w", err)
		}
		if stored == digest {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO directory_digest (id, digest) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET digest = excluded.digest`, digest); err != nil {
			return fmt.Errorf("store: directory digest: %w", err)
		}
		del, err := tx.PrepareContext(ctx, `DELETE FROM people WHERE email = ?`)
		if err != nil {
			return err
		}
		defer del.Close()
		rows, err := tx.QueryContext(ctx, `SELECT email, name, entity, status, COALESCE(left_on, ''), manager, team, time_zone, channel FROM people`)
		if err != nil {
			return fmt.Errorf("store: people: %w", err)
		}
		var gone []string
		for rows.Next() {
			var email string
			var r personRow
			if err := rows.Scan(&email, &r.name, &r.entity, &r.status, &r.left, &r.manager, &r.team, &r.tz, &r.channel); err != nil {
				rows.Close()
				return fmt.Errorf("store: people: %w", err)
			}
			if w, ok := wantP[email]; !ok {
				gone = append(gone, email)
			} else if w == r {
				delete(wantP, email) // stored as it is
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: people: %w", err)
		}
		for _, email := range gone {
			if _, err := del.ExecContext(ctx, email); err != nil {
				return fmt.Errorf("store: people: %w", err)
			}
		}
		ps, err := s.newBatch(ctx, tx, "people", []string{"email", "name", "entity", "status", "left_on", "manager", "team", "time_zone", "channel"},
			`ON CONFLICT (email) DO UPDATE SET name = excluded.name, entity = excluded.entity, status = excluded.status, left_on = excluded.left_on,
			manager = excluded.manager, team = excluded.team, time_zone = excluded.time_zone, channel = excluded.channel`)
		if err != nil {
			return fmt.Errorf("store: replace directory: %w", err)
		}
		defer ps.close()
		// In key order: each insert lands next to the last one in the
		// table's B-tree instead of on a random page that, at 100,000
		// people, is no longer in SQLite's cache.
		for _, email := range slices.Sorted(maps.Keys(wantP)) {
			p := wantP[email]
			var left any
			if p.left != "" {
				left = p.left
			}
			if err := ps.add(ctx, email, p.name, p.entity, p.status, left, p.manager, p.team, p.tz, p.channel); err != nil {
				return fmt.Errorf("store: people: %w", err)
			}
		}
		if err := ps.flush(ctx); err != nil {
			return fmt.Errorf("store: people: %w", err)
		}

		delA, err := tx.PrepareContext(ctx, `DELETE FROM assets WHERE person = ? AND entity = ? AND link = ?`)
		if err != nil {
			return err
		}
		defer delA.Close()
		arows, err := tx.QueryContext(ctx, `SELECT person, entity, link, kind, name FROM assets`)
		if err != nil {
			return fmt.Errorf("store: assets: %w", err)
		}
		var goneA []assetKey
		for arows.Next() {
			var k assetKey
			var r assetRow
			if err := arows.Scan(&k.person, &k.entity, &k.link, &r.kind, &r.name); err != nil {
				arows.Close()
				return fmt.Errorf("store: assets: %w", err)
			}
			if w, ok := wantA[k]; !ok {
				goneA = append(goneA, k)
			} else if w == r {
				delete(wantA, k)
			}
		}
		arows.Close()
		if err := arows.Err(); err != nil {
			return fmt.Errorf("store: assets: %w", err)
		}
		for _, k := range goneA {
			if _, err := delA.ExecContext(ctx, k.person, k.entity, k.link); err != nil {
				return fmt.Errorf("store: assets: %w", err)
			}
		}
		as, err := s.newBatch(ctx, tx, "assets", []string{"person", "entity", "kind", "name", "link"},
			`ON CONFLICT (person, entity, link) DO UPDATE SET kind = excluded.kind, name = excluded.name`)
		if err != nil {
			return fmt.Errorf("store: replace directory: %w", err)
		}
		defer as.close()
		keys := slices.SortedFunc(maps.Keys(wantA), func(a, b assetKey) int {
			return cmp.Or(strings.Compare(a.person, b.person), strings.Compare(a.entity, b.entity), strings.Compare(a.link, b.link))
		})
		for _, k := range keys {
			a := wantA[k]
			if err := as.add(ctx, k.person, k.entity, a.kind, a.name, k.link); err != nil {
				return fmt.Errorf("store: assets: %w", err)
			}
		}
		if err := as.flush(ctx); err != nil {
			return fmt.Errorf("store: assets: %w", err)
		}
		return rebuildTeamSummary(ctx, tx, s.pg)
	})
}

// directoryDigest is a digest of a directory and its assets, whatever
// their order: the sum, in two 64-bit lanes, of each row's SHA-256 (its
// fields length-prefixed). Summing instead of sorting the rows first
// keeps it to a few tens of milliseconds at 100,000 people.
func directoryDigest(people []*onus.Member, assets []onus.Asset) string {
	var lo, hi uint64
	var buf []byte
	add := func(fields ...string) {
		for _, v := range fields {
			buf = binary.AppendUvarint(buf, uint64(len(v)))
			buf = append(buf, v...)
		}
		sum := sha256.Sum256(buf)
		lo += binary.LittleEndian.Uint64(sum[:8])
		hi += binary.LittleEndian.Uint64(sum[8:16])
	}
	for _, p := range people {
		var left string
		if !p.LeftOn.IsZero() {
			left = fmtTime(p.LeftOn)
		}
		buf = append(buf[:0], 'p')
		add(p.Email, p.Name, p.Entity, p.Status, left, p.Manager, p.Team, p.TimeZone, p.Channel)
	}
	for _, a := range assets {
		buf = append(buf[:0], 'a')
		add(a.Person, a.Entity, a.Link, a.Kind, a.Name)
	}
	return fmt.Sprintf("%d:%d:%016x%016x", len(people), len(assets), hi, lo)
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
