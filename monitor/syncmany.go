package monitor

import (
	"context"
	"math"
	"os"
	"slices"
	"sync"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/identity"
	"github.com/onus-sec/onus/source"
)

// A sync reads up to syncParallel sources at once. Each reader already
// spreads a large file over every core, but not the rest of a source's
// sync: stamping its files, its first and last chunks, and storing its
// snapshot, where one goroutine writes chunks while the others encode. A
// second source read meanwhile keeps the other core busy. More than two
// would hold more sources' buffers at once for little: the readers of the
// two already fill the cores.
const syncParallel = 2

// synced is the outcome of one source's sync; done is false for a source
// that was not synced (the sync stopped before it).
type synced struct {
	done bool
	rep  SourceReport
	snap *onus.Snapshot
}

// syncSources syncs srcs, up to syncParallel at once, largest first so
// that the small ones fill the gaps beside the large one. Every source
// still gets its own transaction: the store writes of the sources are
// serialised (SQLite has one writer; a snapshot of millions of records
// takes longer to write than a writer waits for the lock), the reading is
// not. The outcomes are in the order of srcs.
//
// As in a sync one source after another, an error of the store stops the
// sync: no source is started after it, the sources being read are
// finished and recorded, and the first error is returned; a cancelled ctx
// starts no further source either.
func (m *Monitor) syncSources(ctx context.Context, run int64, srcs []*config.Source, norm *identity.Normalizer, o SyncOptions) ([]synced, error) {
	out := make([]synced, len(srcs))
	order := m.syncOrder(srcs)
	var (
		write    sync.Mutex // one store write at a time
		mu       sync.Mutex // next, firstErr, out
		next     int
		firstErr error
		wg       sync.WaitGroup
	)
	workers := max(1, min(syncParallel, len(srcs)))
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				if firstErr != nil || ctx.Err() != nil || next == len(order) {
					mu.Unlock()
					return
				}
				i := order[next]
				next++
				mu.Unlock()
				src := srcs[i]
				sr, snap, err := m.syncOne(ctx, run, src, norm, contains(o.AcceptShrink, src.Name), o.Reread, &write)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
				} else {
					out[i] = synced{done: true, rep: sr, snap: snap}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out, firstErr
}

// syncOrder returns the indices of srcs, connectors first (they wait on
// the network more than they compute), then file sources by the size of
// their files, largest first; ties keep the configuration's order.
func (m *Monitor) syncOrder(srcs []*config.Source) []int {
	size := make([]int64, len(srcs))
	for i, src := range srcs {
		if src.From == nil || src.From.File == "" {
			size[i] = math.MaxInt64
			continue
		}
		paths, err := source.Files(m.Config.Dir, src.From)
		if err != nil {
			continue // read first or last, it fails and says why
		}
		for _, p := range paths {
			if st, err := os.Stat(p); err == nil {
				size[i] += st.Size()
			}
		}
	}
	order := make([]int, len(srcs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case size[a] > size[b]:
			return -1
		case size[a] < size[b]:
			return 1
		}
		return 0
	})
	return order
}
