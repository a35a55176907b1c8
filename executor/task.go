package executor

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

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
	// endTurn, for the leased task, lets the worker lease another task
	// once this one has the compute slot (worker.takeTurn).
	endTurn func()

	in      taskInputs
	outputs []blas64.General
	updated bool // the kernel computed in the memory of the inputs in update
	m       state.Metrics
	sp      Span
	held    atomic.Int64 // bytes reserved in w.mem
	extra   atomic.Int64 // bytes its tiles hold past held (topUp)
}

// errNoRoom: a continuation's tiles do not fit the memory bound now.
var errNoRoom = errors.New("no room for the task's tiles")

// process runs one leased task, then the chain of tasks it continues with
// (chain), and acknowledges the lease once the last of them is recorded:
// until then, a replay of the leased task finds the others. An error
// leaves the lease to lapse.
func (w *worker) process(ctx context.Context, lease queue.Lease, endTurn func()) error {
	node, err := w.plan.ParseKey(lease.Body)
	if err != nil {
		return w.failJob(ctx, lease, fmt.Sprintf("bad task message %q: %v", lease.Body, err))
	}
	w.renew.add(lease.Receipt)
	defer w.renew.remove(lease.Receipt)
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
	t.endTurn = endTurn
	return w.chain(ctx, lease, t)
}

// chain computes t, the leased task, then the tasks it continues with
// (nextTask), each while its parent's outputs are written and its
// completion recorded in the background.
func (w *worker) chain(ctx context.Context, lease queue.Lease, t *task) error {
	first := true // t is the leased task
	var next *task
	defer func() { w.drop(t); w.drop(next) }()
	if err := w.compute(ctx, t, nil, false); err != nil {
		next = t.next
		return w.failed(ctx, lease, t, err)
	}
	for {
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
	if n := t.extra.Swap(0); n > 0 {
		w.mem.shrink(n)
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
