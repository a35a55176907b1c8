package executor

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/kernels"
	"github.com/npw-dev/npw/manifest"
	"github.com/npw-dev/npw/state"
)

// taskInputs are a task's input tiles, one per read (a tile read twice is
// one value), and where each came from.
type taskInputs struct {
	tiles []blas64.General
	keys  []string // the store key of each read
	// borrowed marks the reads served by the worker's cache, whose
	// memory the cache still shares: no kernel may modify it. lent are
	// those tiles, to give back to the cache after the task.
	borrowed []bool
	lent     []*cached
	// fetched marks the reads fetched from the store.
	fetched []bool
	// loans are the keys of the tiles a lending store lent the task.
	loans []string
}

// A source is one distinct tile a task reads, and where it came from.
type source struct {
	key  string
	read int  // the first read of the tile, which names it in errors
	take bool // the kernel may update it: a cached tile leaves the cache
	lend bool // borrow it from the lending store

	tile     blas64.General
	size     int  // bytes fetched from the store
	local    bool // handed over or cached: not fetched
	borrowed bool // shared memory (handed, or lent by the cache): not the kernel's to modify
}

// read reads a task's input tiles: each distinct tile once (dedupe), from
// memory where the worker has it (local) and from the store otherwise
// (fetch). If a read fails, the tiles borrowed from the cache and the
// lending store go back.
func (w *worker) read(ctx context.Context, t *task, handed map[string]blas64.General) (taskInputs, error) {
	srcs, slot := w.dedupe(t.reads, t.update, t.lend)
	lent := w.local(srcs, handed)
	loans, err := w.fetch(ctx, srcs, t.reads)
	if err != nil {
		w.mem.giveBack(lent)
		w.returnLoans(loans)
		return taskInputs{}, err
	}
	return assemble(srcs, slot, lent, loans, &t.m), nil
}

// dedupe returns the distinct tiles of reads and, for each read, the
// index of its tile: a tile read twice is one value, which lets syrk see
// that X and Y are the same tile. The tiles at the positions in update
// are taken, and with lend borrowed from the lending store.
func (w *worker) dedupe(reads []analysis.Tile, update []int, lend bool) (srcs []source, slot []int) {
	byKey := map[string]int{}
	slot = make([]int, len(reads))
	for i, t := range reads {
		k := w.cfg.Job.Key(t)
		j, ok := byKey[k]
		if !ok {
			j = len(srcs)
			byKey[k] = j
			srcs = append(srcs, source{key: k, read: i})
		}
		slot[i] = j
	}
	for _, i := range update {
		if i < len(slot) {
			srcs[slot[i]].take = true
			srcs[slot[i]].lend = lend
		}
	}
	return srcs, slot
}

// local takes the tiles the worker has in memory: those in handed (a
// task's outputs, handed to the task continuing it), which are neither
// fetched nor modified, then those in its cache. A cached tile to take
// leaves the cache (or is copied from it while another task reads it);
// the others are borrowed from it, and returned in lent.
func (w *worker) local(srcs []source, handed map[string]blas64.General) (lent []*cached) {
	for j := range srcs {
		s := &srcs[j]
		if t, ok := handed[s.key]; ok {
			s.tile, s.borrowed, s.local = t, true, true
			continue
		}
		if !w.cache() {
			continue
		}
		t, c, copyIt, ok := w.mem.lookup(s.key, s.take)
		s.local = ok
		switch {
		case copyIt:
			s.tile = kernels.Clone(t)
			w.mem.giveBack([]*cached{c})
		case c != nil:
			s.tile, s.borrowed = t, true
			lent = append(lent, c)
		default:
			s.tile = t
		}
	}
	return lent
}

