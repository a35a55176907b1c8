// Command failures reproduces Fig. 9b of the numpywren paper: a Cholesky
// on emulated Lambda workers loses 80% of them at once, partway, and the
// plot shows the running workers and the tasks completed per second over
// time. The killed workers' leased tasks lapse after the lease (10 s, the
// paper's) and are redone; the provisioner replaces the workers as tasks
// queue up. It reports the time to replenish the workers (running again
// at the count before the kill) and to recover (tasks per second back to
// the rate before the kill), against the paper's 20 s to replenish.
//
//	go run ./benchmarks/failures
//
// The failure is the job's fault-injection option, the same as
// `npw cholesky --kill-fraction 0.8 --kill-at 20s`. It writes
// benchmarks/results/failures.md and failures.png.
package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/npw-dev/npw/benchmarks/internal/exp"
	"github.com/npw-dev/npw/internal/chart"
	"github.com/npw-dev/npw/job"
)

func main() {
	n := flag.Int("n", 16384, "order of the matrix")
	block := flag.Int("block", 512, "tile size")
	workers := flag.Int("workers", 100, "most workers at once")
	gflops := flag.Float64("gflops", 1, "emulated GFLOP/s per worker")
	coldStart := flag.Duration("cold-start", time.Second, "emulated Lambda cold start")
	fraction := flag.Float64("kill-fraction", 0.8, "fraction of the workers to kill")
	at := flag.Duration("kill-at", 20*time.Second, "when to kill them, since the job started")
	flag.Parse()
	dir, err := exp.Results()
	if err != nil {
		exp.Fatal(err)
	}
	ctx := context.Background()
	opts := exp.Lambda(*workers, *gflops, *coldStart, 0)
	opts.Trace = true
	opts.Fault = job.Fault{Fraction: *fraction, At: *at, Seed: 1}
	res, err := exp.Cholesky(ctx, opts, *n, *block)
	if err != nil {
		exp.Fatal(err)
	}
	opts.Fault = job.Fault{}
	clean, err := exp.Cholesky(ctx, opts, *n, *block)
	if err != nil {
		exp.Fatal(err)
	}
	if len(res.Kills) != 1 {
		exp.Fatal(fmt.Errorf("the job ended in %v, before the kill at %v", res.Wall, *at))
	}
	kill := res.Kills[0]
	killAt := kill.At.Seconds()
	tx, perSec := exp.Completed(res, 1)
	rx, running := exp.Active(res, 0.1)
	rec := res.Recovery(kill)
	fmtSecs := func(d time.Duration) string {
		if d < 0 {
			return "never"
		}
		return fmt.Sprintf("%.1f", d.Seconds())
	}
	png := filepath.Join(dir, "failures.png")
	err = chart.Lines{Title: fmt.Sprintf("Cholesky %d×%d, block %d: %.0f%% of the workers killed at %.0f s (Fig. 9b)", *n, *n, *block, 100**fraction, killAt),
		XLabel: "seconds", YLabel: "count", Marks: []chart.Mark{{X: killAt, Label: fmt.Sprintf("%d killed", kill.Killed)}},
		Series: []chart.Series{
			{Name: "workers running (past their cold start)", X: rx, Y: running, Steps: true},
			{Name: "tasks completed per second", X: tx, Y: perSec, Steps: true},
		}}.Save(png)
	if err != nil {
		exp.Fatal(err)
	}
	tiles := (*n + *block - 1) / *block
	var md strings.Builder
	fmt.Fprintf(&md, "# Failure of %.0f%% of the workers (the paper's Fig. 9b)\n\n", 100**fraction)
	fmt.Fprintf(&md, "`go run ./benchmarks/failures` on %s.\n\n", exp.Machine())
	fmt.Fprintf(&md, "Cholesky of a %d×%d matrix in blocks of %d (%d×%d tiles, %d tasks), sf 1, at most %d workers. **Emulated**: goroutine workers with a %v cold start "+
		"whose kernels wait their flops' time at %g GFLOP/s (`--emulate-compute`); the queue, state store and tile store (memory services), every tile read and write, the leases "+
		"(10 s, renewed every third) and the provisioner are real. At %.1f s, %d of the running workers were killed as a machine failure kills them "+
		"(`--kill-fraction %g --kill-at %v`): their leased tasks lapse and are redone.\n\n",
		*n, *n, *block, tiles, tiles, exp.CholeskyTasks(tiles), *workers, *coldStart, *gflops, killAt, kill.Killed, *fraction, *at)
	t := exp.Table{Head: []string{"completion (s)", "without the failure (s)", "workers before the kill", "killed", "tasks/s before (10 s mean)", "time to replenish (s)", "time to recover 90% of tasks/s (s)", "workers launched", "paper: replenish (s)", "paper: recover (s)"}}
	t.Add(fmt.Sprintf("%.1f", res.Wall.Seconds()), fmt.Sprintf("%.1f", clean.Wall.Seconds()), rec.WorkersBefore, kill.Killed, fmt.Sprintf("%.1f", rec.RateBefore), fmtSecs(rec.Replenished), fmtSecs(rec.Recovered), len(res.Workers), "20", "about 40")
	md.WriteString(t.String())
	fmt.Fprintf(&md, "\nWorkers count from the end of their cold start to their stop (their reports). To replenish is to have as many running as before the kill; "+
		"the provisioner launches replacements at once, so that takes about a cold start (%v). The killed workers' tasks stay leased until their leases lapse (10 s), "+
		"so the task rate recovers only after a lease; the paper's further 20 s were workers reading the program at their start.\n", *coldStart)
	md.WriteString("\n![running workers and tasks per second](failures.png)\n")
	if err := exp.WriteMarkdown(dir, "failures.md", md.String()); err != nil {
		exp.Fatal(err)
	}
}
