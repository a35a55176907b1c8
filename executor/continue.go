package executor

import (
	"context"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/analysis"
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
