package executor

import (
	"container/list"
	"context"
	"runtime"
	"runtime/metrics"
	"sync"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/analysis"
)

// A budget bounds the bytes of tiles a worker holds at once: the tiles of
// its tasks in flight and its cache of tiles for later tasks. A task
// reserves its footprint before it reads and gives it back once its
// outputs are written; it waits while its footprint does not fit next to
// those of the tasks in flight, unless no task is in flight (a task
// larger than the budget still runs, alone). The cache only uses what
// the tasks leave, less slack (a tile, for the runtime's own): it gives
// up its oldest tiles as soon as a task needs the room.
type budget struct {
	limit, slack int64
	base         int64 // the heap before any tile: the worker's own objects

	mu      sync.Mutex
	tasks   int64         // reserved by tasks in flight
	extra   int64         // held by tasks in flight past their reservations (grow)
	peak    int64         // the most bytes of tasks and cache at once
	changed chan struct{} // closed and replaced on every release

	cached  int64                    // bytes of the cache's tiles
	lru     *list.List               // of *cached, most recently used first
	entries map[string]*list.Element // by store key
}

// A cached tile: immutable while it is in the cache or borrowed from it.
type cached struct {
	key     string
	tile    blas64.General
	size    int64
	borrows int // tasks reading the tile now
}

func newBudget(limit, slack int64) *budget {
	return &budget{limit: limit, slack: slack, base: heapObjects(), changed: make(chan struct{}), lru: list.New(), entries: map[string]*list.Element{}}
}

// heapObjects returns the bytes of the heap's objects, garbage included.
func heapObjects() int64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	return int64(sample[0].Value.Uint64())
}

