package executor

import (
	"context"
	"fmt"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/manifest"
	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/blas/blas64"
)

// write stores a task's output tiles in parallel, recording the sizes of
// the scratch tiles in its completion and the time in its metrics and
// span. A scratch tile that no task reads is not written.
func (w *worker) write(ctx context.Context, t *task) error {
	writes, outputs, c, m := t.writes, t.outputs, &t.c, &t.m
	t0 := w.cfg.Clock.Now()
	defer func() {
		t.sp.Written = w.cfg.Clock.Now()
		m.WriteSeconds = t.sp.Written.Sub(t0).Seconds()
	}()
	if len(outputs) != len(writes) {
		return fmt.Errorf("kernel returned %d tiles for %d outputs", len(outputs), len(writes))
	}
	sizes := make([]int64, len(writes))
	dead := map[string]bool{}
	for _, t := range c.Written {
		if t.Readers == 0 {
			dead[t.Key] = true
		}
	}
	if err := w.put(ctx, writes, outputs, dead, sizes); err != nil {
		return err
	}
	for i, t := range writes {
		m.BytesWritten += sizes[i]
		for j := range c.Written {
			if c.Written[j].Key == w.cfg.Job.Key(t) {
				c.Written[j].Bytes = sizes[i]
			}
		}
	}
	return nil
}

// writeLent writes the outputs of a task that borrowed tiles from a
// lending store as it computes: for it, computing and writing are one
// step, since an attempt that stopped between them would leave the tiles
// updated and the outputs unwritten. Once written, the loans are spent,
// and a later attempt finds the outputs in the store.
func (w *worker) writeLent(ctx context.Context, t *task) error {
	if err := w.write(context.WithoutCancel(ctx), t); err != nil {
		t.in.loans = nil
		return &failure{err: fmt.Errorf("task %s updated its tiles in place, then could not write them: %v", w.describe(t.node), err), fatal: true}
	}
	w.spendLoans(t.in.loans)
	t.in.loans = nil
	return nil
}

// awaitWrite writes a computed task's outputs (a task that borrowed its
// tiles wrote them as it computed), then lets the task's memory go to the
// worker's cache.
func (w *worker) awaitWrite(ctx context.Context, t *task) error {
	if !t.lend {
		if err := w.write(ctx, t); err != nil {
			return &failure{err: err}
		}
	}
	if err := w.hook(Written, t.key); err != nil {
		return err
	}
	if n := t.held.Swap(0); n > 0 {
		w.mem.release(n) // the tiles are in the store
	}
	if n := t.extra.Swap(0); n > 0 {
		w.mem.shrink(n)
	}
	if w.cache() {
		w.keep(t)
	}
	// What the cache did not keep is garbage, or the task continuing
	// this one holds it (and counts it).
	t.outputs, t.in.tiles = nil, nil
	return nil
}

// put writes the outputs whose tiles are not dead, in parallel, and sets
// their sizes; a single write runs without a goroutine.
func (w *worker) put(ctx context.Context, writes []analysis.Tile, outputs []blas64.General, dead map[string]bool, sizes []int64) error {
	var live []int
	for i, t := range writes {
		if !dead[w.cfg.Job.Key(t)] {
			live = append(live, i)
		}
	}
	adopt := func(ctx context.Context, i int) error {
		if m := &w.cfg.Job.Matrices[writes[i].Matrix]; m.Target != nil {
			return w.writeTarget(ctx, m, writes[i], outputs[i], &sizes[i])
		}
		n, err := w.cfg.Tiles.AdoptTile(ctx, w.cfg.Job.Key(writes[i]), outputs[i])
		sizes[i] = int64(n)
		return err
	}
	if len(live) == 1 {
		return adopt(ctx, live[0])
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, i := range live {
		g.Go(func() error { return adopt(gctx, i) })
	}
	return g.Wait()
}

// writeTarget writes an output tile into the stored array its matrix
// targets (manifest.Matrix.Target), in the array's encoding.
func (w *worker) writeTarget(ctx context.Context, m *manifest.Matrix, t analysis.Tile, tile blas64.General, size *int64) error {
	store, ok := w.cfg.Tiles.(*blockstore.Store)
	if !ok {
		return fmt.Errorf("tile %v goes into a stored array, which a tile store of type %T cannot write", t.Indices(), w.cfg.Tiles)
	}
	g, i, j, err := m.TargetTile(store, t.Indices())
	if err != nil {
		return err
	}
	if g.Sparse && zero(tile) {
		return nil // a missing chunk reads as zeros (Zarr's fill value)
	}
	n, err := g.WriteTile(ctx, i, j, tile)
	*size = int64(n)
	return err
}

// zero says whether every entry of t is zero.
func zero(t blas64.General) bool {
	for r := range t.Rows {
		for _, v := range t.Data[r*t.Stride : r*t.Stride+t.Cols] {
			if v != 0 {
				return false
			}
		}
	}
	return true
}
