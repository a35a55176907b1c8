// Package executor is the worker: it leases tasks of one job from the
// queue and runs them, reading input tiles from the object store,
// computing with a kernel and writing the output tiles, then records the
// completion in the state store, enqueues the children that became ready
// and only then acknowledges the task.
//
// Everything is at least once. A worker renews its leases in the
// background; if it dies, the leases lapse and another worker runs the
// task again, which is harmless because tiles are written once with
// deterministic content and completion is idempotent. A task that is
// already done is not computed again, but its completion is replayed, so
// children are enqueued even if the worker that finished it died before
// enqueueing them. A task that fails keeps coming back after a short
// backoff until MaxAttempts failures fail the job with the error; a task
// delivered MaxReceives times without finishing fails it too.
//
// A kernel that transforms one of its inputs (S − X Yᵀ, C + A B, chol, the
// triangular solves) computes in that input's memory when the worker owns
// it: always on stores whose reads are private copies (S3, files), and on
// the memory store for a scratch tile only this task reads, which the
// store lends it (blockstore.Lender) instead of the kernel copying it.
// A borrowed tile goes back if the task stops before computing; computing
// and writing the outputs are one step, after which the loan is spent and
// a later attempt that finds it so only records the completion.
//
// Where tiles travel through a store (S3, files), a worker that has
// computed a task continues with one of the task's children that its
// completion makes ready: it computes it at once from the outputs in
// memory, while they are written and the completion recorded in the
// background, and keeps its compute slot for it. A factorisation's
// critical path then stays on one worker instead of waiting, at every
// step, for a write, a trip through the queue and a read. A continued task
// has no message of its own: the leased task the chain started from stays
// leased until the chain's last task is recorded, each completion records
// the task continued with, and a replay of the leased task follows them.
//
// Up to Pipeline tasks are in flight, so one task's reads and writes
// overlap another's computation; the worker computes one task at a time,
// like a one-core function. It stops itself after IdleTimeout without
// work, when the job ends, and before its RuntimeLimit: it never leases a
// task it might not finish in the time left.
package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/kernels"
	lp "github.com/npw-dev/npw/lambdapack"
	"github.com/npw-dev/npw/manifest"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"
)

// Config configures a worker. Zero durations and counts take defaults.
type Config struct {
	Job   *manifest.Job
	Tiles Tiles
	Queue Queue
	State State
	ID    string // names the worker in logs and reports

	Settings
	// Clock is the worker's time (default clock.Real).
	Clock clock.Clock

	// Kernel finds a kernel by name (default kernels.Lookup).
	Kernel func(name string) (*kernels.Kernel, bool)
	// Hook, when set, is called as each task passes each phase; returning
	// ErrCrash kills the worker on the spot, as a crash would.
	Hook func(phase Phase, task string) error
	// OnTask, when set, receives the metrics of every task this worker
	// completes first.
	OnTask func(TaskReport)
	Log    *slog.Logger
}

// A TaskReport is what one task cost.
type TaskReport struct {
	Task, Kernel string
	Worker       string
	state.Metrics
}

// A Phase is a point in the life of a task on a worker.
type Phase string

const (
	Leased    Phase = "leased"
	Read      Phase = "read"
	Computed  Phase = "computed"
	Written   Phase = "written"
	Completed Phase = "completed" // recorded in the state store, children not yet enqueued
	Enqueued  Phase = "enqueued"  // children enqueued, task not yet acknowledged
)

// ErrCrash, returned by a Hook, makes the worker stop dead: no more
// requests, no acknowledgements, no lease renewals.
var ErrCrash = errors.New("worker crashed")

// A Report says what a worker did.
type Report struct {
	Worker           string
	Started, Stopped time.Time
	Tasks            int // tasks this worker completed first
	Replays          int // deliveries of done tasks whose completion it replayed
	Failures         int // failed attempts
	Abandoned        int // tasks in flight when the worker was killed, left to lapse
	Reason           string
	// Continued counts the tasks it completed first right after their
	// parent, from the parent's outputs in memory, without a trip through
	// the queue.
	Continued int `json:",omitempty"`
	// BLAS names the BLAS the worker's kernels ran on (kernels.BLAS of
	// its binary: "openblas" or "gonum").
	BLAS    string `json:",omitempty"`
	Metrics state.Metrics
	// Requests counts the requests this worker made to each service; set
	// by Serve for workers with services of their own (processes,
	// Lambda functions).
	Requests Requests `json:",omitzero"`
	// PeakRSS is the peak resident memory of the worker's process in
	// bytes, set by Serve (a goroutine worker shares its process).
	PeakRSS int64 `json:",omitzero"`
	// Spans are the tasks this worker completed first, with Config.Trace.
	Spans []Span `json:",omitempty"`
}

