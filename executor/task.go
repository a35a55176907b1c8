package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/kernels"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"
)

// A task is one task on this worker, from reading its inputs to recording
// its completion.
type task struct {
	key           string
	node          analysis.Node
	k             *kernels.Kernel
	reads, writes []analysis.Tile
	// update lists the inputs the kernel may compute its outputs in: with
	// private reads, those of a kernel with Update; with a lending store,
	// those when the store lends them all (lend).
	update    []int
	lend      bool
	c         state.Completion
	continued bool // run right after its parent, as a continuation
	// next is the task this worker continues with, picked by run, and
	// reservation the compute slot run kept for the task.
	next        *task
	reservation *reservation

	in      taskInputs
	outputs []blas64.General
	updated bool // the kernel computed in the memory of the inputs in update
	m       state.Metrics
	sp      Span
	held    atomic.Int64 // bytes reserved in w.mem
}

// A failure is why a task could not be computed or written: its inputs
// could not be read (read), its attempt failed, or the job must fail
// (fatal).
type failure struct {
	err         error
	read, fatal bool
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// errNoRoom: a continuation's tiles do not fit the memory bound now.
var errNoRoom = errors.New("no room for the task's tiles")

// process runs one leased task, then the chain of tasks it continues with
// (nextTask), and acknowledges the lease once the last of them is
// recorded: until then, a replay of the leased task finds the others. An
// error leaves the lease to lapse.
func (w *worker) process(ctx context.Context, lease queue.Lease) error {
	node, err := w.plan.ParseKey(lease.Body)
	if err != nil {
		return w.failJob(ctx, lease, fmt.Sprintf("bad task message %q: %v", lease.Body, err))
	}
	w.setActive(lease.Receipt, true)
	defer w.setActive(lease.Receipt, false)
	if err := w.hook(Leased, lease.Body); err != nil {
		return err
	}
	// A done task is replayed however often it was delivered: its
	// redeliveries only mean that acknowledgements were lost (workers
	// killed between recording a completion and acknowledging it), not
	// that the task cannot finish.
	done, err := w.cfg.State.IsDone(ctx, w.cfg.Job.ID, lease.Body)
	if err != nil {
		return err
	}
	if done {
		return w.replay(ctx, lease, node)
	}
	if lease.ReceiveCount > w.cfg.MaxReceives {
		return w.failJob(ctx, lease, fmt.Sprintf("task %s was delivered %d times without finishing (its workers died or ran out of time)",
			w.describe(node), lease.ReceiveCount))
	}
	t, err := w.prepare(node)
	if err != nil {
		return w.failJob(ctx, lease, err.Error())
	}
	first := true // t is the leased task
	var next *task
	defer func() { w.drop(t); w.drop(next) }()
	if err := w.compute(ctx, t, nil, false); err != nil {
		next = t.next
		return w.failed(ctx, lease, t, err)
	}
	for {
		// t's outputs are written and its completion recorded in the
		// background, while the task it continues with computes.
		next = t.next
		handed := w.handed(t, next)
		finished := w.finishBehind(ctx, t, next)
		var nextErr error
		if next != nil {
			nextErr = w.computeNext(ctx, next, handed)
		}
		fin := <-finished
		if fin.err != nil {
			w.drop(next)
			var f *failure
			switch {
			case !errors.As(fin.err, &f):
				return fin.err // a crash, or recording failed: the lease lapses
			case first:
				return w.failed(ctx, lease, t, fin.err)
			default:
				return w.abandon(ctx, lease, t, fin.err)
			}
		}
		w.drop(t)
		if next == nil {
			break
		}
		if goOn, err := w.carryOn(ctx, lease, next, nextErr, fin.out); !goOn {
			return err
		}
		t, next, first = next, nil, false
	}
	w.acks.add(ctx, lease.Receipt)
	return nil
}

// carryOn says whether the chain goes on with next, now that its parent is
// recorded with outcome out: next was computed (nextErr is nil), the
// parent's completion made it ready and the worker is not stopping. If
// not, next is dropped and, when the completion recorded it as continued
// and ready, enqueued, since nothing else will (a worker stops, idle or
// near its limit, with chains running); the lease is then acknowledged,
// but after a crash (a hook's error in nextErr).
func (w *worker) carryOn(ctx context.Context, lease queue.Lease, next *task, nextErr error, out state.Outcome) (bool, error) {
	ready := slices.Contains(out.Ready, next.key)
	if nextErr == nil && ready && !w.halting() {
		return true, nil
	}
	w.drop(next)
	if nextErr != nil && !errors.As(nextErr, new(*failure)) && !errors.Is(nextErr, errNoRoom) {
		return false, nextErr
	}
	if ready && out.Phase == state.Running {
		if err := w.send(ctx, next); err != nil {
			return false, err
		}
	}
	w.acks.add(ctx, lease.Receipt)
	return false, nil
}

// A finish is what finishBehind did: t's completion, or why it could not
// write (a *failure) or record it.
type finish struct {
	out state.Outcome
	err error
}

// finishBehind writes a computed task's outputs and records its
// completion, saying that this worker continues with next (nil: none), in
// the background.
func (w *worker) finishBehind(ctx context.Context, t, next *task) <-chan finish {
	done := make(chan finish, 1)
	var nextKey string
	if next != nil {
		nextKey = next.key
	}
	go func() {
		if err := w.awaitWrite(ctx, t); err != nil {
			done <- finish{err: err}
			return
		}
		out, err := w.record(ctx, t, nextKey)
		done <- finish{out, err}
	}()
	return done
}

// prepare looks up what a task reads, writes and runs. An error is the
// job's: the plan or the kernel library cannot run the task.
func (w *worker) prepare(node analysis.Node) (*task, error) {
	t := &task{key: node.Key(), node: node}
	var err error
	if t.reads, t.writes, err = w.plan.Tiles(node); err != nil {
		return nil, err
	}
	k, ok := w.cfg.Kernel(w.plan.Kernel(node))
	if !ok {
		return nil, fmt.Errorf("task %s: no kernel %s", w.describe(node), w.plan.Kernel(node))
	}
	t.k = k
	if k.Update != nil {
		switch {
		case w.private:
			t.update = k.Updated()
		case w.lender != nil && w.lendable(t.reads, k.Updated()):
			t.update, t.lend = k.Updated(), true
		}
	}
	if t.c, err = w.completion(node); err != nil {
		return nil, err
	}
	return t, nil
}

// compute reserves the task's memory (for a continuation, only if it fits
// now: errNoRoom), reads its inputs (those in handed from memory, the
// others from the worker's cache or the store) and runs its kernel. A task
// that borrowed tiles from a lending store also writes its outputs: for
// it, computing and writing are one step, since an attempt that stopped
// between them would leave the tiles updated and the outputs unwritten;
// once written, the loans are spent, and a later attempt finds the outputs
// in the store. It returns a *failure, or a hook's error (a crash).
func (w *worker) compute(ctx context.Context, t *task, handed map[string]blas64.General, continuation bool) error {
	if w.mem != nil {
		inPlace := len(t.update)
		for _, i := range t.update {
			if _, ok := handed[w.cfg.Job.Key(t.reads[i])]; ok {
				inPlace = 0 // a handed tile is copied, not updated
			}
		}
		n := w.footprint(t.reads, t.writes, inPlace, t.k.Workspace)
		if continuation {
			if !w.mem.tryAcquire(n) {
				return errNoRoom
			}
		} else if err := w.mem.acquire(ctx, n); err != nil {
			return err
		}
		t.held.Store(n)
	}
	t0 := time.Now()
	t.sp = Span{Task: t.key, Leased: t0}
	var lendKeys []string
	if t.lend {
		for _, i := range t.update {
			lendKeys = append(lendKeys, w.cfg.Job.Key(t.reads[i]))
		}
	}
	var err error
	t.in, err = w.read(ctx, t.reads, t.update, lendKeys, handed, &t.m)
	t.sp.Read = time.Now()
	t.m.ReadSeconds = t.sp.Read.Sub(t0).Seconds()
	if err != nil {
		return &failure{err: err, read: true}
	}
	if err := w.hook(Read, t.key); err != nil {
		return err
	}
	err = w.run(ctx, t)
	w.mem.giveBack(t.in.lent) // the kernel is done reading them
	if t.lend && err != nil {
		// A kernel fails the same way on the same tiles, and a failed
		// Update may have left borrowed tiles half done: never give them
		// back, fail the job now.
		t.in.loans = nil
		return &failure{err: fmt.Errorf("task %s failed: %v", w.describe(t.node), err), fatal: true}
	}
	if err != nil {
		return &failure{err: err}
	}
	t.sp.Computed = time.Now()
	w.dropInputs(t)
	if t.lend {
		if err := w.write(context.WithoutCancel(ctx), t); err != nil {
			t.in.loans = nil
			return &failure{err: fmt.Errorf("task %s updated its tiles in place, then could not write them: %v", w.describe(t.node), err), fatal: true}
		}
		w.spendLoans(t.in.loans)
		t.in.loans = nil
	}
	return w.hook(Computed, t.key)
}

// dropInputs lets go of a computed task's inputs, but those the worker's
// cache will keep (fetched, unmodified, read by other tasks too), so that
// the collector may free them while the task's outputs are written. The
// task's reservation stays until then: released earlier, its room filled
// with new tiles before the old were collected (QR's workers passed their
// memory target, 339 against 320 MiB).
func (w *worker) dropInputs(t *task) {
	for i, g := range t.in.tiles {
		modified := t.updated && slices.Contains(t.update, i)
		if !w.cache() || !t.in.fetched[i] || modified || len(g.Data) == 0 || w.readers(t, t.reads[i], t.in.keys[i]) <= 1 {
			t.in.tiles[i] = blas64.General{}
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

// drop releases what an unfinished or recorded task holds: its memory
// reservation, tiles borrowed from a lending store, which go back
// unmodified (a task that updated them has spent them), and the compute
// slot kept for it or for the task it picked to continue with, if unused.
func (w *worker) drop(t *task) {
	if t == nil {
		return
	}
	if n := t.held.Swap(0); n > 0 {
		w.mem.release(n)
	}
	w.returnLoans(t.in.loans)
	t.in.loans = nil
	w.kernelSlot.cancel(t.reservation)
	t.reservation = nil
	if t.next != nil {
		w.kernelSlot.cancel(t.next.reservation)
		t.next.reservation = nil
	}
	// Its tiles are the store's, the cache's or garbage now, and the
	// task it continued with lives on without it.
	t.outputs, t.in.tiles, t.next = nil, nil, nil
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
	if w.cache() {
		w.keep(t)
	}
	// What the cache did not keep is garbage, or the task continuing
	// this one holds it (and counts it).
	t.outputs, t.in.tiles = nil, nil
	return nil
}

// failed handles a leased task that could not be computed or written.
func (w *worker) failed(ctx context.Context, lease queue.Lease, t *task, err error) error {
	var f *failure
	switch {
	case !errors.As(err, &f):
		return err // a crash, or the worker was stopped
	case f.fatal:
		return w.failJob(ctx, lease, f.err.Error())
	case f.read:
		return w.readFailed(ctx, lease, t.node, f.err)
	default:
		return w.attemptFailed(ctx, lease, t.node, f.err)
	}
}

// abandon gives up a task this worker continued with but could not write:
// it goes to the queue like any ready task (its parent is recorded), and
// the lease the chain ran under is acknowledged.
func (w *worker) abandon(ctx context.Context, lease queue.Lease, t *task, cause error) error {
	w.cfg.Log.Warn("continued task abandoned", "worker", w.cfg.ID, "task", w.plan.Describe(t.node), "err", cause)
	if err := w.send(ctx, t); err != nil {
		return err
	}
	w.acks.add(ctx, lease.Receipt)
	return nil
}

// send enqueues a task.
func (w *worker) send(ctx context.Context, t *task) error {
	return w.cfg.Queue.Send(ctx, queue.Message{Body: t.key, Priority: w.cfg.Job.Priority(t.node)})
}

// replay replays the completion of a task that is already done, so that
// children a crash kept from being enqueued are enqueued now. It follows
// the tasks that the worker which completed it continued with while they
// are done: they had no message of their own, so their children may wait
// on this replay too. A continued task that is not done is among the
// children reported ready, and enqueued.
func (w *worker) replay(ctx context.Context, lease queue.Lease, node analysis.Node) error {
	for {
		c, err := w.completion(node)
		if err != nil {
			return w.failJob(ctx, lease, err.Error())
		}
		out, err := w.record(ctx, &task{key: node.Key(), node: node, c: c}, "")
		if err != nil {
			return err
		}
		if out.Continued == "" || w.halting() {
			break
		}
		done, err := w.cfg.State.IsDone(ctx, w.cfg.Job.ID, out.Continued)
		if err != nil {
			return err
		}
		if !done {
			break
		}
		if node, err = w.plan.ParseKey(out.Continued); err != nil {
			return w.failJob(ctx, lease, fmt.Sprintf("bad continued task %q: %v", out.Continued, err))
		}
	}
	w.acks.add(ctx, lease.Receipt)
	return nil
}

// record records a task's completion (first, or replayed for a done task),
// with next, the child this worker continues with, if any; it enqueues
// the other children that are ready and deletes tiles no longer needed.
func (w *worker) record(ctx context.Context, t *task, next string) (state.Outcome, error) {
	t.c.Metrics = t.m
	t.c.Continued = next
	out, err := w.cfg.State.Complete(ctx, w.cfg.Job.ID, t.c)
	if err != nil {
		return out, err
	}
	computed := !t.sp.Leased.IsZero()
	w.mu.Lock()
	if out.First {
		w.report.Tasks++
		if t.continued {
			w.report.Continued++
		}
		w.report.Metrics.Add(t.m)
		if w.cfg.Trace && computed {
			t.sp.Done = time.Now()
			w.report.Spans = append(w.report.Spans, t.sp)
		}
	} else {
		w.report.Replays++
	}
	w.mu.Unlock()
	if d := time.Since(t.sp.Leased); computed && d > time.Duration(w.longest.Load()) {
		w.longest.Store(int64(d))
	}
	if out.First && w.cfg.OnTask != nil {
		w.cfg.OnTask(TaskReport{Task: t.key, Kernel: w.plan.Kernel(t.node), Worker: w.cfg.ID, Metrics: t.m})
	}
	if err := w.hook(Completed, t.key); err != nil {
		return out, err
	}
	var msgs []queue.Message
	for _, key := range out.Ready {
		if key == next {
			continue
		}
		child, err := w.plan.ParseKey(key)
		if err != nil {
			return out, err
		}
		msgs = append(msgs, queue.Message{Body: key, Priority: w.cfg.Job.Priority(child)})
	}
	if len(msgs) > 0 {
		if err := w.cfg.Queue.Send(ctx, msgs...); err != nil {
			return out, err
		}
	}
	if err := w.hook(Enqueued, t.key); err != nil {
		return out, err
	}
	if len(out.Free) > 0 {
		if w.cache() {
			w.mem.forget(out.Free)
		}
		if err := w.cfg.Tiles.Delete(ctx, out.Free...); err != nil {
			w.cfg.Log.Warn("deleting scratch tiles failed", "worker", w.cfg.ID, "err", err)
		}
	}
	if out.Phase != state.Running {
		w.halt("job " + string(out.Phase))
	}
	return out, nil
}
