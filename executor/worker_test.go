package executor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// harness is one job on fresh memory services, ready for workers.
type harness struct {
	job   *manifest.Job
	tiles *blockstore.Store
	queue *queue.Queue
	state *state.Store
	tasks int64
}

// newHarness sets up a TSQR job over n row blocks of 4×3 on the memory
// store.
func newHarness(t *testing.T, n int) *harness {
	t.Helper()
	return newHarnessOn(t, n, blockstore.NewStore(blockstore.NewMemDriver(), "mem://"))
}

// newFilesHarness sets up the TSQR job of newHarness on a file store
// (private reads: kernels update in place, workers continue tasks), with
// a queue that counts its receives.
func newFilesHarness(t *testing.T, n int) (*harness, *countingQueue) {
	t.Helper()
	files, err := blockstore.Open(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	h := newHarnessOn(t, n, files)
	return h, &countingQueue{Queue: h.queue}
}

// newHarnessOn sets up the job of newHarness with its tiles in tiles.
func newHarnessOn(t *testing.T, n int, tiles *blockstore.Store) *harness {
	t.Helper()
	ctx := context.Background()
	prog, err := lp.LoadProgram("tsqr")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := analysis.NewPlan(prog, map[string]lp.Value{"N": lp.Int(int64(n))})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{tiles: tiles, state: state.New(state.NewMemDriver(), "mem://")}
	h.job = &manifest.Job{ID: "test", Plan: plan}
	for _, m := range prog.Matrices {
		h.job.Matrices = append(h.job.Matrices, manifest.Matrix{BigMatrix: blockstore.BigMatrix{Name: m.Name, Prefix: "jobs/test", Arity: m.Arity, Block: 4}, Output: m.Name == "R"})
	}
	a := blas64.General{Rows: 4 * n, Cols: 3, Stride: 3, Data: make([]float64, 12*n)}
	for i := range a.Data {
		a.Data[i] = float64((i*7919)%13) - 6
	}
	if _, _, err := blockstore.Upload(ctx, h.tiles, &h.job.Matrices[0].BigMatrix, a, 4); err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open(ctx, "mem://executor-test", fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	h.queue = q
	if h.tasks, err = plan.Count(); err != nil {
		t.Fatal(err)
	}
	if err := h.state.CreateJob(ctx, state.Job{ID: "test", Tasks: h.tasks}); err != nil {
		t.Fatal(err)
	}
	starters, _ := plan.Starters()
	for _, s := range starters {
		if err := q.Send(ctx, queue.Message{Body: s.Key(), Priority: plan.Priority(s)}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { q.Destroy(context.Background()) })
	return h
}

func (h *harness) config(id string) Config {
	return Config{Job: h.job, Tiles: h.tiles, Queue: h.queue, State: h.state, ID: id, Settings: Settings{
		Lease: time.Second, Poll: 10 * time.Millisecond, IdleTimeout: time.Second}}
}

// slowKernels wraps every kernel with a delay and counts runs per task.
func slowKernels(d time.Duration, runs *sync.Map) func(string) (*kernels.Kernel, bool) {
	return func(name string) (*kernels.Kernel, bool) {
		k, ok := kernels.Lookup(name)
		if !ok {
			return nil, false
		}
		return &kernels.Kernel{Name: name, Flops: k.Flops, Run: func(in []blas64.General, sc []lp.Value) ([]blas64.General, error) {
			if runs != nil {
				n, _ := runs.LoadOrStore(fmt.Sprint(in[0].Data[:1], len(in)), new(int))
				*n.(*int)++
			}
			time.Sleep(d)
			return k.Run(in, sc)
		}}, true
	}
}

func TestWorkerRunsJobAlone(t *testing.T) {
	h := newHarness(t, 9)
	cfg := h.config("solo")
	cfg.Pipeline = 3
	var mu sync.Mutex
	var reports []TaskReport
	cfg.OnTask = func(r TaskReport) {
		mu.Lock()
		reports = append(reports, r)
		mu.Unlock()
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reason != "job done" || int64(rep.Tasks) != h.tasks {
		t.Fatalf("report %+v, want job done after %d tasks", rep, h.tasks)
	}
	if int64(len(reports)) != h.tasks {
		t.Fatalf("%d task reports for %d tasks", len(reports), h.tasks)
	}
	for _, r := range reports {
		if r.Worker != "solo" || r.Kernel == "" || (r.Kernel == "qr_factor" && r.Flops <= 0) || r.BytesRead <= 0 {
			t.Fatalf("task report %+v", r)
		}
	}
	// V and T tiles have no readers and are not outputs: never written.
	keys, _ := h.tiles.List(context.Background(), "jobs/test/")
	for _, k := range keys {
		if strings.HasPrefix(k, "jobs/test/V/") || strings.HasPrefix(k, "jobs/test/T/") {
			t.Errorf("unread scratch tile %s was written", k)
		}
	}
	if _, err := h.tiles.Get(context.Background(), "jobs/test/R/0_4.npy"); err != nil {
		t.Errorf("the final R tile is missing: %v", err)
	}
}

// fakeKernels wraps every kernel so that it takes d of the fake clock's
// time.
func fakeKernels(fake *clock.Fake, d time.Duration) func(string) (*kernels.Kernel, bool) {
	return func(name string) (*kernels.Kernel, bool) {
		k, ok := kernels.Lookup(name)
		if !ok {
			return nil, false
		}
		return &kernels.Kernel{Name: name, Flops: k.Flops, Run: func(in []blas64.General, sc []lp.Value) ([]blas64.General, error) {
			fake.Advance(d)
			return k.Run(in, sc)
		}}, true
	}
}

// countingQueue counts the receives begun and returned, and the leases.
type countingQueue struct {
	Queue
	begun, receives, leases atomic.Int64
}

func (q *countingQueue) Receive(ctx context.Context, max int, visibility, wait time.Duration) ([]queue.Lease, error) {
	q.begun.Add(1)
	ls, err := q.Queue.Receive(ctx, max, visibility, wait)
	q.leases.Add(int64(len(ls)))
	q.receives.Add(1)
	return ls, err
}

// countingState counts the worker's status requests: one per idle check
// that did not stop it.
type countingState struct {
	State
	statuses atomic.Int64
}

func (s *countingState) Status(ctx context.Context, job string) (state.Status, error) {
	defer s.statuses.Add(1)
	return s.State.Status(ctx, job)
}

// runAsync runs a worker in the background.
func runAsync(cfg Config) <-chan Report {
	done := make(chan Report, 1)
	go func() {
		rep, _ := Run(context.Background(), cfg)
		done <- rep
	}()
	return done
}

// waitFor waits, in real time, until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// TestRuntimeLimit checks that a worker stops before its limit without
// leasing a task it cannot finish: nothing is left leased. Its kernels
// take 60ms each of the worker's (fake) time.
func TestRuntimeLimit(t *testing.T) {
	h := newHarness(t, 16)
	cfg := h.config("limited")
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg.Clock = fake
	cfg.Kernel = fakeKernels(fake, 60*time.Millisecond)
	cfg.RuntimeLimit = 500 * time.Millisecond
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reason != "runtime limit" || rep.Tasks < 2 || int64(rep.Tasks) >= h.tasks {
		t.Fatalf("report %+v", rep)
	}
	if d := rep.Stopped.Sub(rep.Started); d > cfg.RuntimeLimit {
		t.Errorf("worker ran %v, past its limit %v", d, cfg.RuntimeLimit)
	}
	_, inflight, _ := h.queue.Depth(context.Background())
	if inflight != 0 {
		t.Errorf("%d tasks left leased by a worker that stopped in time: %+v", inflight, rep)
	}
}

// TestRuntimeLimitKills checks that a worker waiting for a task when its
// runtime limit passes on its clock stops, for that reason, and not
// before.
func TestRuntimeLimitKills(t *testing.T) {
	h := newHarness(t, 2)
	ls, _ := h.queue.Receive(context.Background(), 10, time.Minute, 0) // nothing to lease
	q := &countingQueue{Queue: h.queue}
	cfg := h.config("killed")
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg.Queue, cfg.Clock, cfg.Pipeline = q, fake, 1
	// A receive waits a minute of real time, so only the limit ends it.
	cfg.Poll, cfg.RuntimeLimit, cfg.IdleTimeout = time.Minute, time.Hour, 2*time.Hour
	done := runAsync(cfg)
	waitFor(t, "the worker waits for a task", func() bool { return q.begun.Load() == 1 })
	fake.Advance(time.Hour - time.Second)
	select {
	case rep := <-done:
		t.Fatalf("the worker stopped a second before its limit: %+v", rep)
	case <-time.After(20 * time.Millisecond):
	}
	rep := advanceToStop(t, fake, time.Second, done, "its runtime limit")
	if rep.Reason != "runtime limit" || len(ls) == 0 || q.receives.Load() != 1 {
		t.Fatalf("report %+v after %d receives", rep, q.receives.Load())
	}
	if d := rep.Stopped.Sub(rep.Started); d != time.Hour {
		t.Errorf("stopped after %v of its clock with a runtime limit of 1h", d)
	}
}

// TestIdleTimeout checks that a worker without work stops once
// IdleTimeout has passed on its clock, and not before.
func TestIdleTimeout(t *testing.T) {
	h := newHarness(t, 2)
	// Drain the queue so the worker finds nothing.
	ls, _ := h.queue.Receive(context.Background(), 10, time.Minute, 0)
	cfg := h.config("idle")
	st := &countingState{State: h.state}
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg.State, cfg.Clock, cfg.Pipeline = st, fake, 1
	cfg.IdleTimeout = 10 * time.Second
	done := runAsync(cfg)
	if err := fake.BlockUntil(context.Background(), 1); err != nil { // the renewal ticker: the worker has started
		t.Fatal(err)
	}
	fake.Advance(cfg.IdleTimeout - time.Millisecond)
	// Two idle checks that did not stop the worker: the second began
	// after the advance.
	base := st.statuses.Load()
	waitFor(t, "two idle checks after the advance", func() bool { return st.statuses.Load() >= base+2 })
	select {
	case rep := <-done:
		t.Fatalf("the worker stopped before its idle timeout: %+v", rep)
	default:
	}
	rep := advanceToStop(t, fake, time.Millisecond, done, "its idle timeout")
	if rep.Reason != "idle" || len(ls) == 0 {
		t.Fatalf("report %+v", rep)
	}
	if d := rep.Stopped.Sub(rep.Started); d != cfg.IdleTimeout {
		t.Errorf("stopped after %v of its clock with an idle timeout of %v", d, cfg.IdleTimeout)
	}
}

// failingKernels fail qr_factor on tasks of n inputs, counting its runs.
func failingKernels(n int, runs *atomic.Int64) func(string) (*kernels.Kernel, bool) {
	return func(name string) (*kernels.Kernel, bool) {
		k, ok := kernels.Lookup(name)
		if !ok || name != "qr_factor" {
			return k, ok
		}
		failing := *k
		fail := func(run func([]blas64.General, []lp.Value) ([]blas64.General, error)) func([]blas64.General, []lp.Value) ([]blas64.General, error) {
			return func(in []blas64.General, sc []lp.Value) ([]blas64.General, error) {
				if len(in) != n {
					return run(in, sc)
				}
				runs.Add(1)
				return nil, errors.New("the tile is rank deficient (injected)")
			}
		}
		failing.Run = fail(k.Run)
		if k.Update != nil {
			failing.Update = fail(k.Update)
		}
		return &failing, true
	}
}

// A kernel's failure is deterministic: it fails the job at the first,
// also on a store of private reads, where an attempt could be tried
// again, and for a task the worker continued with.
func TestKernelFailureFailsJobAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inputs int   // the failing qr_factor's: 1 for a starter, 2 for the merge
		leases int64 // the worker leases before the job fails
	}{{"leased", 1, 1}, {"continued", 2, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h, q := newFilesHarness(t, 2)
			cfg := h.config("failing")
			var runs atomic.Int64
			cfg.Queue, cfg.Pipeline, cfg.Kernel = q, 1, failingKernels(tc.inputs, &runs)
			rep, err := Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Reason != "job failed" || rep.Failures != 1 || runs.Load() != 1 || q.leases.Load() != tc.leases {
				t.Fatalf("report %+v, the failing kernel ran %d times, %d leases (want %d)", rep, runs.Load(), q.leases.Load(), tc.leases)
			}
			st, err := h.state.Status(ctx, "test")
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"task qr_factor(", ") failed: kernel qr_factor on tile ", "rank deficient (injected)"} {
				if st.Phase != state.Failed || !strings.Contains(st.Error, want) {
					t.Errorf("job %s with error %q, want it failed saying %q", st.Phase, st.Error, want)
				}
			}
		})
	}
}

