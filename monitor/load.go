package monitor

import (
	"context"
	"fmt"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/inventory"
	"github.com/onus-sec/onus/store"
)

// Loaded is what an inventory is built from: each source's snapshot in
// force and its health, as an evaluation and the inspecting commands
// (onus explain, onus link) both see them.
type Loaded struct {
	Input inventory.Input
	// States are the sources' sync states; a source never synced has none.
	States map[string]*onus.SourceState
	// Sources is each source's health, in configuration order.
	Sources []SourceHealth
	// Skipped are the sources whose snapshots were not loaded (an
	// incremental evaluation needs none of their kinds): they are in the
	// inventory with their health and no record.
	Skipped map[string]bool
}

// Load reads the snapshot in force of every source and its health. snaps
// holds snapshots already in memory (those a sync just wrote), by source
// name; the others are read from db. A source that was never synced is
// unhealthy with the reason "never synced".
func Load(ctx context.Context, cfg *config.Config, db *store.DB, snaps map[string]*onus.Snapshot) (*Loaded, error) {
	return LoadSome(ctx, cfg, db, snaps, nil)
}

// LoadSome is Load for the sources load says yes to (all when load is
// nil). The others are in Input with their health and no snapshot, and
// named in Skipped: expressions that name them see a source without
// records, and nothing of their kinds is correlated.
func LoadSome(ctx context.Context, cfg *config.Config, db *store.DB, snaps map[string]*onus.Snapshot, load func(*config.Source) bool) (*Loaded, error) {
	states, err := db.SourceStates(ctx)
	if err != nil {
		return nil, err
	}
	l := &Loaded{States: states, Skipped: map[string]bool{}}
	l.Input = inventory.Input{Correlate: cfg.Correlate, Strong: Normalizer(cfg).Strong, Hints: cfg.PossibleMatch}
	if l.Input.Manual, err = ManualLinks(ctx, db); err != nil {
		return nil, err
	}
	for _, src := range cfg.Sources {
		si := inventory.SourceInput{Name: src.Name, Kind: src.Kind, Creates: src.Creates()}
		st := states[src.Name]
		if st == nil {
			si.Reason = "never synced"
		} else {
			si.Healthy, si.Reason = st.Healthy, st.Reason
		}
		snap := snaps[src.Name]
		if load != nil && !load(src) {
			snap = nil
			l.Skipped[src.Name] = true
		} else if snap == nil && st != nil && st.Good != nil {
			if snap, err = db.LoadSnapshot(ctx, src.Name); err != nil && onus.ErrorCode(err) != onus.ENOTFOUND {
				return nil, fmt.Errorf("load %s: %w", src.Name, err)
			}
		}
		si.Snapshot = snap
		l.Input.Sources = append(l.Input.Sources, si)
		h := SourceHealth{Source: src.Name, Kind: src.Kind, Healthy: si.Healthy, Reason: si.Reason}
		if st != nil && st.Good != nil {
			h.Snapshot = st.Good.Snapshot
		}
		if snap != nil {
			h.Records, h.SyncedAt = snap.Records.Len(), snap.SyncedAt
		}
		l.Sources = append(l.Sources, h)
	}
	return l, nil
}

// Correlate builds the inventory. A source whose skipped records cannot
// be told whose they are becomes unhealthy, in the inventory and in
// l.Sources: what reads it is unknown, and no entity of its kind is
// called gone. It returns the kinds that became unreadable so.
func (l *Loaded) Correlate() (*inventory.Inventory, map[string]bool, error) {
	inv, err := inventory.Build(l.Input)
	if err != nil {
		return nil, nil, err
	}
	unreadable := map[string]bool{}
	for i := range l.Input.Sources {
		src := &l.Input.Sources[i]
		st, s := l.States[src.Name], inv.Sources[i]
		if st != nil && st.Good != nil && s.Snapshot != nil && s.Healthy && !l.Skipped[src.Name] {
			if lost := lostRecords(st.Good, inv, i); lost > 0 {
				unreadable[src.Kind] = true
				s.Healthy = false
				s.Reason = fmt.Sprintf("%d records were skipped as malformed and cannot be told whose they are", lost)
				if len(st.Good.Problems) > 0 {
					s.Reason += fmt.Sprintf(" (first: %v)", st.Good.Problems[0])
				}
				l.Sources[i].Healthy, l.Sources[i].Reason = false, s.Reason
			}
		}
		l.Sources[i].Unmatched = inv.Sources[i].Unmatched
	}
	return inv, unreadable, nil
}

// LoadInventory loads and correlates in one step: the inventory as the
// next evaluation would see it, without evaluating.
func LoadInventory(ctx context.Context, cfg *config.Config, db *store.DB) (*inventory.Inventory, error) {
	l, err := Load(ctx, cfg, db, nil)
	if err != nil {
		return nil, err
	}
	inv, _, err := l.Correlate()
	return inv, err
}