// A Span is when one task passed each phase on a worker: leased (its
// processing began), its tiles read, its kernel run, its outputs written,
// and its completion recorded.
type Span struct {
	Task                                  string
	Leased, Read, Computed, Written, Done time.Time
}

// Requests counts requests to the tile store, the queue and the state store.
type Requests struct {
	Tiles, Queue, State int64
}

// Add adds r2 to r.
func (r *Requests) Add(r2 Requests) {
	r.Tiles += r2.Tiles
	r.Queue += r2.Queue
	r.State += r2.State
}

func (c *Config) defaults() {
	c.Settings = c.Settings.WithDefaults()
	c.Clock = clock.Or(c.Clock)
	if c.Kernel == nil {
		c.Kernel = kernels.Lookup
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

type worker struct {
	cfg        Config
	plan       *analysis.Plan
	start      time.Time
	deadline   time.Time // zero without a runtime limit
	kernelSlot computeSlot
	mem        *budget // nil without Config.Memory
	// private: the tile store's reads are this worker's own memory
	// (S3, files), so a kernel may update its first input in place.
	private bool
	// lender, when set, is a tile store in this process that lends
	// scratch tiles to update in place (the memory store).
	lender Lender

	mu     sync.Mutex
	active map[string]bool // receipts of tasks in progress
	report Report

	lastTask atomic.Int64 // unix nanos of the last lease
	longest  atomic.Int64 // nanos of the longest task so far

	stopOnce sync.Once
	stopped  chan struct{}
	crashed  atomic.Bool
	acks     acks // acknowledgements of finished tasks, sent in batches
	kill     context.CancelFunc
}

// Run runs a worker until it stops itself or ctx is done.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg.defaults()
	if cfg.Job == nil || cfg.Tiles == nil || cfg.Queue == nil || cfg.State == nil {
		return Report{}, errors.New("executor: a worker needs a job, tiles, a queue and a state store")
	}
	w := &worker{cfg: cfg, plan: cfg.Job.Plan, start: time.Now(),
		active: map[string]bool{}, stopped: make(chan struct{})}
	if p, ok := cfg.Tiles.(interface{ PrivateReads() bool }); ok {
		w.private = p.PrivateReads()
	}
	if l, ok := cfg.Tiles.(Lender); ok && l.Lends() && !w.private {
		w.lender = l
	}
	if cfg.Memory > 0 {
		w.mem = newBudget(cfg.Memory, cfg.Job.TileBytes())
	}
	w.acks.w = w
	w.report = Report{Worker: cfg.ID, Started: w.start, BLAS: kernels.BLAS}
	w.lastTask.Store(w.start.UnixNano())
	if cfg.RuntimeLimit > 0 {
		w.deadline = w.start.Add(cfg.RuntimeLimit)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, w.deadline) // the platform's kill
		defer cancel()
	}
	ctx, w.kill = context.WithCancel(ctx)
	defer w.kill()
	renewDone := make(chan struct{})
	go func() {
		defer close(renewDone)
		w.renew(ctx)
	}()
	var wg sync.WaitGroup
	for range cfg.Pipeline {
		wg.Go(func() { w.slot(ctx) })
	}
	wg.Wait()
	if w.crashed.Load() || ctx.Err() != nil {
		w.acks.drop()
	} else {
		w.acks.flush(ctx)
	}
	w.halt("")
	w.kill()
	<-renewDone
	w.mu.Lock()
	defer w.mu.Unlock()
	w.report.Stopped = time.Now()
	w.report.Abandoned = len(w.active)
	if w.crashed.Load() {
		w.report.Reason = "crashed"
	} else if w.report.Reason == "" {
		w.report.Reason = "cancelled"
	}
	cfg.Log.Info("worker stopped", "worker", cfg.ID, "reason", w.report.Reason, "tasks", w.report.Tasks)
	return w.report, nil
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
	w.mu.Lock()
	inFlight := len(w.active)
	w.mu.Unlock()
	need := time.Duration(w.longest.Load()) * time.Duration(inFlight+1) * 3 / 2
	return time.Until(w.deadline) > need+w.cfg.Poll
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
		if !w.timeLeft() {
			w.halt("runtime limit")
			return
		}
		leases, err := w.cfg.Queue.Receive(recvCtx, 1, w.cfg.Lease, w.cfg.Poll)
		if ctx.Err() != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				w.halt("runtime limit")
			}
			return
		}
		if w.halting() {
			return
		}
		if errors.Is(err, queue.ErrNoQueue) {
			w.halt("the job's queue is gone")
			return
		}
		if err != nil {
			errorsInARow++
			w.cfg.Log.Warn("receive failed", "worker", w.cfg.ID, "err", err)
			if errorsInARow >= 5 {
				w.halt("queue unreachable: " + err.Error())
				return
			}
			time.Sleep(time.Duration(errorsInARow) * 100 * time.Millisecond)
			continue
		}
		errorsInARow = 0
		if len(leases) == 0 {
			w.idle(ctx)
			continue
		}
		w.lastTask.Store(time.Now().UnixNano())
		err = w.process(ctx, leases[0])
		if errors.Is(err, ErrCrash) {
			w.crashed.Store(true)
			w.halt("crashed")
			w.kill()
			return
		}
		if err != nil && ctx.Err() == nil {
			// The lease will lapse and the task will run again.
			w.cfg.Log.Warn("task abandoned", "worker", w.cfg.ID, "task", leases[0].Body, "err", err)
		}
	}
}

