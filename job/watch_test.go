package job

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/executor"
	lp "github.com/npw-dev/npw/lambdapack"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"
)

// The stall watch fails a job that is quiet (no task leased or done) for
// longer than the stall time: with nothing queued or running, and with
// tasks queued while the workers launched for them stop without leasing
// one. Queued tasks waiting for workers still starting are not a stall.
func TestStallWatch(t *testing.T) {
	t0 := time.Unix(0, 0)
	const stall = time.Second
	st := state.Status{Tasks: 10, Done: 4}
	type obs struct {
		at                                  time.Duration
		done                                int64
		visible, inflight, running, stopped int
	}
	for _, tc := range []struct {
		name string
		seq  []obs
		want string // in the last observation's message; "" for none
	}{
		{"nothing queued or running", []obs{{0, 4, 0, 0, 0, 0}, {500 * time.Millisecond, 4, 0, 0, 0, 0}, {1100 * time.Millisecond, 4, 0, 0, 0, 0}},
			"4 of 10 tasks done, and none is queued or running"},
		{"quiet, not yet for long", []obs{{0, 4, 0, 0, 0, 0}, {900 * time.Millisecond, 4, 0, 0, 0, 0}}, ""},
		{"workers retire without leasing", []obs{{0, 4, 3, 0, 2, 5}, {600 * time.Millisecond, 4, 3, 0, 2, 9}, {1200 * time.Millisecond, 4, 3, 0, 1, 40}},
			"3 tasks are queued, but the 35 workers that stopped in the last 1.2s leased none"},
		{"workers starting", []obs{{0, 4, 3, 0, 2, 0}, {1200 * time.Millisecond, 4, 3, 0, 2, 0}}, ""},
		{"no worker runs", []obs{{0, 4, 3, 0, 0, 0}, {1200 * time.Millisecond, 4, 3, 0, 0, 0}}, "3 tasks are queued and no worker runs"},
		{"progress restarts the watch", []obs{{0, 4, 0, 0, 0, 0}, {800 * time.Millisecond, 5, 0, 0, 0, 0}, {1500 * time.Millisecond, 5, 0, 0, 0, 0}}, ""},
		{"a lease restarts the watch", []obs{{0, 4, 3, 0, 1, 0}, {800 * time.Millisecond, 4, 2, 1, 1, 0}, {1500 * time.Millisecond, 4, 3, 0, 0, 1}}, ""},
	} {
		var w stallWatch
		msg := ""
		for _, o := range tc.seq {
			s := st
			s.Done = o.done
			msg = w.observe(t0.Add(o.at), stall, s, o.visible, o.inflight, o.running, o.stopped, "")
		}
		if tc.want == "" && msg != "" || tc.want != "" && !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, msg, tc.want)
		}
	}
}

// blindQueue is a queue whose receives never find a task, as for a
// worker whose runtime limit ends it before its first lease.
type blindQueue struct{ executor.Queue }

func (q blindQueue) Receive(ctx context.Context, _ int, _, wait time.Duration) ([]queue.Lease, error) {
	select {
	case <-time.After(wait):
	case <-ctx.Done():
	}
	return nil, nil
}

// A job whose workers all stop without leasing a task is failed as
// stalled, instead of launching workers for ever (a runtime limit below
// the poll once launched 3,000 workers in 10 minutes while the client
// printed "0 of 5984 tasks done").
func TestStallWhenWorkersRetireIdle(t *testing.T) {
	env, _, stateMem := testEnv(t)
	a := spd(rand.New(rand.NewPCG(20, 20)), 16)
	opts := fast()
	opts.IdleTimeout = 30 * time.Millisecond
	opts.Stall = 300 * time.Millisecond
	opts.Worker = func(c *executor.Config) { c.Queue = blindQueue{c.Queue} }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Run(ctx, env, choleskyJob(t, a, 8), opts)
	var jerr *Error
	if !errors.As(err, &jerr) || !strings.Contains(err.Error(), "leased none") {
		t.Fatalf("got %v, want a stall of workers that lease nothing", err)
	}
	if held(stateMem) != 0 {
		t.Error("a stalled job left its state behind")
	}
}

// Settings no worker can work with are refused before the job makes
// anything: a runtime limit too short to lease and run one task.
func TestRuntimeLimitTooShort(t *testing.T) {
	env, tilesMem, stateMem := testEnv(t)
	opts := Options{Settings: executor.Settings{RuntimeLimit: 200 * time.Millisecond}} // the poll is 250ms
	_, err := Run(context.Background(), env, choleskyJob(t, spd(rand.New(rand.NewPCG(21, 21)), 8), 8), opts)
	if err == nil || !strings.Contains(err.Error(), "the runtime limit 200ms is too short") {
		t.Fatalf("got %v, want the runtime limit refused", err)
	}
	if now, _ := tilesMem.Bytes(); now != 0 || held(stateMem) != 0 {
		t.Errorf("a refused job left %d bytes of tiles and %d jobs", now, held(stateMem))
	}
}

