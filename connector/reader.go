package connector

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/source"
)

// reader adapts a Connector to the source package: every page is mapped
// as it arrives, by the source's own map: and links:.
type reader struct {
	vendor string
	h      *Handle
}

var _ source.Reader = (*reader)(nil)

// Overlap is how far before the last sync's start an incremental pull
// reaches back, so that a change made while it ran, or a clock that
// disagrees with the vendor's by a little, is not missed.
const Overlap = 10 * time.Minute

func (r *reader) Read(ctx context.Context, m *source.Mapping, p source.Progress) (*source.Batch, error) {
	objs := m.NewObjects()
	p.Start(0)
	note := func(string) {}
	if n, ok := p.(source.Noter); ok {
		note = n.Note
	}
	pages := 0
	c := r.h.Client
	c.OnWait = func(d time.Duration, _ string) {
		note(fmt.Sprintf("%d pages, %d records, waiting %s", pages, objs.Count(), d.Round(time.Second)))
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	prev, since, err := r.incremental(ctx, m)
	if err != nil {
		return nil, err
	}
	emit := func(pg Page) error {
		pages++
		objs.Add(r.vendor+": "+pg.Where, pg.Objects)
		p.Add(int64(pg.Bytes))
		note(fmt.Sprintf("%d pages, %d records", pages, objs.Count()))
		log.Debug("page", "request", pg.Where, onus.LogRecords, len(pg.Objects), "bytes", pg.Bytes)
		return ctx.Err()
	}
	kind := "full"
	if prev != nil {
		kind = "incremental"
		err = r.h.Connector.(Incremental).PullSince(ctx, since, emit)
	} else {
		err = r.h.Pull(ctx, emit)
	}
	st := c.Stats()
	record(r.h.Source, kind, pages, objs.Count(), st, err)
	attrs := []any{"pull", kind, "pages", pages, onus.LogRecords, objs.Count(), "requests", st.Requests.Load(), "retries", st.Retries.Load(),
		"token_refreshes", st.Refreshes.Load(), "waited", time.Duration(st.Waited.Load()).Round(time.Millisecond).String()}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		log.Warn("pull failed", attrs...)
		if pages == 0 {
			return nil, err
		}
		return nil, fmt.Errorf("%w (the %s pull stopped after %d records in %d pages; nothing from it is used)", err, kind, objs.Count(), pages)
	}
	log.Info("pulled", attrs...)
	b := objs.Batch(r.vendor + " API")
	if prev != nil {
		b.Records = merge(prev.Records.All(), b.Records, b.Presence)
	}
	return b, nil
}

// incremental decides whether this read may pull only the changes: the
// connector can, options.full_every is set, there is a snapshot in force
// mapped the same way, and it was taken in the same full_every period as
// now (so the first sync of each period is full and sees deletions). It
// returns that snapshot and the time to pull changes since, or nil for a
// full pull.
func (r *reader) incremental(ctx context.Context, m *source.Mapping) (*onus.Snapshot, time.Time, error) {
	if _, ok := r.h.Connector.(Incremental); !ok || r.h.FullEvery <= 0 {
		return nil, time.Time{}, nil
	}
	info := source.InfoFrom(ctx)
	if info.Previous == nil || info.Now.IsZero() {
		return nil, time.Time{}, nil
	}
	prev, err := info.Previous(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	switch {
	case prev == nil, prev.SyncedAt.IsZero(), prev.SyncedAt.After(info.Now):
		return nil, time.Time{}, nil
	case !reflect.DeepEqual(prev.Schema, m.Schema()):
		// The map changed: the records in force lack the new fields.
		return nil, time.Time{}, nil
	case !prev.SyncedAt.Truncate(r.h.FullEvery).Equal(info.Now.Truncate(r.h.FullEvery)):
		return nil, time.Time{}, nil
	}
	return prev, prev.SyncedAt.Add(-Overlap), nil
}

// merge returns the records in force with the changed ones replacing those
// of the same id, and new ones added; presence, which counts the changed
// records' fields, is brought up to the whole.
func merge(old, changed []onus.Record, presence []int) []onus.Record {
	byID := make(map[string]int, len(changed))
	for i, r := range changed {
		byID[r.ID] = i
	}
	out := make([]onus.Record, 0, len(old)+len(changed))
	for _, r := range old {
		if _, ok := byID[r.ID]; !ok {
			out = append(out, r)
			for i, a := range r.Attrs {
				if a != nil && i < len(presence) {
					presence[i]++
				}
			}
		}
	}
	return append(out, changed...)
}