// acquire reserves n bytes for a task, evicting cached tiles to make room
// and waiting for tasks to release theirs until ctx is done.
func (b *budget) acquire(ctx context.Context, n int64) error {
	for {
		ok, changed := b.reserve(n, true)
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// tryAcquire reserves n bytes for a task if they fit now, next to the
// tasks in flight (the cache gives up tiles to make room).
func (b *budget) tryAcquire(n int64) bool {
	ok, _ := b.reserve(n, false)
	return ok
}

// reserve reserves n bytes if they fit next to the tasks in flight, or,
// with alone, if no task is in flight; cached tiles make room first. If
// not, it returns the channel closed on the next release.
func (b *budget) reserve(n int64, alone bool) (bool, <-chan struct{}) {
	b.mu.Lock()
	for b.cached > 0 && b.tasks+b.cached+n > b.limit-b.slack {
		b.evict(b.lru.Back())
	}
	if alone && b.tasks == 0 || b.tasks+n <= b.limit {
		b.tasks += n
		b.peak = max(b.peak, b.tasks+b.extra+b.cached)
		b.mu.Unlock()
		b.collect(n)
		return true, nil
	}
	defer b.mu.Unlock()
	return false, b.changed
}

// collect runs the garbage collector before a task allocates n bytes of
// tiles if the heap, garbage included, would pass the bound otherwise:
// tiles the cache gave up or tasks dropped are garbage until the next
// collection, and with a heap near the bound the runtime's own pacing
// (GOGC) lets a few new tiles land before they are collected, past the
// bound. Tiles hold no pointers, so a collection costs little; with tiles
// under a MiB the bound is smaller than the runtime's own memory and is
// left to GOGC.
func (b *budget) collect(n int64) {
	if b.slack < 1<<20 {
		return
	}
	if heapObjects()+n > b.base+b.limit {
		runtime.GC()
	}
}

// peakBytes is the most bytes of tiles the budget counted at once, in
// tasks and cache.
func (b *budget) peakBytes() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// grow counts n more bytes that a task in flight holds beyond its
// reservation (tiles bigger than the footprint counted), until shrink:
// they count in the peak, not against the limit. Making the next tasks
// wait for them was measured: geqrf's biggest task (a stacked panel) is
// the peak alone, so waiting kept the peak RSS where it was (about 500
// MiB at n = 8192, block 2048) and took 8% longer.
func (b *budget) grow(n int64) {
	b.mu.Lock()
	b.extra += n
	b.peak = max(b.peak, b.tasks+b.extra+b.cached)
	b.mu.Unlock()
}

// shrink gives back n bytes counted by grow.
func (b *budget) shrink(n int64) {
	b.mu.Lock()
	b.extra -= n
	b.mu.Unlock()
}

// release gives back n bytes reserved by acquire.
func (b *budget) release(n int64) {
	b.mu.Lock()
	b.tasks -= n
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// evict drops a cache entry and returns its tile; b.mu is held.
func (b *budget) evict(e *list.Element) *cached {
	c := b.lru.Remove(e).(*cached)
	delete(b.entries, c.key)
	b.cached -= c.size
	return c
}

// keep caches a tile no one will modify, for later tasks of this worker
// that read it, if it fits next to the tasks in flight (older tiles make
// room for it).
func (b *budget) keep(key string, tile blas64.General, size int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[key]; ok {
		b.lru.MoveToFront(e)
		return
	}
	room := b.limit - b.slack
	if b.tasks+size > room {
		return
	}
	for b.tasks+b.cached+size > room {
		b.evict(b.lru.Back())
	}
	b.entries[key] = b.lru.PushFront(&cached{key: key, tile: tile, size: size})
	b.cached += size
}

// lookup returns a cached tile. With take, for a task that will modify
// it, the tile leaves the cache and is the caller's, unless a task is
// reading it now: then it is lent like any other, and copy says the caller
// must copy it (and return it at once). A lent tile must not be modified
// and is returned with giveBack once the task is done with it.
func (b *budget) lookup(key string, take bool) (tile blas64.General, lent *cached, copy, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok {
		return blas64.General{}, nil, false, false
	}
	c := e.Value.(*cached)
	if take && c.borrows == 0 {
		return b.evict(e).tile, nil, false, true
	}
	b.lru.MoveToFront(e)
	c.borrows++
	return c.tile, c, take, true
}

// giveBack returns tiles lent by lookup.
func (b *budget) giveBack(lent []*cached) {
	if len(lent) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range lent {
		c.borrows--
	}
}

// forget drops tiles no task will read again.
func (b *budget) forget(keys []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range keys {
		if e, ok := b.entries[k]; ok {
			b.evict(e)
		}
	}
}

// footprint is what a task reserves: its distinct input tiles, its
// output tiles and its kernel's workspace, each counted as a full
// Block×Block tile of float64 (topUp adds the rest once a task's tiles
// turn out bigger). An output its kernel computes in the memory
// of an input it owns (a kernel with Update, on private reads) takes no
// more room.
func (w *worker) footprint(reads, writes []analysis.Tile, inPlace, workspace int) int64 {
	distinct := 0
	for i, t := range reads {
		seen := false
		for _, u := range reads[:i] {
			if u == t {
				seen = true
				break
			}
		}
		if !seen {
			distinct++
		}
	}
	return int64(distinct+max(len(writes)-inPlace, 0)+workspace) * w.cfg.Job.TileBytes()
}

// keep caches, after a task, the tiles a later task reads: its outputs
// (as written) and the inputs that dropInputs kept.
func (w *worker) keep(t *task) {
	for i, wt := range t.writes {
		if key := w.cfg.Job.Key(wt); i < len(t.outputs) && w.readers(t, wt, key) > 0 {
			w.mem.keep(key, t.outputs[i], int64(8*len(t.outputs[i].Data)))
		}
	}
	for i, g := range t.in.tiles {
		if len(g.Data) > 0 {
			w.mem.keep(t.in.keys[i], g, int64(8*len(g.Data)))
		}
	}
}

// readers returns the number of tasks that read a tile of t's.
func (w *worker) readers(t *task, tile analysis.Tile, key string) int {
	for _, wt := range t.c.Written {
		if wt.Key == key {
			return wt.Readers
		}
	}
	rs, err := w.plan.Readers(tile, nil)
	if err != nil {
		return 0
	}
	return len(rs)
}
