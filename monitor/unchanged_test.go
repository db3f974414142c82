package monitor_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/monitor"
)

// snapshotIDs returns the id of each source's snapshot in force, read
// from the SQLite file itself.
func (e *env) snapshotIDs() map[string]int64 {
	e.t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(e.dir, "onus.db"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT source, snapshot_id FROM source_state`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var id int64
		if err := rows.Scan(&s, &id); err != nil {
			e.t.Fatal(err)
		}
		out[s] = id
	}
	return out
}

func unchangedOf(rep *monitor.SyncReport) (unchanged, read []string) {
	for _, s := range rep.Sources {
		if s.Unchanged {
			unchanged = append(unchanged, s.Source)
		} else {
			read = append(read, s.Source)
		}
	}
	return unchanged, read
}

// A file touched but not changed is hashed, found identical and not read
// again; its snapshot in force stays, with the counts of the sync that
// read it. --reread reads it anyway.
func TestTouchedButIdenticalIsSkipped(t *testing.T) {
	e := newEnv(t)
	first, _ := e.run(0)
	if u, _ := unchangedOf(first); len(u) != 0 {
		t.Fatalf("first sync: unchanged %v", u)
	}
	ids := e.snapshotIDs()
	// A new modification time well after the last sync, so that size and
	// time alone cannot say the file is the same.
	later := time.Now().Add(time.Hour)
	for _, f := range []string{"hr/people.csv", "okta/users.json"} {
		if err := os.Chtimes(filepath.Join(e.dir, "exports", f), later, later); err != nil {
			t.Fatal(err)
		}
	}
	srep, erep := e.run(time.Hour)
	unchanged, read := unchangedOf(srep)
	if len(read) != 0 || len(unchanged) != len(first.Sources) {
		t.Fatalf("unchanged %v, read %v: want every source unchanged", unchanged, read)
	}
	if got := e.snapshotIDs(); !mapsEqual(got, ids) {
		t.Errorf("snapshots in force %v → %v: an unchanged source must keep its snapshot", ids, got)
	}
	for i, s := range srep.Sources {
		if s.Records != first.Sources[i].Records || s.Bad != first.Sources[i].Bad || s.Status != onus.SyncOK {
			t.Errorf("%s: %d records, %d bad, %s; the read had %d, %d", s.Source, s.Records, s.Bad, s.Status, first.Sources[i].Records, first.Sources[i].Bad)
		}
	}
	if ch := erep.Changes; ch.Opened+ch.Resolved+ch.Gone+ch.Reopened+ch.Reassigned != 0 {
		t.Errorf("changes = %+v, want none", ch)
	}
	states, err := e.db.SourceStates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st := states["hr"]; !st.Healthy || st.Good == nil || !st.Good.Unchanged || st.Good.ID != st.Last.ID {
		t.Errorf("hr state = %+v, want healthy with the unchanged sync as its good one", st)
	}
	// The second time, size and time match what the last sync recorded:
	// still unchanged, without hashing.
	again, _ := e.run(2 * time.Hour)
	if _, read := unchangedOf(again); len(read) != 0 {
		t.Errorf("third sync read %v", read)
	}
	m := e.monitor()
	rr, err := m.Sync(context.Background(), monitor.SyncOptions{Reread: true})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := unchangedOf(rr); len(u) != 0 {
		t.Errorf("--reread left %v unread", u)
	}
}

// A re-run after one export changed reads only that export, and ends with
// the findings a run from scratch on the same exports has.
func TestIncrementalRunEqualsFullRun(t *testing.T) {
	inc := newEnv(t)
	inc.run(0)
	ids := inc.snapshotIDs()
	// 1% of Okta's users differ: two active accounts are suspended, and
	// one deprovisioned account is active again.
	change := func(s string) string {
		n := 0
		s = replaceN(s, `"status": "ACTIVE"`, `"status": "SUSPENDED"`, 2, &n)
		return replaceN(s, `"status": "DEPROVISIONED"`, `"status": "ACTIVE"`, 1, &n)
	}
	inc.edit("okta/users.json", change)
	srep, erep := inc.run(time.Hour)
	if erep.Changes.Opened+erep.Changes.Resolved == 0 {
		t.Errorf("changes = %+v: the edit should open or resolve findings", erep.Changes)
	}
	unchanged, read := unchangedOf(srep)
	if !slices.Equal(read, []string{"okta"}) || len(unchanged) != len(srep.Sources)-1 {
		t.Fatalf("read %v, unchanged %v: want only okta read", read, unchanged)
	}
	got := inc.snapshotIDs()
	for src, id := range ids {
		if (got[src] != id) != (src == "okta") {
			t.Errorf("%s: snapshot %d → %d", src, id, got[src])
		}
	}

	full := newEnv(t)
	full.edit("okta/users.json", change)
	full.run(time.Hour)
	if a, b := keysOf(inc.findings(onus.StateOpen)), keysOf(full.findings(onus.StateOpen)); !slices.Equal(a, b) {
		t.Errorf("open findings differ:\nincremental %d: %v\nfull        %d: %v", len(a), diffOnly(a, b), len(b), diffOnly(b, a))
	}
	// A changed configuration reads the source again, files unchanged.
	cfg, err := os.ReadFile(filepath.Join(inc.dir, "onus.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(cfg), "agent_version: agent_version", "agent: agent_version", 1)
	if edited == string(cfg) {
		t.Fatal("onus.yaml no longer maps agent_version")
	}
	if err := os.WriteFile(filepath.Join(inc.dir, "onus.yaml"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	srep, _ = inc.run(2 * time.Hour)
	if _, read := unchangedOf(srep); !slices.Equal(read, []string{"edr"}) {
		t.Errorf("after a change of edr's mapping, read %v, want [edr]", read)
	}
}

func replaceN(s, old, new string, n int, count *int) string {
	for i := 0; i < n; i++ {
		j := strings.Index(s, old)
		if j < 0 {
			break
		}
		s = s[:j] + new + s[j+len(old):]
		*count++
	}
	return s
}

// keysOf lists findings as control, entity, state and Responsible person.
func keysOf(fs []onus.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Control + " " + f.Entity + " " + string(f.State) + " " + f.Responsible.Email
	}
	slices.Sort(out)
	return out
}

func diffOnly(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A re-run in which nothing changed writes only the findings whose
// evidence changed (an age in it: "6 hours ago"): each other still-failing
// finding's last failure is its control's evaluation, and onus findings
// shows the same last failure and last update as if every row had been
// rewritten.
func TestRerunWritesOnlyTheDiff(t *testing.T) {
	e := newEnv(t)
	_, first := e.run(0)
	evidence := map[int64]string{}
	for _, f := range e.findings() {
		evidence[f.ID] = fmt.Sprint(f.Evidence)
	}
	_, again := e.run(time.Hour)
	if first.Changes.Opened == 0 || again.Changes.Unchanged != first.Changes.Opened {
		t.Fatalf("changes %+v then %+v", first.Changes, again.Changes)
	}
	db, err := sql.Open("sqlite", filepath.Join(e.dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, updated_at > ? FROM findings`, orggen.AcmeNow.UTC().Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	written := map[int64]bool{}
	for rows.Next() {
		var id int64
		var w bool
		if err := rows.Scan(&id, &w); err != nil {
			t.Fatal(err)
		}
		written[id] = w
	}
	rows.Close()
	changed := 0
	for _, f := range e.findings() {
		if !f.LastFailed.Equal(orggen.AcmeNow.Add(time.Hour)) || !f.UpdatedAt.Equal(orggen.AcmeNow.Add(time.Hour)) || !f.FirstFailed.Equal(orggen.AcmeNow) {
			t.Errorf("finding %d: first %v, last %v, updated %v", f.ID, f.FirstFailed, f.LastFailed, f.UpdatedAt)
		}
		if ch := fmt.Sprint(f.Evidence) != evidence[f.ID]; ch != written[f.ID] {
			t.Errorf("finding %d %s/%s: evidence changed %v, row written %v", f.ID, f.Control, f.Entity, ch, written[f.ID])
		} else if ch {
			changed++
		}
	}
	if changed*2 > len(written) {
		t.Errorf("%d of %d findings have new evidence: the example should leave most unchanged", changed, len(written))
	}
}
