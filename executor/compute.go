package executor

import (
	"context"
	"fmt"
	"slices"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/kernels"
	lp "github.com/npw-dev/npw/lambdapack"
	"github.com/npw-dev/npw/state"
)

// compute reserves the task's memory (for a continuation, only if it fits
// now: errNoRoom), reads its inputs (those in handed from memory, the
// others from the worker's cache or the store) and runs its kernel. A task
// that borrowed tiles from a lending store also writes its outputs
// (writeLent). It returns a *failure, or a hook's error (a crash). A
// kernel's failure is fatal: it fails the same way on the same tiles, so
// the job fails at the first.
func (w *worker) compute(ctx context.Context, t *task, handed map[string]blas64.General, continuation bool) error {
	if err := w.reserve(ctx, t, handed, continuation); err != nil {
		return err
	}
	t0 := w.cfg.Clock.Now()
	t.sp = Span{Task: t.key, Leased: t0}
	var err error
	t.in, err = w.read(ctx, t, handed)
	t.sp.Read = w.cfg.Clock.Now()
	t.m.ReadSeconds = t.sp.Read.Sub(t0).Seconds()
	if err != nil {
		return &failure{err: err, read: true}
	}
	w.topUp(t)
	if err := w.hook(Read, t.key); err != nil {
		return err
	}
	err = w.run(ctx, t)
	w.mem.giveBack(t.in.lent) // the kernel is done reading them
	if err != nil && ctx.Err() != nil {
		// The worker was stopped during an emulated kernel's wait: not
		// the kernel's failure. The emulation updates nothing in place,
		// so borrowed tiles go back; the lease lapses.
		return ctx.Err()
	}
	if err != nil {
		// A failed Update may have left borrowed tiles half done: they
		// never go back.
		t.in.loans = nil
		return &failure{err: fmt.Errorf("task %s failed: %w", w.describe(t.node), err), fatal: true}
	}
	t.sp.Computed = w.cfg.Clock.Now()
	t.sp.Flops = t.m.Flops
	w.dropInputs(t)
	if t.lend {
		if err := w.writeLent(ctx, t); err != nil {
			return err
		}
	}
	return w.hook(Computed, t.key)
}

// reserve reserves a task's footprint in the worker's memory bound, if
// any: a leased task waits for room, a continuation takes it only if it
// fits now (errNoRoom).
func (w *worker) reserve(ctx context.Context, t *task, handed map[string]blas64.General, continuation bool) error {
	if w.mem == nil {
		return nil
	}
	inPlace := len(t.update)
	for _, i := range t.update {
		if _, ok := handed[w.cfg.Job.Key(t.reads[i])]; ok {
			inPlace = 0 // a handed tile is copied, not updated
		}
	}
	n := w.footprint(t.reads, t.writes, inPlace, t.k.Workspace+w.plan.Dropped(t.node)) // dropped outputs are computed too
	if continuation {
		if !w.mem.tryAcquire(n) {
			return errNoRoom
		}
	} else if err := w.mem.acquire(ctx, n); err != nil {
		return err
	}
	t.held.Store(n)
	return nil
}

// topUp counts a task's tiles at their real size once it has read them.
// The footprint counts each tile as Block×Block, but some programs stack
// tiles into one (geqrf's panel is a column of tiles): an input bigger
// than that counts at its size, and the outputs and the workspace at the
// biggest input's. What passes the reservation counts in the budget's
// peak (the worker's report) until the task lets its tiles go, not
// against its limit (budget.grow says why).
func (w *worker) topUp(t *task) {
	if w.mem == nil {
		return
	}
	tile := w.cfg.Job.TileBytes()
	units := t.held.Load() / tile // the tiles of its footprint (reserve)
	if units == 0 {
		return
	}
	var in, largest int64
	distinct := int64(0)
	for i, g := range t.in.tiles {
		if slices.Index(t.reads, t.reads[i]) < i {
			continue
		}
		b := 8 * int64(len(g.Data))
		distinct++
		in += b
		largest = max(largest, b)
	}
	if largest <= tile {
		return
	}
	need := in + (units-distinct)*largest
	if extra := need - t.held.Load(); extra > 0 {
		w.mem.grow(extra)
		t.extra.Store(extra)
	}
}

