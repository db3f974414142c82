package connector

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/onus-sec/onus/source"
)

// reader adapts a Connector to the source package: every page is mapped
// as it arrives, by the source's own map: and links:.
type reader struct {
	vendor string
	h      *Handle
}

var _ source.Reader = (*reader)(nil)

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
	err := r.h.Pull(ctx, func(pg Page) error {
		pages++
		objs.Add(r.vendor+": "+pg.Where, pg.Objects)
		p.Add(int64(pg.Bytes))
		note(fmt.Sprintf("%d pages, %d records", pages, objs.Count()))
		log.Debug("page", "request", pg.Where, "records", len(pg.Objects), "bytes", pg.Bytes)
		return ctx.Err()
	})
	st := c.Stats()
	attrs := []any{"pages", pages, "records", objs.Count(), "requests", st.Requests.Load(), "retries", st.Retries.Load(),
		"token_refreshes", st.Refreshes.Load(), "waited", time.Duration(st.Waited.Load()).Round(time.Millisecond).String()}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		log.Warn("pull failed", attrs...)
		if pages == 0 {
			return nil, err
		}
		return nil, fmt.Errorf("%w (the pull stopped after %d records in %d pages; nothing from it is used)", err, objs.Count(), pages)
	}
	log.Info("pulled", attrs...)
	return objs.Batch(r.vendor + " API"), nil
}