// fetch reads the tiles not in memory from the store in parallel,
// borrowing those to lend from the lending store, and returns the keys of
// the tiles lent, also when a read fails.
func (w *worker) fetch(ctx context.Context, srcs []source, reads []analysis.Tile) ([]string, error) {
	var (
		mu    sync.Mutex
		loans []string
	)
	get := func(ctx context.Context, s *source) error {
		get := w.cfg.Tiles.GetTile
		switch {
		case strings.HasPrefix(s.key, manifest.ViewPrefix):
			get = func(ctx context.Context, _ string) (blas64.General, int, error) { return w.cutView(ctx, reads[s.read]) }
		case s.lend:
			get = w.lender.LendTile
		}
		t, n, err := get(ctx, s.key)
		if err != nil {
			return &readError{tile: reads[s.read], err: err}
		}
		if s.lend {
			mu.Lock()
			loans = append(loans, s.key)
			mu.Unlock()
		}
		s.tile, s.size = t, n
		return nil
	}
	var remote []*source
	for j := range srcs {
		if !srcs[j].local {
			remote = append(remote, &srcs[j])
		}
	}
	if len(remote) == 1 { // no goroutine for a single read
		return loans, get(ctx, remote[0])
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range remote {
		g.Go(func() error { return get(gctx, s) })
	}
	err := g.Wait()
	return loans, err
}

// cutView cuts a viewed tile from the stored tiles of its view's array
// that overlap it (manifest.View); it returns the tile's size as bytes
// read.
func (w *worker) cutView(ctx context.Context, t analysis.Tile) (blas64.General, int, error) {
	m := &w.cfg.Job.Matrices[t.Matrix]
	store, ok := w.cfg.Tiles.(*blockstore.Store)
	if !ok {
		return blas64.General{}, 0, fmt.Errorf("tile %v is viewed from a stored array, which a tile store of type %T cannot read", t.Indices(), w.cfg.Tiles)
	}
	src, dst, i, j, err := m.ViewTile(store, t.Indices())
	if err != nil {
		return blas64.General{}, 0, err
	}
	r0, c0, r1, c1 := dst.TileBounds(i, j)
	if r0 >= r1 || c0 >= c1 {
		return blas64.General{}, 0, fmt.Errorf("tile %v is outside the %d×%d array of its view", t.Indices(), src.Rows, src.Cols)
	}
	tile, _, err := src.Region(ctx, r0, c0, r1, c1)
	return tile, 8 * tile.Rows * tile.Cols, err
}

// assemble gives each read its tile and counts the bytes read and the
// tiles found in memory.
func assemble(srcs []source, slot []int, lent []*cached, loans []string, m *state.Metrics) taskInputs {
	n := len(slot)
	in := taskInputs{tiles: make([]blas64.General, n), keys: make([]string, n),
		borrowed: make([]bool, n), fetched: make([]bool, n), lent: lent, loans: loans}
	for i, j := range slot {
		s := &srcs[j]
		in.tiles[i], in.keys[i], in.borrowed[i], in.fetched[i] = s.tile, s.key, s.borrowed, !s.local
	}
	for _, s := range srcs {
		m.BytesRead += int64(s.size)
		if s.local {
			m.CacheHits++
		}
	}
	return in
}

// lendable says whether the tiles at the positions in update are scratch
// tiles that only this task reads, and reads once, so that a lending store
// lends them to it: tiles a task of the job writes, in a matrix that is
// not an output (the caller reads those) nor read from another matrix.
func (w *worker) lendable(reads []analysis.Tile, update []int) bool {
	var readers []analysis.Node
	for _, i := range update {
		if i >= len(reads) {
			return false
		}
		t := reads[i]
		if m := &w.cfg.Job.Matrices[t.Matrix]; m.Output || m.Aliased(t.Indices()) || m.Viewed(t.Indices()) {
			return false
		}
		for j, u := range reads {
			if j != i && u == t {
				return false
			}
		}
		written, err := w.plan.HasWriter(t)
		if err != nil || !written {
			return false
		}
		if readers, err = w.plan.Readers(t, readers[:0]); err != nil || len(readers) != 1 {
			return false
		}
	}
	return true
}

// returnLoans gives borrowed tiles back to the lending store, unmodified.
func (w *worker) returnLoans(keys []string) {
	for _, k := range keys {
		w.lender.ReturnTile(k)
	}
}

// spendLoans ends the loans of tiles updated and written out.
func (w *worker) spendLoans(keys []string) {
	for _, k := range keys {
		w.lender.SpendTile(k)
	}
}

// A readError is an input tile that could not be read.
type readError struct {
	tile analysis.Tile
	err  error
}

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }
