package provisioner

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/npw-dev/npw/clock"
)

func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		p                      Policy
		pending, running, want int
	}{
		// The paper's example: sf 0.5, 100 pending, 40 running: 10 more.
		{Policy{ScaleFactor: 0.5, MaxWorkers: 1000}, 100, 40, 10},
		{Policy{ScaleFactor: 1, MaxWorkers: 1000}, 100, 40, 60},
		{Policy{ScaleFactor: 1, Pipeline: 3, MaxWorkers: 1000}, 100, 0, 34}, // ceil(100/3)
		{Policy{ScaleFactor: 1, MaxWorkers: 8}, 100, 5, 3},                  // capped
		{Policy{ScaleFactor: 1, MaxWorkers: 8}, 100, 9, 0},                  // over the cap: none
		{Policy{ScaleFactor: 1, MaxWorkers: 8}, 0, 3, 0},                    // nothing pending
		{Policy{ScaleFactor: 0.1, MaxWorkers: 8}, 1, 0, 1},                  // rounds up
		{Policy{}, 5, 0, 1}, // defaults: sf 1, one worker
	} {
		if got := tc.p.Launch(tc.pending, tc.running); got != tc.want {
			t.Errorf("%+v.Launch(%d, %d) = %d, want %d", tc.p, tc.pending, tc.running, got, tc.want)
		}
	}
}

type fakeQueue struct{ visible, inflight atomic.Int64 }

func (q *fakeQueue) Depth(context.Context) (int, int, error) {
	return int(q.visible.Load()), int(q.inflight.Load()), nil
}

type fakeLauncher struct{ running atomic.Int64 }

func (l *fakeLauncher) Launch(context.Context) error { l.running.Add(1); return nil }
func (l *fakeLauncher) Running() int                 { return int(l.running.Load()) }

// TestProvisionerFollowsQueue checks, round by round on a fake clock,
// that workers are launched as the queue grows, up to the cap, and that
// the timeline records it.
func TestProvisionerFollowsQueue(t *testing.T) {
	q, l := &fakeQueue{}, &fakeLauncher{}
	clk := clock.NewFake(time.Unix(0, 0))
	const interval = 100 * time.Millisecond
	p := &Provisioner{Queue: q, Launcher: l, Policy: Policy{ScaleFactor: 1, MaxWorkers: 6}, Interval: interval, Clock: clk}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	if err := clk.BlockUntil(ctx, 1); err != nil { // the ticker is set
		t.Fatal(err)
	}
	for len(p.Timeline()) == 0 { // and the first round run: the ticker is set before it
		runtime.Gosched()
	}
	// round runs one round: the tick, then the round's sample.
	round := func(want int) {
		t.Helper()
		n := len(p.Timeline())
		clk.Advance(interval)
		for len(p.Timeline()) == n {
			runtime.Gosched()
		}
		if got := l.Running(); got != want {
			t.Fatalf("after the round at %v: %d workers running, want %d", clk.Since(time.Unix(0, 0)), got, want)
		}
	}
	q.visible.Store(2)
	round(2)
	q.visible.Store(100)
	round(6)
	l.running.Store(1) // five stopped after an idle timeout
	q.visible.Store(3)
	round(3)
	// Every worker died holding leases the queue still counts as in
	// flight: workers are launched to take them over when they lapse.
	q.visible.Store(0)
	q.inflight.Store(2)
	l.running.Store(0)
	round(2)
	cancel()
	<-done
	tl := p.Timeline()
	// Five rounds, and the last sample, taken when it stops, launching
	// nothing.
	if len(tl) != 6 || tl[4].Running != 2 || tl[4].At != 4*interval || tl[5] != (Sample{At: 4 * interval, InFlight: 2, Running: 2}) {
		t.Fatalf("timeline %+v, want 6 samples, the last two at %v with 2 running", tl, 4*interval)
	}
	launched := 0
	for _, s := range tl {
		launched += s.Launched
	}
	if launched != 10 {
		t.Errorf("%d launches recorded, want 10", launched)
	}
}

// A task waiting behind a worker whose pipeline is full gets a worker of
// its own: leased tasks count as pending.
func TestProvisionerCountsLeased(t *testing.T) {
	q, l := &fakeQueue{}, &fakeLauncher{}
	l.running.Store(1)
	q.inflight.Store(2) // the running worker's two pipeline slots
	q.visible.Store(1)
	p := &Provisioner{Queue: q, Launcher: l, Policy: Policy{ScaleFactor: 1, Pipeline: 2, MaxWorkers: 4}}
	p.round(context.Background(), 0)
	if got := l.Running(); got != 2 { // ceil(3/2)
		t.Fatalf("%d workers running, want 2", got)
	}
}
