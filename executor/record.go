package executor

import (
	"context"
	"fmt"
	"time"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"
)

// completion builds the state-store record of a finished task: its
// children with their parent counts, the scratch tiles it writes with
// their reader counts (sizes are filled in by write), and the scratch
// tiles it read.
func (w *worker) completion(node analysis.Node) (state.Completion, error) {
	c := state.Completion{Task: node.Key()}
	children, err := w.plan.Children(node, nil)
	if err != nil {
		return c, err
	}
	for _, ch := range children {
		deg, err := w.plan.Indegree(ch)
		if err != nil {
			return c, err
		}
		c.Children = append(c.Children, state.Edge{Child: ch.Key(), Indegree: deg})
	}
	reads, writes, err := w.plan.Tiles(node)
	if err != nil {
		return c, err
	}
	var readers []analysis.Node
	for _, t := range writes {
		if w.cfg.Job.Matrices[t.Matrix].Output {
			continue
		}
		if readers, err = w.plan.Readers(t, readers[:0]); err != nil {
			return c, err
		}
		c.Written = append(c.Written, state.Tile{Key: w.cfg.Job.Key(t), Readers: len(readers)})
	}
	seen := map[string]bool{}
	for _, t := range reads {
		if k := w.cfg.Job.Key(t); !w.cfg.Job.Matrices[t.Matrix].Output && !seen[k] {
			seen[k] = true
			c.Released = append(c.Released, k)
		}
	}
	return c, nil
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
	w.count(t, out)
	if err := w.hook(Completed, t.key); err != nil {
		return out, err
	}
	if err := w.enqueueReady(ctx, out.Ready, next); err != nil {
		return out, err
	}
	if err := w.hook(Enqueued, t.key); err != nil {
		return out, err
	}
	w.free(ctx, out.Free)
	if out.Phase != state.Running {
		w.halt("job " + string(out.Phase))
	}
	return out, nil
}

// count adds a recorded task to the worker's report, its duration to the
// estimate of the time a task takes, and its metrics to OnTask.
func (w *worker) count(t *task, out state.Outcome) {
	computed := !t.sp.Leased.IsZero()
	w.mu.Lock()
	if out.First {
		w.report.Tasks++
		if t.continued {
			w.report.Continued++
		}
		w.report.Metrics.Add(t.m)
		if w.cfg.Trace && computed {
			t.sp.Done = w.cfg.Clock.Now()
			w.report.Spans = append(w.report.Spans, t.sp)
		}
	} else {
		w.report.Replays++
	}
	w.mu.Unlock()
	if d := w.cfg.Clock.Since(t.sp.Leased); computed && d > time.Duration(w.longest.Load()) {
		w.longest.Store(int64(d))
	}
	if out.First && w.cfg.OnTask != nil {
		w.cfg.OnTask(TaskReport{Task: t.key, Kernel: w.plan.Kernel(t.node), Worker: w.cfg.ID, Metrics: t.m})
	}
}

// enqueueReady enqueues the ready children but next, which this worker
// continues with.
func (w *worker) enqueueReady(ctx context.Context, ready []string, next string) error {
	var msgs []queue.Message
	for _, key := range ready {
		if key == next {
			continue
		}
		child, err := w.plan.ParseKey(key)
		if err != nil {
			return err
		}
		msgs = append(msgs, queue.Message{Body: key, Priority: w.cfg.Job.Priority(child)})
	}
	if len(msgs) == 0 {
		return nil
	}
	return w.cfg.Queue.Send(ctx, msgs...)
}

// free deletes scratch tiles no task will read again, from the store and
// the worker's cache. A tile left behind costs room, not correctness.
func (w *worker) free(ctx context.Context, keys []string) {
	if len(keys) == 0 {
		return
	}
	if w.cache() {
		w.mem.forget(keys)
	}
	if err := w.cfg.Tiles.Delete(ctx, keys...); err != nil {
		w.cfg.Log.Warn("deleting scratch tiles failed", "worker", w.cfg.ID, "err", err)
	}
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

// send enqueues a task.
func (w *worker) send(ctx context.Context, t *task) error {
	return w.cfg.Queue.Send(ctx, queue.Message{Body: t.key, Priority: w.cfg.Job.Priority(t.node)})
}
