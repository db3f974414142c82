package all_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/buger/jsonparser"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/connector/connectortest"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/source"
)

func setStatus(t *testing.T, user []byte, status, lastUpdated string) []byte {
	t.Helper()
	b, err := jsonparser.Set(bytes.Clone(user), []byte(`"`+status+`"`), "status")
	if err == nil {
		b, err = jsonparser.Set(b, []byte(`"`+lastUpdated+`"`), "lastUpdated")
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIncrementalThroughMonitor syncs Okta users twice through the monitor
// and a real store: the second sync asks Okta only for users changed since
// the first, merges them into the snapshot in force, and cannot see a
// deletion, which waits for the next full pull.
func TestIncrementalThroughMonitor(t *testing.T) {
	o := newOrg(t)
	users, err := connectortest.Load(filepath.Join(o.dir, "exports/okta/users.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	s := connectortest.New()
	defer s.Close()
	s.Okta(users, nil, nil)
	searches := countSearches(s)
	t.Setenv("ACME_OKTA_TOKEN", "api-token")
	path := filepath.Join(o.dir, config.MainFile)
	b, _ := os.ReadFile(path)
	b = bytes.Replace(b, []byte("from: { file: exports/okta/users.json }"),
		[]byte("connector: okta\n    options: { domain: "+s.URL+", limit: \"50\", full_every: 8760h }\n    credentials: { token: env:ACME_OKTA_TOKEN }"), 1)
	os.WriteFile(path, b, 0o644)

	sync := func() monitor.SourceReport {
		t.Helper()
		cfg, err := config.Load(o.dir)
		if err != nil {
			t.Fatal(err)
		}
		m := &monitor.Monitor{Config: cfg, Store: o.db, Actor: "test"}
		rep, err := m.Sync(context.Background(), monitor.SyncOptions{Only: []string{"okta"}})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Sources[0]
	}
	if sr := sync(); sr.Status != onus.SyncOK || sr.Records != 200 || searches.Load() != 0 {
		t.Fatalf("first sync: %+v, %d searches; want a full pull of 200", sr, searches.Load())
	}

	changedID, _ := jsonparser.GetString(users[7], "id")
	goneID, _ := jsonparser.GetString(users[9], "id")
	next := append([][]byte(nil), users...)
	next[7] = setStatus(t, users[7], "SUSPENDED", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"))
	next = append(next[:9], next[10:]...)
	s.SetOktaUsers(next)
	before := s.Requests.Load()

	sr := sync()
	if sr.Status != onus.SyncOK || sr.Records != 200 {
		t.Fatalf("second sync: %+v", sr)
	}
	if searches.Load() != 1 || s.Requests.Load()-before != 1 {
		t.Errorf("second sync made %d requests, %d with a search; want one incremental request", s.Requests.Load()-before, searches.Load())
	}
	snap, err := o.db.LoadSnapshot(context.Background(), "okta")
	if err != nil {
		t.Fatal(err)
	}
	status := snap.Schema.FieldIndex("status")
	found := map[string]any{}
	for _, r := range snap.Records.All() {
		found[r.ID] = r.Attrs[status]
	}
	if found[changedID] != "SUSPENDED" {
		t.Errorf("the changed user has status %v in the snapshot, want SUSPENDED", found[changedID])
	}
	if _, ok := found[goneID]; !ok {
		t.Errorf("the deleted user left with an incremental pull; only a full pull can tell")
	}
}

// countSearches counts the requests for users changed since a time.
func countSearches(s *connectortest.Server) *atomic.Int64 {
	var n atomic.Int64
	inner := s.Config.Handler
	s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/users" && r.URL.Query().Get("search") != "" {
			n.Add(1)
		}
		inner.ServeHTTP(w, r)
	})
	return &n
}

// TestIncrementalWindows: the first sync of each full_every period is
// full, as is a sync whose map changed.
func TestIncrementalWindows(t *testing.T) {
	t.Setenv("T_TOKEN", "api-token")
	s := connectortest.New()
	defer s.Close()
	users := oktaUsers(t, 120)
	s.Okta(users, nil, nil)
	searches := countSearches(s)
	src := &config.Source{Name: "okta", Kind: "account", Connector: "okta", Options: map[string]string{"domain": s.URL, "full_every": "24h"},
		Credentials: map[string]string{"token": "env:T_TOKEN"}, Map: config.Map{ID: "id", Fields: map[string]*config.Field{"status": {Path: "status"}}}}
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	first, err := source.Read(context.Background(), src, source.Options{MaxBad: 0.05, Now: day.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	prev := func(context.Context) (*onus.Snapshot, error) { return first.Snapshot, nil }
	for _, tc := range []struct {
		name        string
		now         time.Time
		fields      map[string]*config.Field
		incremental bool
	}{
		{"same day: incremental", day.Add(20 * time.Hour), nil, true},
		{"next day: full", day.Add(26 * time.Hour), nil, false},
		{"map changed: full", day.Add(20 * time.Hour), map[string]*config.Field{"login": {Path: "profile.login"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := *src
			if tc.fields != nil {
				src.Map.Fields = tc.fields
			}
			before := searches.Load()
			res, err := source.Read(context.Background(), &src, source.Options{MaxBad: 0.05, Now: tc.now, Previous: prev})
			if err != nil {
				t.Fatal(err)
			}
			if got := searches.Load() > before; got != tc.incremental {
				t.Errorf("incremental %v, want %v", got, tc.incremental)
			}
			// No user changed since the first read: an incremental pull
			// reads none and keeps every one in force, without warnings
			// about fields that had no value.
			if res.Snapshot.Records.Len() != 120 || len(res.Warnings) != 0 {
				t.Errorf("%d records (want 120), warnings %v", res.Snapshot.Records.Len(), res.Warnings)
			}
		})
	}
}
