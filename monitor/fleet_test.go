package monitor_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/examples"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/store"
)

// A generated fleet with what real fleets do to correlation, at rates:
// EDR records with a USB adapter's MAC, no serial and an FQDN; Macs with
// the factory name; the T2 bridge MAC on many Macs; re-screens in
// progress. The example's configuration, as the docs recommend, must
// find exactly the planted gaps: no laptop split from its EDR record, no
// false "EDR missing", no false "background check missing".
func TestGeneratedFleet(t *testing.T) {
	o := orggen.Large(2000)
	o.AppsPerDevice = 2
	o.Rates.EDRAdapter, o.Rates.FactoryName, o.Rates.T2Bridge, o.Rates.ReScreen = 0.15, 0.05, 0.3, 0.1
	org := orggen.New(o)
	want := org.Expect()
	dir := t.TempDir()
	if err := examples.CopyConfig(examples.Acme(), dir); err != nil {
		t.Fatal(err)
	}
	if err := org.Write(filepath.Join(dir, "exports")); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := &monitor.Monitor{Config: cfg, Store: db, Actor: "test"}
	ctx := context.Background()
	if _, err := m.Sync(ctx, monitor.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err := m.Eval(ctx, o.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	inv := rep.Inventory
	managed, ghosts := 0, 0
	for _, e := range inv.OfKind("device") {
		has := map[string]bool{}
		for _, si := range inv.SourcesOf(e) {
			has[inv.Sources[si].Name] = true
		}
		if has["jamf"] || has["intune"] {
			managed++
		} else {
			ghosts++
		}
	}
	if managed != want.Devices {
		t.Errorf("%d managed laptops, want %d", managed, want.Devices)
	}
	// An EDR record on its own is a laptop split from its record, unless
	// onus kept it apart as ambiguous and says so.
	if ghosts > rep.Ambiguous {
		t.Errorf("%d EDR-only devices, but only %d ambiguous records", ghosts, rep.Ambiguous)
	}
	if rep.Ambiguous > want.Devices/100 {
		t.Errorf("%d ambiguous records in %d laptops: too many to review by hand", rep.Ambiguous, want.Devices)
	}
	for _, id := range []string{"edr-agent-missing", "background-check-complete"} {
		c := rep.Results.Control(id)
		switch id {
		case "edr-agent-missing":
			for _, f := range c.Failures {
				serial := strings.TrimPrefix(f.ID, "device:serial:")
				if !want.MissingEDR[serial] {
					t.Errorf("false alarm: %s (%s) has an EDR agent", f.ID, f.Name)
				}
			}
			if c.Fail > want.EDRMissing || c.Fail+c.UnknownN < want.EDRMissing {
				t.Errorf("edr-agent-missing: %d failed, %d unknown; want %d missing", c.Fail, c.UnknownN, want.EDRMissing)
			}
		case "background-check-complete":
			if c.Fail != want.NoBackground {
				t.Errorf("background-check-complete: %d failed, want %d (re-screens in progress are not gaps)", c.Fail, want.NoBackground)
			}
		}
	}
	t.Logf("%d laptops, %d EDR missing, %d without background check, %d near matches, %d ambiguous",
		want.Devices, want.EDRMissing, want.NoBackground, rep.NearMatches, rep.Ambiguous)
}
