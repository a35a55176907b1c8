// Command pipelining reproduces Fig. 9a of the numpywren paper: the flop
// rate of a Cholesky over time with pipeline width 1, 2 and 4 (tasks in
// flight per worker: one computes while the others read and write). The
// tiles go through S3, the queue is SQS and the state Redis — MinIO,
// fauxqs and redis-server on this machine (scripts/local-cloud, started
// here) — since pipelining hides the object store's latency, and the
// workers are a fixed pool of goroutines whose kernels wait their flops'
// time at a fixed GFLOP/s, one at a time per worker (a one-core Lambda).
//
//	go run ./benchmarks/pipelining [-services memory]
//
// It writes benchmarks/results/pipelining.md and pipelining.png.
package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/npw-dev/npw/benchmarks/internal/exp"
	"github.com/npw-dev/npw/internal/chart"
)

func main() {
	n := flag.Int("n", 16384, "order of the matrix")
	block := flag.Int("block", 1024, "tile size")
	workers := flag.Int("workers", 16, "workers")
	gflops := flag.Float64("gflops", 4, "emulated GFLOP/s per worker")
	widths := flag.String("widths", "1,2,4", "pipeline widths")
	services := flag.String("services", "cloud", "cloud (MinIO, fauxqs, Redis on this machine) or memory")
	flag.Parse()
	dir, err := exp.Results()
	if err != nil {
		exp.Fatal(err)
	}
	ctx := context.Background()
	svc, err := exp.OpenServices(*services)
	if err != nil {
		exp.Fatal(err)
	}
	defer svc.Stop()
	t := exp.Table{Head: []string{"pipeline width", "completion (s)", "mean GFLOP/s", "against width 1", "read / compute / write per task (s)", "worker-seconds"}}
	var series []chart.Series
	var base float64
	for _, field := range strings.Split(*widths, ",") {
		w, err := strconv.Atoi(field)
		if err != nil || w <= 0 {
			exp.Fatal(fmt.Errorf("bad width %q", field))
		}
		opts := exp.Lambda(*workers, *gflops, 0, 0)
		svc.Use(&opts)
		opts.Pipeline, opts.Trace = w, true
		opts.ScaleFactor = 4 // the cap binds: a fixed pool, as the paper's 180 cores
		res, err := exp.Cholesky(ctx, opts, *n, *block)
		if err != nil {
			exp.Fatal(fmt.Errorf("width %d: %w", w, err))
		}
		rate := exp.CholeskyFlops(*n) / res.Wall.Seconds() / 1e9
		if base == 0 {
			base = rate
		}
		var rd, cp, wr float64
		tasks := 0
		for _, wk := range res.Workers {
			rd += wk.Metrics.ReadSeconds
			cp += wk.Metrics.ComputeSeconds
			wr += wk.Metrics.WriteSeconds
			tasks += wk.Tasks
		}
		tasks = max(tasks, 1)
		t.Add(w, fmt.Sprintf("%.1f", res.Wall.Seconds()), fmt.Sprintf("%.1f", rate), fmt.Sprintf("%.2f", rate/base),
			fmt.Sprintf("%.2f / %.2f / %.2f", rd/float64(tasks), cp/float64(tasks), wr/float64(tasks)), fmt.Sprintf("%.0f", res.WorkerSeconds()))
		x, g := exp.FlopRate(res, 1)
		series = append(series, chart.Series{Name: fmt.Sprintf("pipeline width %d", w), X: x, Y: g, Steps: true})
		fmt.Printf("width %d: %.1f s, %.1f GFLOP/s\n", w, res.Wall.Seconds(), rate)
	}
	png := filepath.Join(dir, "pipelining.png")
	err = chart.Lines{Title: fmt.Sprintf("Cholesky %d×%d, block %d, %d workers: flop rate (Fig. 9a)", *n, *n, *block, *workers),
		XLabel: "seconds", YLabel: "GFLOP/s", Series: series}.Save(png)
	if err != nil {
		exp.Fatal(err)
	}
	tiles := (*n + *block - 1) / *block
	var md strings.Builder
	fmt.Fprintf(&md, "# Pipelining (the paper's Fig. 9a)\n\n")
	fmt.Fprintf(&md, "`go run ./benchmarks/pipelining` on %s.\n\n", exp.Machine())
	fmt.Fprintf(&md, "Cholesky of a %d×%d matrix in blocks of %d (%d×%d tiles, %d tasks) on %s, with %d goroutine workers. **Emulated compute**: each worker's kernels "+
		"run one at a time and wait their flops' time at %g GFLOP/s (`--emulate-compute`, a one-core Lambda); every tile read and write, lease and completion is real. "+
		"GFLOP/s counts n³/3 over the completion time; the paper measured 40%% more with pipelining on 180 cores.\n\n",
		*n, *n, *block, tiles, tiles, exp.CholeskyTasks(tiles), svc.Where, *workers, *gflops)
	md.WriteString(t.String())
	md.WriteString("\n![flop rate over time by pipeline width](pipelining.png)\n")
	if err := exp.WriteMarkdown(dir, "pipelining.md", md.String()); err != nil {
		exp.Fatal(err)
	}
}