// TestLeaseRenewal runs tasks three times longer than the lease on two
// workers: renewal keeps each task with one worker. The lease is long
// enough that a lapse takes a stall of 200 ms between two renewals (a
// lease of 90 ms lapsed once in CI, beside the process-worker tests).
func TestLeaseRenewal(t *testing.T) {
	h := newHarness(t, 4)
	var runs sync.Map
	var wg sync.WaitGroup
	var mu sync.Mutex
	var reports []Report
	for i := range 2 {
		cfg := h.config(fmt.Sprint("w", i))
		cfg.Lease = 300 * time.Millisecond
		cfg.Kernel = slowKernels(900*time.Millisecond, &runs)
		wg.Go(func() {
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			reports = append(reports, rep)
			mu.Unlock()
		})
	}
	wg.Wait()
	total := 0
	for _, r := range reports {
		total += r.Tasks + r.Replays
	}
	if int64(total) != h.tasks {
		t.Errorf("%d deliveries handled for %d tasks: some lease lapsed and a task ran twice", total, h.tasks)
	}
	runs.Range(func(k, v any) bool {
		if *v.(*int) != 1 {
			t.Errorf("kernel input %v computed %d times", k, *v.(*int))
		}
		return true
	})
}

// A worker with a memory bound reads a task only when its tiles fit next
// to those of the tasks in flight: with room for one task's tiles, its
// pipeline slots take turns; with room for all, they overlap.
func TestMemoryBound(t *testing.T) {
	for _, tc := range []struct {
		memory  int64
		overlap bool
	}{{1, false}, {1 << 30, true}} {
		h := newHarness(t, 16)
		cfg := h.config("bounded")
		cfg.Pipeline = 3
		cfg.Memory = tc.memory
		cfg.Kernel = slowKernels(5*time.Millisecond, nil)
		var mu sync.Mutex
		inFlight, most := 0, 0
		cfg.Hook = func(p Phase, _ string) error {
			mu.Lock()
			defer mu.Unlock()
			switch p {
			case Read:
				inFlight++
				most = max(most, inFlight)
			case Written:
				inFlight--
			}
			return nil
		}
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Reason != "job done" {
			t.Fatalf("memory %d: the worker stopped: %s", tc.memory, rep.Reason)
		}
		if tc.overlap != (most > 1) {
			t.Errorf("memory %d: at most %d tasks between their reads and writes", tc.memory, most)
		}
	}
}

