package executor

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"
)

// errRuntimeLimit is the cause of a worker's context once its runtime
// limit has passed: the platform's kill.
var errRuntimeLimit = errors.New("the worker's runtime limit has passed")

// Run runs a worker until it stops itself or ctx is done.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg.defaults()
	if cfg.Job == nil || cfg.Tiles == nil || cfg.Queue == nil || cfg.State == nil {
		return Report{}, errors.New("executor: a worker needs a job, tiles, a queue and a state store")
	}
	w := newWorker(cfg)
	if cfg.RuntimeLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = clock.WithTimeout(ctx, cfg.Clock, cfg.RuntimeLimit, errRuntimeLimit)
		defer cancel()
	}
	ctx, w.kill = context.WithCancel(ctx)
	defer w.kill()
	w.renew.start(ctx)
	beating := w.beat(ctx)
	var wg sync.WaitGroup
	for range cfg.Pipeline {
		wg.Go(func() { w.slot(ctx) })
	}
	wg.Wait()
	rep := w.retire(ctx)
	<-beating
	return rep, nil
}

// retire ends the worker once its slots have returned: it sends the
// acknowledgements still waiting (but for a crashed or killed worker),
// stops renewing leases and returns the report.
func (w *worker) retire(ctx context.Context) Report {
	if w.crashed.Load() || ctx.Err() != nil {
		w.acks.drop()
	} else {
		w.acks.flush(ctx)
	}
	w.acks.wait()
	w.halt("")
	w.kill()
	<-w.renew.Done()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.report.Stopped = w.cfg.Clock.Now()
	if w.mem != nil {
		w.report.PeakReserved = w.mem.peakBytes()
	}
	w.report.Abandoned = w.renew.inProgress()
	if w.crashed.Load() {
		w.report.Reason = "crashed"
	} else if w.report.Reason == "" {
		w.report.Reason = "cancelled"
	}
	w.cfg.Log.Info("worker stopped", "worker", w.cfg.ID, "reason", w.report.Reason, "tasks", w.report.Tasks)
	return w.report
}

// halt asks every slot to stop leasing; the first reason is kept.
func (w *worker) halt(reason string) {
	w.stopOnce.Do(func() {
		w.mu.Lock()
		w.report.Reason = reason
		w.mu.Unlock()
		close(w.stopped)
	})
}

func (w *worker) halting() bool {
	select {
	case <-w.stopped:
		return true
	default:
		return false
	}
}

// timeLeft reports whether a task leased now can still finish before the
// runtime limit. It may have to wait for the tasks already in flight,
// which share the one compute slot, so the estimate is the longest task
// so far times the tasks in flight plus one, with a margin of a half.
func (w *worker) timeLeft() bool {
	if w.deadline.IsZero() {
		return true
	}
	inFlight := w.renew.inProgress()
	need := time.Duration(w.longest.Load()) * time.Duration(inFlight+1) * 3 / 2
	return w.deadline.Sub(w.cfg.Clock.Now()) > need+w.cfg.Poll
}

// slot leases and runs one task at a time until the worker stops.
func (w *worker) slot(ctx context.Context) {
	recvCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-w.stopped:
			cancel() // stop waiting for tasks, but let running ones finish
		case <-recvCtx.Done():
		}
	}()
	errorsInARow := 0
	for !w.halting() {
		if !w.takeTurn(recvCtx) {
			return
		}
		leases, goOn := w.lease(ctx, recvCtx, &errorsInARow)
		if len(leases) == 0 {
			w.endTurn()
			if !goOn {
				return
			}
			continue
		}
		w.lastTask.Store(w.cfg.Clock.Now().UnixNano())
		if !w.handle(ctx, leases[0], sync.OnceFunc(w.endTurn)) {
			return
		}
	}
}

// takeTurn waits until this slot may lease: when no other task of the
// worker waits to compute. A worker so leases at most one task ahead of
// its compute slot, however wide its pipeline: the other slots carry
// tasks that are computing or writing. A wider lease-ahead would hoard
// tasks that idle workers could start at once, and, in a factorisation's
// narrow steps, hold the next panel's task behind updates (on 16
// emulated workers, width 4 took 31% longer than width 2 that way). It
// reports false once the worker halts.
func (w *worker) takeTurn(ctx context.Context) bool {
	select {
	case w.ahead <- struct{}{}:
		return true
	case <-w.stopped:
		return false
	case <-ctx.Done():
		return false
	}
}

