package connector

import (
	"context"
	"fmt"

	"github.com/onus-sec/onus/source"
)

// reader adapts a Connector to the source package: every page is mapped
// as it arrives, by the source's own map: and links:.
type reader struct {
	vendor string
	conn   Connector
}

var _ source.Reader = (*reader)(nil)

func (r *reader) Read(ctx context.Context, m *source.Mapping, p source.Progress) (*source.Batch, error) {
	objs := m.NewObjects()
	p.Start(0)
	pages := 0
	err := r.conn.Pull(ctx, func(pg Page) error {
		pages++
		objs.Add(r.vendor+": "+pg.Where, pg.Objects)
		p.Add(int64(pg.Bytes))
		return ctx.Err()
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if pages == 0 {
			return nil, err
		}
		return nil, fmt.Errorf("%w (the pull stopped after %d records in %d pages; nothing from it is used)", err, objs.Count(), pages)
	}
	return objs.Batch(r.vendor + " API"), nil
}
