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
// enqueueing them. A task whose reads or writes fail keeps coming back
// after a short backoff until MaxAttempts failures fail the job with the
// error; a kernel's failure fails the job at once, since the kernel would
// fail the same way on the same tiles; a task delivered MaxReceives times
// without finishing fails it too.
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
// like a one-core function, and leases at most one task ahead of it:
// the other slots carry tasks that are writing and recording. It stops itself after IdleTimeout without
// work, when the job ends, and before its RuntimeLimit: it never leases a
// task it might not finish in the time left.
package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/kernels"
	"github.com/npw-dev/npw/manifest"
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
	// Requests, when set, counts the requests the worker has made so far
	// to services of its own (a process's, a Lambda function's), for the
	// usage its heartbeats leave in the state store; a goroutine worker's
	// requests are its process's, which counts them itself.
	Requests func() Requests
	// FunctionMemoryMB is the memory of the Lambda function the worker
	// runs in (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, set by Serve), for its
	// report and usage; 0 elsewhere.
	FunctionMemoryMB int
	Log              *slog.Logger
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
	// PeakReserved is the most bytes of tiles its memory bound counted at
	// once (tasks in flight and cache): at most the limit, or past it by
	// tasks whose tiles are bigger than Block×Block (topUp).
	PeakReserved int64 `json:",omitzero"`
	// FunctionMemoryMB is the memory of the Lambda function the worker
	// ran in, as its configuration gave it (Config.FunctionMemoryMB); 0
	// elsewhere. Lambda bills GB-seconds of it.
	FunctionMemoryMB int `json:",omitempty"`
	// Spans are the tasks this worker completed first, with Config.Trace.
	Spans []Span `json:",omitempty"`
}

// A Span is when one task passed each phase on a worker: leased (its
// processing began), its tiles read, its kernel run, its outputs written,
// and its completion recorded.
type Span struct {
	Task                                  string
	Leased, Read, Computed, Written, Done time.Time
	Flops                                 float64 `json:",omitempty"` // the kernel's
}

// Requests counts requests to the tile store, the queue and the state store.
type Requests struct {
	Tiles, Queue, State int64
	// TilePutClass and TileGetClass count, of Tiles, the requests S3
	// bills at its higher rate (PUT, COPY, POST, LIST) and at its lower
	// (GET, HEAD); deletes are free.
	TilePutClass int64 `json:",omitempty"`
	TileGetClass int64 `json:",omitempty"`
}

// Add adds r2 to r.
func (r *Requests) Add(r2 Requests) {
	r.TilePutClass += r2.TilePutClass
	r.TileGetClass += r2.TileGetClass
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

	renew *renewer // extends the leases of the tasks in progress
	acks  *acks    // acknowledgements of finished tasks, sent in batches

	mu     sync.Mutex
	report Report

	lastTask atomic.Int64 // unix nanos of the last lease
	longest  atomic.Int64 // nanos of the longest task so far

	stopOnce sync.Once
	stopped  chan struct{}
	// ahead holds the turn to lease (takeTurn): the one task leased
	// but not yet computing.
	ahead   chan struct{}
	crashed atomic.Bool
	kill    context.CancelFunc
}

// newWorker makes a worker of cfg, which has its defaults, and sees what
// its tile store can do.
func newWorker(cfg Config) *worker {
	start := cfg.Clock.Now()
	w := &worker{cfg: cfg, plan: cfg.Job.Plan, start: start, stopped: make(chan struct{}), ahead: make(chan struct{}, 1),
		report: Report{Worker: cfg.ID, Started: start, BLAS: kernels.BLAS, FunctionMemoryMB: cfg.FunctionMemoryMB}}
	if p, ok := cfg.Tiles.(PrivateReader); ok {
		w.private = p.PrivateReads()
	}
	if l, ok := cfg.Tiles.(Lender); ok && l.Lends() && !w.private {
		w.lender = l
	}
	if cfg.Memory > 0 {
		w.mem = newBudget(cfg.Memory, cfg.Job.TileBytes())
	}
	if cfg.RuntimeLimit > 0 {
		w.deadline = start.Add(cfg.RuntimeLimit)
	}
	log := cfg.Log.With("worker", cfg.ID)
	w.renew = newRenewer(cfg.Queue, cfg.Lease, cfg.Clock, log)
	w.acks = newAcks(cfg.Queue, &w.crashed, cfg.Clock, log)
	w.lastTask.Store(start.UnixNano())
	return w
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