// endTurn lets another slot lease: the task leased with the turn has the
// compute slot, or has ended without computing, or none was leased.
func (w *worker) endTurn() { <-w.ahead }

// lease receives a task for a slot that has the turn, and reports
// whether the slot goes on: not after a halt or a run of errors.
func (w *worker) lease(ctx, recvCtx context.Context, errorsInARow *int) ([]queue.Lease, bool) {
	if !w.timeLeft() {
		w.halt("runtime limit")
		return nil, false
	}
	leases, err := w.cfg.Queue.Receive(recvCtx, 1, w.cfg.Lease, w.cfg.Poll)
	if ctx.Err() != nil {
		if errors.Is(context.Cause(ctx), errRuntimeLimit) {
			w.halt("runtime limit")
		}
		return nil, false
	}
	if w.halting() {
		w.giveBack(ctx, leases) // leased as the worker halted
		return nil, false
	}
	if !w.received(err, errorsInARow) {
		return nil, false
	}
	if err != nil {
		// Wait before trying again, but not past a halt.
		w.cfg.Clock.Sleep(recvCtx, time.Duration(*errorsInARow)*100*time.Millisecond)
		return nil, true
	}
	if len(leases) == 0 {
		w.idle(ctx)
	}
	return leases, true
}

// received reports whether the slot goes on after a receive that returned
// err, counting the errors in a row: it halts the worker when the job's
// queue is gone or after five errors.
func (w *worker) received(err error, errorsInARow *int) bool {
	switch {
	case err == nil:
		*errorsInARow = 0
		return true
	case errors.Is(err, queue.ErrNoQueue):
		w.halt("the job's queue is gone")
		return false
	}
	*errorsInARow++
	w.cfg.Log.Warn("receive failed", "worker", w.cfg.ID, "err", err)
	if *errorsInARow >= 5 {
		w.halt("queue unreachable: " + err.Error())
		return false
	}
	return true
}

// giveBack makes leases the worker will not process visible again at
// once, rather than when they lapse.
func (w *worker) giveBack(ctx context.Context, leases []queue.Lease) {
	for _, l := range leases {
		if err := w.cfg.Queue.Extend(ctx, l.Receipt, 0); err != nil && !errors.Is(err, queue.ErrLeaseLost) {
			w.cfg.Log.Warn("giving a lease back failed", "worker", w.cfg.ID, "err", err)
		}
	}
}

// handle processes one leased task and reports whether the slot goes on: a
// crash (ErrCrash from a hook) kills the worker on the spot.
// endTurn is called once the task has the compute slot or has ended.
func (w *worker) handle(ctx context.Context, lease queue.Lease, endTurn func()) bool {
	defer endTurn()
	err := w.process(ctx, lease, endTurn)
	if errors.Is(err, ErrCrash) {
		w.crashed.Store(true)
		w.halt("crashed")
		w.kill()
		return false
	}
	if err != nil && ctx.Err() == nil {
		// The lease will lapse and the task will run again.
		w.cfg.Log.Warn("task abandoned", "worker", w.cfg.ID, "task", lease.Body, "err", err)
	}
	return true
}

// idle stops the worker after IdleTimeout without work or when the job
// has ended. A task in flight on another slot (a long one, or a chain of
// continued tasks) is work.
func (w *worker) idle(ctx context.Context) {
	now := w.cfg.Clock.Now()
	if w.renew.inProgress() > 0 {
		w.lastTask.Store(now.UnixNano())
	}
	if now.Sub(time.Unix(0, w.lastTask.Load())) >= w.cfg.IdleTimeout {
		w.halt("idle")
		return
	}
	st, err := w.cfg.State.Status(ctx, w.cfg.Job.ID)
	switch {
	case errors.Is(err, state.ErrNoJob):
		w.halt("job gone")
	case err == nil && st.Phase != state.Running:
		w.halt("job " + string(st.Phase))
	}
}
