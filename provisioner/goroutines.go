package provisioner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/executor"
)

// Goroutines launches workers as goroutines of this process. With a
// ColdStart and a RuntimeLimit in the worker config it emulates Lambda:
// each worker waits out the cold start, then runs until the limit, when
// it is killed.
type Goroutines struct {
	// Config is the template of every worker's configuration; ID is set
	// per worker.
	Config    executor.Config
	ColdStart time.Duration

	started atomic.Int64
	running atomic.Int64
	wg      sync.WaitGroup
	mu      sync.Mutex
	reports []WorkerReport
	cancels map[int64]context.CancelFunc // of the workers running, by id
	killed  map[int64]bool
}

// A WorkerReport is a worker's own report plus what the launcher saw.
type WorkerReport struct {
	executor.Report
	Launched time.Time // when the launch was requested, before the cold start
	Err      error
}

// Seconds is the worker's billed lifetime, cold start included.
func (r WorkerReport) Seconds() float64 { return r.Stopped.Sub(r.Launched).Seconds() }

// Launch implements Launcher.
func (g *Goroutines) Launch(ctx context.Context) error {
	id := g.started.Add(1)
	g.running.Add(1)
	g.wg.Add(1)
	clk := clock.Or(g.Config.Clock)
	launched := clk.Now()
	ctx, cancel := context.WithCancel(ctx)
	g.mu.Lock()
	if g.cancels == nil {
		g.cancels, g.killed = map[int64]context.CancelFunc{}, map[int64]bool{}
	}
	g.cancels[id] = cancel
	g.mu.Unlock()
	go func() {
		defer g.wg.Done()
		defer g.running.Add(-1)
		defer cancel()
		cfg := g.Config
		cfg.ID = fmt.Sprintf("w%d", id)
		rep := WorkerReport{Launched: launched}
		if g.ColdStart > 0 {
			select {
			case <-clk.After(g.ColdStart):
			case <-ctx.Done():
				rep.Report = executor.Report{Worker: cfg.ID, Started: launched, Stopped: clk.Now(), Reason: "cancelled during cold start"}
				g.record(id, rep)
				return
			}
		}
		rep.Report, rep.Err = executor.Run(ctx, cfg)
		g.record(id, rep)
	}()
	return nil
}

// record keeps the report of stopped worker id: a killed one's says so.
func (g *Goroutines) record(id int64, r WorkerReport) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.killed[id] {
		r.Reason, r.Err = "killed", nil
		delete(g.killed, id)
	}
	delete(g.cancels, id)
	g.reports = append(g.reports, r)
}

// Kill stops frac of the running workers (rounded, at least one while
// frac > 0 and one runs), picked at random, as a machine failure would: a
// killed worker's context ends, so it stops at once and leaves its leased
// tasks to lapse and its acknowledgements unsent. It returns how many it
// killed.
func (g *Goroutines) Kill(rng *rand.Rand, frac float64) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	ids := make([]int64, 0, len(g.cancels))
	for id := range g.cancels {
		ids = append(ids, id)
	}
	slices.Sort(ids) // map order is not the rng's
	n := 0
	for _, i := range pick(rng, len(ids), frac) {
		g.killed[ids[i]] = true
		g.cancels[ids[i]]()
		delete(g.cancels, ids[i])
		n++
	}
	return n
}

// LastError returns the error of the last worker that stopped with one,
// or nil: why workers stop, for a job that stalls.
func (g *Goroutines) LastError() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return lastError(g.reports)
}

// lastError returns the error of the last report that has one.
func lastError(reports []WorkerReport) error {
	for i := len(reports) - 1; i >= 0; i-- {
		if reports[i].Err != nil {
			return reports[i].Err
		}
	}
	return nil
}

// Running implements Launcher.
func (g *Goroutines) Running() int { return int(g.running.Load()) }

// Wait waits for every launched worker to stop and returns their reports.
func (g *Goroutines) Wait() []WorkerReport {
	g.wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]WorkerReport(nil), g.reports...)
}