// run computes the task on the worker's one compute slot (waiting tasks
// take it by priority; a continuation takes the slot kept for it), setting
// its outputs and whether it ran the kernel's Update, computing outputs in
// the memory of the inputs at the positions in update. Before it lets the
// slot go, it picks the task to continue with (t.next), for which it keeps
// the slot unless a waiting task comes first.
func (w *worker) run(ctx context.Context, t *task) error {
	scalars, err := w.plan.ScalarArgs(t.node)
	if err != nil {
		return err
	}
	if t.reservation != nil {
		w.kernelSlot.claim(t.reservation)
		t.reservation = nil
	} else {
		w.kernelSlot.acquire(w.plan.Priority(t.node))
	}
	if t.endTurn != nil {
		t.endTurn()
	}
	if g := w.cfg.Settings.EmulateGFLOPS; g > 0 {
		t.outputs, err = w.emulate(ctx, w.plan.Kernel(t.node), t.k, t.in.tiles, scalars, g, &t.m)
	} else {
		t.outputs, t.updated, err = w.kernel(t.node, t.k, t.reads, t.in, t.update, scalars, &t.m)
	}
	if d := w.plan.Dropped(t.node); err == nil && d > 0 {
		if d > len(t.outputs) {
			return fmt.Errorf("task %s: kernel %s returned %d tiles, the call drops %d", w.describe(t.node), w.plan.Kernel(t.node), len(t.outputs), d)
		}
		t.outputs = t.outputs[d:] // R = qr_factor(A) keeps R
	}
	if err == nil {
		t.next = w.nextTask(ctx, t)
	}
	if t.next != nil {
		t.next.reservation = w.kernelSlot.releaseFor(w.plan.Priority(t.next.node))
	} else {
		w.kernelSlot.release()
	}
	return err
}

// kernel runs kernel k; updated says whether it ran the kernel's Update.
// A kernel that panics (on bad shapes) fails like one that returns an
// error.
func (w *worker) kernel(node analysis.Node, k *kernels.Kernel, reads []analysis.Tile, in taskInputs, update []int, scalars []lp.Value, m *state.Metrics) (out []blas64.General, updated bool, err error) {
	name := w.plan.Kernel(node)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kernel %s panicked: %v", name, r)
		}
	}()
	inputs := in.tiles
	runK := k.Run
	if len(update) > 0 && owns(inputs, update) {
		updated = true
		for _, i := range update {
			updated = updated && !in.borrowed[i]
		}
		if updated {
			runK = k.Update
		}
	}
	t0 := w.cfg.Clock.Now()
	out, err = runK(inputs, scalars)
	m.ComputeSeconds = w.cfg.Clock.Since(t0).Seconds()
	if err != nil {
		// A NaN or infinity in the inputs explains the failure (a
		// Cholesky of NaNs is not positive definite) better than the
		// kernel can, also when the job lets them through.
		if at := w.nonFinite(reads, inputs); at != "" {
			return nil, false, fmt.Errorf("kernel %s: its input %s", name, at)
		}
		return nil, false, fmt.Errorf("kernel %s on %s: %w", name, w.tileList(reads, inputs), err)
	}
	if !w.cfg.Settings.AllowNonFinite {
		for k, g := range out {
			if i, j, x, ok := kernels.NonFinite(g); ok {
				if at := w.nonFinite(reads, inputs); at != "" && !updated { // updated in place, the inputs are the outputs
					return nil, false, fmt.Errorf("kernel %s: its input %s", name, at)
				}
				return nil, false, fmt.Errorf("kernel %s on %s computed %v at (%d, %d) of output %d (%s): the job fails on non-finite values (Settings.AllowNonFinite, --allow-nonfinite, lets them through)",
					name, w.tileList(reads, inputs), x, i, j, k+1, kernels.Shape(g))
			}
		}
	}
	m.Flops = k.Flops(inputs)
	return out, updated, nil
}

// owns says whether each input at the positions in which has memory no
// other input shares (read dedupes a tile read twice into one value), so
// that with private reads that memory is the kernel's to update.
func owns(inputs []blas64.General, which []int) bool {
	for _, i := range which {
		if i >= len(inputs) || len(inputs[i].Data) == 0 {
			return false
		}
		for j, g := range inputs {
			if j != i && len(g.Data) > 0 && &g.Data[0] == &inputs[i].Data[0] {
				return false
			}
		}
	}
	return true
}

func (w *worker) tileList(reads []analysis.Tile, inputs []blas64.General) string {
	s := ""
	for i, t := range reads {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("tile %s (%s)", w.plan.TileString(t), kernels.Shape(inputs[i]))
	}
	return s
}

// dropInputs lets go of a computed task's inputs, but those the worker's
// cache will keep (fetched, unmodified, read by other tasks too), so that
// the collector may free them while the task's outputs are written. The
// task's reservation stays until then: released earlier, its room would
// fill with new tiles before the old were collected, past the bound.
func (w *worker) dropInputs(t *task) {
	for i, g := range t.in.tiles {
		modified := t.updated && slices.Contains(t.update, i)
		if !w.cache() || !t.in.fetched[i] || modified || len(g.Data) == 0 || w.readers(t, t.reads[i], t.in.keys[i]) <= 1 {
			t.in.tiles[i] = blas64.General{}
		}
	}
}

// nonFinite names the first input tile holding a NaN or an infinity, and
// where; "" if none does.
func (w *worker) nonFinite(reads []analysis.Tile, inputs []blas64.General) string {
	for k, g := range inputs {
		if i, j, x, ok := kernels.NonFinite(g); ok {
			return fmt.Sprintf("tile %s holds %v at (%d, %d)", w.plan.TileString(reads[k]), x, i, j)
		}
	}
	return ""
}