// A task whose tiles are bigger than Block×Block (a stacked panel) counts
// them at their size once read, and the report says the most the bound
// counted: here TSQR's 4×3 tiles under a block of 2 (TileBytes
// 32 B), so a leaf's qr_factor (a 96 B tile in, and its outputs and
// workspace at 96 B each) holds at least 384 B, not its 4+ tiles of 32 B.
func TestReservationGrowsToRealTiles(t *testing.T) {
	for _, tc := range []struct {
		block    int
		min, max int64
	}{{4, 512, 1 << 20}, {2, 384, 1 << 20}} {
		h := newHarness(t, 8)
		for i := range h.job.Matrices {
			h.job.Matrices[i].Block = tc.block
		}
		cfg := h.config("stacked")
		cfg.Pipeline = 2
		cfg.Memory = 1 // tasks one at a time
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Reason != "job done" {
			t.Fatalf("block %d: the worker stopped: %s", tc.block, rep.Reason)
		}
		if rep.PeakReserved < tc.min || rep.PeakReserved > tc.max {
			t.Errorf("block %d: the bound counted at most %d B, want %d to %d", tc.block, rep.PeakReserved, tc.min, tc.max)
		}
	}
}

func TestBudget(t *testing.T) {
	b := newBudget(10, 0)
	ctx := context.Background()
	if err := b.acquire(ctx, 15); err != nil { // alone, a task larger than the bound runs
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := b.acquire(short, 1); err == nil {
		t.Fatal("acquired past the bound")
	}
	done := make(chan error)
	go func() { done <- b.acquire(ctx, 6) }()
	b.release(15)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := b.acquire(ctx, 4); err != nil { // 6 + 4 fit
		t.Fatal(err)
	}
	// A continuation takes room only if it fits now, never alone.
	if b.tryAcquire(1) {
		t.Fatal("tryAcquire reserved past the bound")
	}
	b.release(10)
	if b.tryAcquire(15) {
		t.Fatal("tryAcquire reserved a task larger than the bound")
	}
	if !b.tryAcquire(10) {
		t.Fatal("tryAcquire refused room that was free")
	}
	b.grow(7) // a task's tiles turned out bigger: counted in the peak, not against the limit
	if got := b.peakBytes(); got != 17 {
		t.Errorf("peak %d, want 17", got)
	}
	b.shrink(7)
	b.release(10)
	if !b.tryAcquire(10) {
		t.Fatal("tryAcquire refused room that was free")
	}
}

// The cache lends tiles, hands a tile over to a task that will modify it
// only when no task is reading it, keeps within the bound less the slack,
// and gives up its oldest tiles when a task needs the room.
func TestTileCache(t *testing.T) {
	tile := func(v float64) blas64.General {
		g := kernels.NewTile(2, 2)
		g.Data[0] = v
		return g
	}
	b := newBudget(100, 10)
	ctx := context.Background()
	b.keep("a", tile(1), 40)
	b.keep("b", tile(2), 40)
	b.keep("c", tile(3), 40) // 120 > 90: "a", the oldest, makes room
	if _, _, _, ok := b.lookup("a", false); ok {
		t.Fatal(`"a" still cached past the bound`)
	}
	g, lent, cp, ok := b.lookup("b", false)
	if !ok || lent == nil || cp || g.Data[0] != 2 {
		t.Fatalf(`lookup "b": %v %v %v %v`, g.Data, lent, cp, ok)
	}
	// "b" is lent: a task that modifies it gets told to copy it.
	if _, lent2, cp, ok := b.lookup("b", true); !ok || !cp {
		t.Fatal(`a lent tile was handed over`)
	} else {
		b.giveBack([]*cached{lent2})
	}
	b.giveBack([]*cached{lent})
	if _, lent, cp, ok := b.lookup("b", true); !ok || lent != nil || cp {
		t.Fatal(`a tile no task reads was not handed over`)
	}
	if _, _, _, ok := b.lookup("b", false); ok {
		t.Fatal(`a tile handed over is still cached`)
	}
	// A task's reservation evicts the cache down to the bound less slack.
	if err := b.acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := b.lookup("c", false); ok {
		t.Fatal(`"c" still cached next to a task of 60 (bound 100, slack 10)`)
	}
	b.keep("d", tile(4), 40) // 60 + 40 > 90: not kept
	if _, _, _, ok := b.lookup("d", false); ok {
		t.Fatal(`"d" cached past the bound`)
	}
	b.release(60)
	b.keep("e", tile(5), 40)
	b.forget([]string{"e"})
	if _, _, _, ok := b.lookup("e", false); ok || b.cached != 0 {
		t.Fatalf(`"e" cached after forget (%d bytes cached)`, b.cached)
	}
}

// recordedElsewhere records every completion that names a continuation
// once without it first, as if another worker that ran the task too had
// recorded it first, continuing with nothing.
type recordedElsewhere struct {
	State
	mu   sync.Mutex
	done map[string]bool
}

func (s *recordedElsewhere) Complete(ctx context.Context, job string, c state.Completion) (state.Outcome, error) {
	s.mu.Lock()
	first := c.Continued != "" && !s.done[c.Task]
	s.done[c.Task] = true
	s.mu.Unlock()
	if first {
		other := c
		other.Continued = ""
		if _, err := s.State.Complete(ctx, job, other); err != nil {
			return state.Outcome{}, err
		}
	}
	return s.State.Complete(ctx, job, c)
}

// A worker continues only with the child the state store recorded as its
// task's continuation, which a replay of the task follows: when another
// worker recorded the task first, the child goes to the queue instead.
func TestContinuesOnlyWhatTheStateRecorded(t *testing.T) {
	ctx := context.Background()
	h, q := newFilesHarness(t, 2)
	st := &recordedElsewhere{State: h.state, done: map[string]bool{}}
	cfg := h.config("second")
	cfg.Queue, cfg.State, cfg.Pipeline = q, st, 1
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.done) == 0 {
		t.Fatal("the worker continued with no task")
	}
	if rep.Reason != "job done" || rep.Continued != 0 || q.leases.Load() != h.tasks {
		t.Fatalf("report %+v after %d leases for %d tasks, want every task leased", rep, q.leases.Load(), h.tasks)
	}
}

