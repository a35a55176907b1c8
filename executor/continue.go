package executor

import (
	"context"
	"errors"
	"slices"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"
)

// nextTask picks, among the children of t that t's completion will make
// ready, the one that comes first by priority, for this worker to run
// right after t (computeNext), while t's outputs are being written: t's
// outputs are handed to it in memory, its other inputs come from the
// worker's cache or the store. A factorisation's critical path (chol →
// trsm → syrk → chol) then runs from one worker's memory instead of
// waiting, at every step, for a write to the store, a trip through the
// queue and a read back.
//
// Workers continue only where tiles travel through a store of their own
// (S3, files): on the memory store, reads and writes cost nothing. A
// continued task has no message of its own: the leased task the chain
// started from stays leased until the chain's last task is recorded, and
// each completion records the task continued with, which a replay of the
// chain's first task follows (replay). nextTask returns nil when no child
// is ready; if the child cannot run here after all (computeNext fails), it
// is enqueued like any ready task.
func (w *worker) nextTask(ctx context.Context, t *task) *task {
	if !w.private || len(t.c.Children) == 0 || w.halting() || !w.timeLeft() {
		return nil
	}
	ready, err := w.cfg.State.ReadyAfter(ctx, w.cfg.Job.ID, t.key, t.c.Children)
	if err != nil || len(ready) == 0 {
		return nil
	}
	var best analysis.Node
	found := false
	for _, key := range ready {
		n, err := w.plan.ParseKey(key)
		if err == nil && (!found || w.plan.Priority(n) > w.plan.Priority(best)) {
			best, found = n, true
		}
	}
	if !found {
		return nil
	}
	next, err := w.prepare(best)
	if err != nil {
		return nil
	}
	next.continued = true
	return next
}

// handed returns t's outputs by key, for next to read from memory.
func (w *worker) handed(t, next *task) map[string]blas64.General {
	if next == nil {
		return nil
	}
	handed := make(map[string]blas64.General, len(t.writes))
	for i, wt := range t.writes {
		if i < len(t.outputs) {
			handed[w.cfg.Job.Key(wt)] = t.outputs[i]
		}
	}
	return handed
}

// computeNext computes next, the task picked to continue a task, with
// that task's outputs handed over in memory. It fails with errNoRoom when
// next's tiles do not fit the memory bound now, with a *failure, or with
// a hook's error (a crash).
func (w *worker) computeNext(ctx context.Context, next *task, handed map[string]blas64.General) error {
	if err := w.hook(Leased, next.key); err != nil {
		return err
	}
	return w.compute(ctx, next, handed, true)
}

// carryOn says whether the chain goes on with next, now that its parent is
// recorded with outcome out: next was computed (nextErr is nil), the
// parent's completion made it ready, the state store recorded next as the
// parent's continuation (out.Continued: the parent's first completion
// says, and a replay follows, that one) and the worker is not stopping.
// If not, next is dropped and, when ready, enqueued, since nothing else
// will (a worker stops, idle or near its limit, with chains running;
// another worker recorded the parent first, continuing with another
// child or none); the lease is then acknowledged, but after a crash (a
// hook's error in nextErr). A fatal failure of next fails the job, as it
// would have on its own lease.
func (w *worker) carryOn(ctx context.Context, lease queue.Lease, next *task, nextErr error, out state.Outcome) (bool, error) {
	ready := slices.Contains(out.Ready, next.key)
	if nextErr == nil && ready && out.Continued == next.key && !w.halting() {
		return true, nil
	}
	w.drop(next)
	var f *failure
	isFailure := errors.As(nextErr, &f)
	switch {
	case isFailure && f.fatal && out.Phase == state.Running:
		return false, w.fatal(ctx, lease, f.err)
	case nextErr != nil && !isFailure && !errors.Is(nextErr, errNoRoom):
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
