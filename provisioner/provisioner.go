// Package provisioner starts workers to match a job's parallelism. Every
// Interval it reads the queue depth and applies the scaling policy of the
// numpywren paper (§4.2): with sf the scaling factor, W the pipeline
// width and pending the tasks in the queue (the paper's "pending and
// executable tasks": visible and leased, since a leased task stays in
// the queue until it is done), it launches
//
//	ceil(sf · pending / W) − running
//
// workers, capped so that at most MaxWorkers run. Counting only visible
// tasks would leave a ready task waiting behind a busy worker's full
// pipeline (benchmarks/README.md has the measurement). Workers scale down by
// themselves: they stop after an idle timeout. A launcher starts workers
// as goroutines here, as processes or Lambda functions elsewhere; a
// goroutine launcher can emulate Lambda: a cold start before each worker
// and a runtime limit after which it is killed.
package provisioner

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/npw-dev/npw/clock"
)

// Policy is the scaling rule.
type Policy struct {
	ScaleFactor float64 // sf; workers per pending task and pipeline slot (default 1)
	Pipeline    int     // tasks a worker holds at once (default 1)
	MaxWorkers  int     // cap on running workers (default 1)
}

func (p Policy) withDefaults() Policy {
	if p.ScaleFactor <= 0 {
		p.ScaleFactor = 1
	}
	if p.Pipeline <= 0 {
		p.Pipeline = 1
	}
	if p.MaxWorkers <= 0 {
		p.MaxWorkers = 1
	}
	return p
}

// Launch returns how many workers to start for the tasks in the queue
// (visible and leased) and the running workers.
func (p Policy) Launch(pending, running int) int {
	p = p.withDefaults()
	want := int(math.Ceil(p.ScaleFactor * float64(pending) / float64(p.Pipeline)))
	n := min(want, p.MaxWorkers) - running
	return max(n, 0)
}

// A Launcher starts workers.
type Launcher interface {
	// Launch starts one worker; it returns once the start is under way.
	Launch(ctx context.Context) error
	// Running counts workers started and not yet stopped.
	Running() int
}

// A DepthReader reports a queue's visible and leased messages.
type DepthReader interface {
	Depth(ctx context.Context) (visible, inflight int, err error)
}

// A Sample is the state of the pool at one moment.
type Sample struct {
	At       time.Duration // since the provisioner started
	Pending  int           // visible tasks
	InFlight int           // leased tasks
	Running  int           // workers running after this round's launches
	Launched int           // workers launched this round
}

// A Provisioner runs the policy.
type Provisioner struct {
	Queue    DepthReader
	Launcher Launcher
	Policy   Policy
	Interval time.Duration // default 100ms
	Clock    clock.Clock   // default clock.Real

	mu       sync.Mutex
	timeline []Sample
	launched int
}

// Run applies the policy every Interval until ctx is done, and then
// takes a last sample (launching nothing), so that the timeline spans
// the whole job however short it was. Errors reading the queue are
// retried at the next round; it returns ctx's error.
func (p *Provisioner) Run(ctx context.Context) error {
	interval := p.Interval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	clk := clock.Or(p.Clock)
	start := clk.Now()
	tick := clk.NewTicker(interval)
	defer tick.Stop()
	for {
		p.round(ctx, clk.Since(start))
		select {
		case <-ctx.Done():
			last, cancel := clock.WithTimeout(context.WithoutCancel(ctx), clk, 5*time.Second, nil)
			defer cancel()
			p.sample(last, clk.Since(start), 0)
			return ctx.Err()
		case <-tick.C():
		}
	}
}

func (p *Provisioner) round(ctx context.Context, at time.Duration) {
	visible, inflight, err := p.Queue.Depth(ctx)
	if err != nil {
		return
	}
	// Leases held with no worker alive belong to dead workers: they
	// lapse, but a queue may show that only when someone receives (fauxqs
	// does); counting them launches workers to take them over.
	n := p.Policy.Launch(visible+inflight, p.Launcher.Running())
	launched := 0
	for range n {
		if p.Launcher.Launch(ctx) != nil {
			break
		}
		launched++
	}
	p.record(Sample{At: at, Pending: visible, InFlight: inflight, Running: p.Launcher.Running(), Launched: launched})
}

// sample records the queue and the workers at at, having launched
// launched workers.
func (p *Provisioner) sample(ctx context.Context, at time.Duration, launched int) {
	visible, inflight, err := p.Queue.Depth(ctx)
	if err != nil {
		return
	}
	p.record(Sample{At: at, Pending: visible, InFlight: inflight, Running: p.Launcher.Running(), Launched: launched})
}

func (p *Provisioner) record(s Sample) {
	p.mu.Lock()
	p.timeline = append(p.timeline, s)
	p.launched += s.Launched
	p.mu.Unlock()
}

// Launched counts the workers launched so far.
func (p *Provisioner) Launched() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.launched
}

// Timeline returns the samples taken so far.
func (p *Provisioner) Timeline() []Sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Sample(nil), p.timeline...)
}