// idle stops the worker after IdleTimeout without work or when the job
// has ended. A task in flight on another slot (a long one, or a chain of
// continued tasks) is work.
func (w *worker) idle(ctx context.Context) {
	w.mu.Lock()
	busy := len(w.active) > 0
	w.mu.Unlock()
	if busy {
		w.lastTask.Store(time.Now().UnixNano())
	}
	if time.Since(time.Unix(0, w.lastTask.Load())) >= w.cfg.IdleTimeout {
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

// renew extends the leases of tasks in progress every Lease/3.
func (w *worker) renew(ctx context.Context) {
	tick := time.NewTicker(w.cfg.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		w.mu.Lock()
		receipts := make([]string, 0, len(w.active))
		for r := range w.active {
			receipts = append(receipts, r)
		}
		w.mu.Unlock()
		for _, r := range receipts {
			if err := w.cfg.Queue.Extend(ctx, r, w.cfg.Lease); err != nil && ctx.Err() == nil {
				w.cfg.Log.Warn("lease renewal failed", "worker", w.cfg.ID, "err", err)
				if errors.Is(err, queue.ErrLeaseLost) {
					w.setActive(r, false)
				}
			}
		}
	}
}

func (w *worker) setActive(receipt string, on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if on {
		w.active[receipt] = true
	} else {
		delete(w.active, receipt)
	}
}

func (w *worker) hook(p Phase, task string) error {
	if w.cfg.Hook == nil {
		return nil
	}
	return w.cfg.Hook(p, task)
}

func (w *worker) describe(n analysis.Node) string {
	return fmt.Sprintf("%s (%s)", w.plan.Describe(n), w.plan.Position(n))
}

// cache says whether the worker keeps tiles for its later tasks: with a
// memory bound to keep them in, and private reads (a tile read from the
// store is the worker's own memory).
func (w *worker) cache() bool { return w.mem != nil && w.private }

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

// read fetches the distinct input tiles in parallel; a tile read twice is
// one value, which lets syrk see that X and Y are the same tile. Tiles in
// the worker's cache are not fetched: those at the positions in update
// (which the kernel may overwrite) leave the cache (or are copied from
// it while another task reads them), the others are borrowed from it.
// The tiles under lendKeys are borrowed from the lending store; if a read
// fails, they go back. Those in handed (a task's outputs, handed to the
// task continuing it) are neither fetched nor modified.
func (w *worker) read(ctx context.Context, reads []analysis.Tile, update []int, lendKeys []string, handed map[string]blas64.General, m *state.Metrics) (taskInputs, error) {
	byKey := map[string]int{}
	var keys []string
	slot := make([]int, len(reads))
	for i, t := range reads {
		k := w.cfg.Job.Key(t)
		j, ok := byKey[k]
		if !ok {
			j = len(keys)
			byKey[k] = j
			keys = append(keys, k)
		}
		slot[i] = j
	}
	tiles := make([]blas64.General, len(keys))
	sizes := make([]int, len(keys))
	hit := make([]bool, len(keys))
	borrowed := make([]bool, len(keys))
	var lent []*cached
	for j, k := range keys {
		if t, ok := handed[k]; ok {
			tiles[j], borrowed[j], hit[j] = t, true, true
		}
	}
	if w.cache() {
		for j, k := range keys {
			if hit[j] {
				continue
			}
			take := false
			for _, i := range update {
				take = take || i < len(slot) && slot[i] == j
			}
			t, c, copyIt, ok := w.mem.lookup(k, take)
			hit[j] = ok
			switch {
			case copyIt:
				tiles[j] = kernels.Clone(t)
				w.mem.giveBack([]*cached{c})
			case c != nil:
				tiles[j], borrowed[j] = t, true
				lent = append(lent, c)
			default:
				tiles[j] = t
			}
		}
	}
	var (
		loansMu sync.Mutex
		loans   []string
	)
	g, gctx := errgroup.WithContext(ctx)
	for j, k := range keys {
		if hit[j] {
			continue
		}
		g.Go(func() error {
			get := w.cfg.Tiles.GetTile
			if slices.Contains(lendKeys, k) {
				get = w.lender.LendTile
			}
			t, n, err := get(gctx, k)
			if err != nil {
				return &readError{tile: reads[indexOf(slot, j)], err: err}
			}
			if slices.Contains(lendKeys, k) {
				loansMu.Lock()
				loans = append(loans, k)
				loansMu.Unlock()
			}
			tiles[j], sizes[j] = t, n
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		w.mem.giveBack(lent)
		w.returnLoans(loans)
		return taskInputs{}, err
	}
	in := taskInputs{tiles: make([]blas64.General, len(reads)), keys: make([]string, len(reads)),
		borrowed: make([]bool, len(reads)), fetched: make([]bool, len(reads)), lent: lent, loans: loans}
	for i, j := range slot {
		in.tiles[i], in.keys[i], in.borrowed[i], in.fetched[i] = tiles[j], keys[j], borrowed[j], !hit[j]
	}
	for j, n := range sizes {
		m.BytesRead += int64(n)
		if hit[j] {
			m.CacheHits++
		}
	}
	return in, nil
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
		if m := &w.cfg.Job.Matrices[t.Matrix]; m.Output || m.Aliased(t.Indices()) {
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

func indexOf(slot []int, j int) int {
	for i, s := range slot {
		if s == j {
			return i
		}
	}
	return 0
}

type readError struct {
	tile analysis.Tile
	err  error
}

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

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
	t.outputs, t.updated, err = w.kernel(t.node, t.k, t.reads, t.in, t.update, scalars, &t.m)
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
	t0 := time.Now()
	out, err = runK(inputs, scalars)
	m.ComputeSeconds = time.Since(t0).Seconds()
	if err != nil {
		return nil, false, fmt.Errorf("kernel %s on %s: %w", name, w.tileList(reads, inputs), err)
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

// write stores a task's output tiles in parallel, recording the sizes of
// the scratch tiles in its completion and the time in its metrics and
// span. A scratch tile that no task reads is not written.
func (w *worker) write(ctx context.Context, t *task) error {
	writes, outputs, c, m := t.writes, t.outputs, &t.c, &t.m
	t0 := time.Now()
	defer func() {
		t.sp.Written = time.Now()
		m.WriteSeconds = t.sp.Written.Sub(t0).Seconds()
	}()
	if len(outputs) != len(writes) {
		return fmt.Errorf("kernel returned %d tiles for %d outputs", len(outputs), len(writes))
	}
	sizes := make([]int64, len(writes))
	dead := map[string]bool{}
	for _, t := range c.Written {
		if t.Readers == 0 {
			dead[t.Key] = true
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for i, t := range writes {
		key := w.cfg.Job.Key(t)
		if dead[key] {
			continue
		}
		g.Go(func() error {
			n, err := w.cfg.Tiles.AdoptTile(gctx, key, outputs[i])
			sizes[i] = int64(n)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, t := range writes {
		m.BytesWritten += sizes[i]
		for j := range c.Written {
			if c.Written[j].Key == w.cfg.Job.Key(t) {
				c.Written[j].Bytes = sizes[i]
			}
		}
	}
	return nil
}

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
