package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/queue"
)

// A failure is why a task could not be computed or written: its inputs
// could not be read (read), its attempt failed and may succeed again (an
// I/O error), or the job must fail (fatal: a kernel fails the same way on
// the same tiles, and a task that updated borrowed tiles cannot run
// again).
type failure struct {
	err         error
	read, fatal bool
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// failed handles a leased task that could not be computed or written.
func (w *worker) failed(ctx context.Context, lease queue.Lease, t *task, err error) error {
	var f *failure
	switch {
	case !errors.As(err, &f):
		return err // a crash, or the worker was stopped
	case f.fatal:
		return w.fatal(ctx, lease, f.err)
	case f.read:
		return w.readFailed(ctx, lease, t.node, f.err)
	default:
		return w.attemptFailed(ctx, lease, t.node, f.err)
	}
}

// fatal counts a failed attempt that no other attempt would fix and fails
// the job with its error.
func (w *worker) fatal(ctx context.Context, lease queue.Lease, cause error) error {
	w.mu.Lock()
	w.report.Failures++
	w.mu.Unlock()
	return w.failJob(ctx, lease, cause.Error())
}

// readFailed handles a missing or unreadable input tile.
func (w *worker) readFailed(ctx context.Context, lease queue.Lease, node analysis.Node, err error) error {
	switch {
	case errors.Is(err, blockstore.ErrLent):
		// Another attempt of this task is updating the tile in place: it
		// finishes the task, or stops and gives the tile back.
		if err := w.cfg.Queue.Extend(ctx, lease.Receipt, w.cfg.Lease/4); err != nil && !errors.Is(err, queue.ErrLeaseLost) {
			return err
		}
		return nil
	case errors.Is(err, blockstore.ErrSpent):
		// An earlier attempt updated the tile in place and wrote the
		// outputs, then stopped: only the completion is left.
		return w.replay(ctx, lease, node)
	}
	var re *readError
	if errors.As(err, &re) && errors.Is(err, blockstore.ErrNotNPY) {
		// The object is there but is no tile of the job's: reading it
		// again reads the same bytes.
		return w.fatal(ctx, lease, fmt.Errorf("task %s reads tile %s: %w", w.describe(node), w.plan.TileString(re.tile), err))
	}
	if !errors.As(err, &re) || !errors.Is(err, blockstore.ErrNotFound) {
		return w.attemptFailed(ctx, lease, node, err)
	}
	// A scratch tile is deleted only after all its readers are done, so
	// this task may have been finished meanwhile by another worker.
	if done, derr := w.cfg.State.IsDone(ctx, w.cfg.Job.ID, lease.Body); derr == nil && done {
		return w.replay(ctx, lease, node)
	}
	written, herr := w.plan.HasWriter(re.tile)
	if herr == nil && !written {
		return w.failJob(ctx, lease, fmt.Sprintf("task %s reads input tile %s, which does not exist (%s): the input matrix is smaller than the program's sizes expect",
			w.describe(node), w.plan.TileString(re.tile), w.cfg.Job.Key(re.tile)))
	}
	return w.attemptFailed(ctx, lease, node, fmt.Errorf("tile %s: %w", w.plan.TileString(re.tile), err))
}

// attemptFailed counts a failed attempt; at MaxAttempts the job fails,
// otherwise the task comes back after a short backoff.
func (w *worker) attemptFailed(ctx context.Context, lease queue.Lease, node analysis.Node, cause error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	w.mu.Lock()
	w.report.Failures++
	w.mu.Unlock()
	n, err := w.cfg.State.RecordFailure(ctx, w.cfg.Job.ID, lease.Body)
	if err != nil {
		return err
	}
	w.cfg.Log.Warn("task failed", "worker", w.cfg.ID, "task", w.plan.Describe(node), "attempt", n, "err", cause)
	if n >= w.cfg.MaxAttempts {
		return w.failJob(ctx, lease, fmt.Sprintf("task %s failed %d times: %v", w.describe(node), n, cause))
	}
	backoff := min(time.Duration(n)*100*time.Millisecond, w.cfg.Lease)
	if err := w.cfg.Queue.Extend(ctx, lease.Receipt, backoff); err != nil && !errors.Is(err, queue.ErrLeaseLost) {
		return err
	}
	return nil
}

// failJob fails the job with msg and drops the task.
func (w *worker) failJob(ctx context.Context, lease queue.Lease, msg string) error {
	if err := w.cfg.State.Fail(ctx, w.cfg.Job.ID, msg); err != nil {
		return err
	}
	if err := w.cfg.Queue.Ack(ctx, lease.Receipt); err != nil && !errors.Is(err, queue.ErrLeaseLost) {
		return err
	}
	w.halt("job failed")
	return nil
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