// advanceToStop advances the fake clock by d, past what, and returns the
// report of the worker that must stop then.
func advanceToStop(t *testing.T, fake *clock.Fake, d time.Duration, done <-chan Report, what string) Report {
	t.Helper()
	fake.Advance(d)
	select {
	case rep := <-done:
		return rep
	case <-time.After(5 * time.Second):
		t.Fatalf("the worker outlived %s", what)
		return Report{}
	}
}

// TestLeasesOneAhead checks that a wide pipeline leases at most one task
// ahead of the compute slot: between its lease and the end of its
// kernel, a task is the one computing or the one next in line, never one
// of a hoard that idle workers could have started. With 16 ready tasks
// and 4 slots, it still reads a task while another computes.
func TestLeasesOneAhead(t *testing.T) {
	h := newHarness(t, 16)
	cfg := h.config("wide")
	cfg.Pipeline = 4
	var mu sync.Mutex
	ahead, most := 0, 0
	// A task counts from its lease to its kernel's return, which comes
	// before the compute slot goes to the next task (the Computed hook
	// comes after, and would count a task that has let the slot go).
	slow := slowKernels(5*time.Millisecond, nil)
	cfg.Kernel = func(name string) (*kernels.Kernel, bool) {
		k, ok := slow(name)
		if !ok {
			return nil, false
		}
		run := k.Run
		k.Run = func(in []blas64.General, sc []lp.Value) ([]blas64.General, error) {
			defer func() {
				mu.Lock()
				ahead--
				mu.Unlock()
			}()
			return run(in, sc)
		}
		return k, true
	}
	cfg.Hook = func(p Phase, _ string) error {
		if p == Leased {
			mu.Lock()
			ahead++
			most = max(most, ahead)
			mu.Unlock()
		}
		return nil
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reason != "job done" || int64(rep.Tasks) != h.tasks {
		t.Fatalf("report %+v, want job done after %d tasks", rep, h.tasks)
	}
	if rep.Continued > 0 {
		t.Fatalf("%d tasks continued: the count assumes every task is leased from the queue", rep.Continued)
	}
	if most != 2 {
		t.Errorf("at most %d tasks between their lease and their kernel's end, want 2", most)
	}
}