// A program that writes a tile twice is refused before any task starts,
// naming both statements.
func TestWrittenTwiceRefused(t *testing.T) {
	env, tilesMem, stateMem := testEnv(t)
	prog, err := lp.Load("twice.lp", "def f(A: BigMatrix, B: BigMatrix, N: int):\n    for i in range(N):\n        for j in range(N):\n            B[i] = add(A[i], A[j])\n")
	if err != nil {
		t.Fatal(err)
	}
	p, err := analysis.NewPlan(prog, map[string]lp.Value{"N": lp.Int(3)})
	if err != nil {
		t.Fatal(err)
	}
	a := randomDense(rand.New(rand.NewPCG(22, 22)), 12, 4)
	_, err = Run(context.Background(), env, Spec{Plan: p, Block: 4, Inputs: []Input{{Name: "A", Array: a}}, Outputs: []string{"B"}}, fast())
	want := "twice.lp:4:13: tile B[0] is written twice: by add(i=0, j=0) (at twice.lp:4:13) and by add(i=0, j=1)"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
	if now, _ := tilesMem.Bytes(); now != 0 || held(stateMem) != 0 {
		t.Errorf("a refused job left %d bytes of tiles and %d jobs", now, held(stateMem))
	}
}

// flakyState is a state store whose Status fails while it is down. Each
// Status call announces itself on calls and then waits for a token from
// gate, so a test steps the poll loop one call at a time.
type flakyState struct {
	*state.MemDriver
	down  atomic.Bool
	calls chan struct{}
	gate  chan struct{}
}

func (s *flakyState) Status(ctx context.Context, job string) (state.Status, error) {
	select {
	case s.calls <- struct{}{}:
	case <-ctx.Done():
		return state.Status{}, ctx.Err()
	}
	select {
	case <-s.gate:
	case <-ctx.Done():
		return state.Status{}, ctx.Err()
	}
	if s.down.Load() {
		return state.Status{}, errors.New("connection refused")
	}
	return s.MemDriver.Status(ctx, job)
}

// A state store that stops answering is retried for the outage time,
// then the job is given up with its error: on a fake clock, second by
// second: not before 30 s of failures, and within a poll or two after.
//
// No step depends on how goroutines are scheduled: the clock moves only
// while the watch is inside a Status call (so a tick waits in the
// ticker's buffer for the next poll), and the test lets the call return
// only then; the watch reads the clock after the call returns, and the
// test waits for the next call, or the end, before moving it again.
func TestOutageOnFakeClock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := &flakyState{MemDriver: state.NewMemDriver(), calls: make(chan struct{}), gate: make(chan struct{})}
	st.down.Store(true)
	clk := clock.NewFake(time.Unix(0, 0))
	opts := Options{Clock: clk}
	opts.defaults()
	w := &watch{env: Env{State: state.New(st, "mem://")}, id: "outage", opts: opts}
	done := make(chan error, 1)
	go func() { done <- w.wait(ctx) }()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	var first time.Time // the time of the first failed poll
	for range 40 {
		select {
		case <-st.calls: // the watch is inside a Status call
		case err := <-done:
			failed := clk.Now().Sub(first)
			if failed <= opts.Outage || failed > opts.Outage+2*time.Second {
				t.Fatalf("gave up after %v of failures with a %v outage allowance: %v", failed, opts.Outage, err)
			}
			if err == nil || !strings.Contains(err.Error(), "job outage: gave up after 30s of failures of the state store mem://: ") || !strings.Contains(err.Error(), "connection refused") {
				t.Fatalf("got %v", err)
			}
			return
		case <-ctx.Done():
			t.Fatalf("neither a poll nor the end of the watch at %v", clk.Now().Sub(time.Unix(0, 0)))
		}
		clk.Advance(time.Second)
		if first.IsZero() {
			first = clk.Now()
		}
		st.gate <- struct{}{}
	}
	t.Fatal("still waiting 40 s into a 30 s outage allowance")
}

// A job whose queue is gone (the queue service restarted without its
// data) fails at once, naming the job and the service: its tasks are gone
// too, and no retry brings them back.
func TestQueueLost(t *testing.T) {
	ctx := context.Background()
	env, _, _ := testEnv(t)
	q, err := queue.Create(ctx, env.QueueURL, "npw-lost")
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	opts := Options{}
	opts.defaults()
	w := &watch{env: env, id: "lost", q: q, opts: opts}
	err = w.running(ctx, state.Status{Phase: state.Running, Tasks: 10})
	want := "job lost failed: its queue is gone from the queue service " + env.QueueURL
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %q...", err, want)
	}
}

// A job whose state is lost (the state store restarted without its data)
// fails at once, naming the job and the store, and its tiles are deleted
// by prefix all the same.
func TestStateLost(t *testing.T) {
	ctx := context.Background()
	env, _, st := testEnv(t)
	a := spd(rand.New(rand.NewPCG(8, 8)), 64)
	opts := fast()
	opts.MaxWorkers = 1
	var once sync.Once
	opts.Worker = func(cfg *executor.Config) {
		cfg.Hook = func(ev executor.Phase, task string) error {
			if ev == executor.Computed {
				once.Do(func() { st.Delete(ctx, cfg.Job.ID) })
			}
			return nil
		}
	}
	_, err := Run(ctx, env, Spec{Plan: plan(t, "cholesky", "N=8"), Block: 8, Inputs: []Input{{Name: "S", Array: a}}, Outputs: []string{"O"}}, opts)
	if err == nil || !strings.Contains(err.Error(), "its state is gone from the state store mem://") {
		t.Fatalf("got %v", err)
	}
	if keys, err := env.Tiles.List(ctx, "jobs/"); err != nil || len(keys) != 0 {
		t.Errorf("the job left %d tiles: %v %v", len(keys), keys, err)
	}
}
