// Command blocksize reproduces Fig. 10a of the numpywren paper: the
// completion time of one Cholesky against the block size, at two worker
// counts. Small blocks pay each task's latency (queue, state store, object
// store) more often; large ones leave workers without tasks. Workers are
// goroutines whose kernels wait their flops' time at a fixed GFLOP/s, one
// at a time per worker; the tiles, queue and state go through MinIO,
// fauxqs and redis-server on this machine (scripts/local-cloud, started
// here), so a task's latency is a real service's.
//
//	go run ./benchmarks/blocksize [-services memory]
//
// It writes benchmarks/results/blocksize.md and blocksize.png.
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
	n := flag.Int("n", 8192, "order of the matrix")
	blocks := flag.String("blocks", "256,512,1024,2048", "block sizes")
	workerCounts := flag.String("workers", "16,128", "two (or more) worker counts")
	gflops := flag.Float64("gflops", 4, "emulated GFLOP/s per worker")
	services := flag.String("services", "cloud", "cloud (MinIO, fauxqs, Redis on this machine) or memory")
	flag.Parse()
	dir, err := exp.Results()
	if err != nil {
		exp.Fatal(err)
	}
	svc, err := exp.OpenServices(*services)
	if err != nil {
		exp.Fatal(err)
	}
	defer svc.Stop()
	ctx := context.Background()
	bs, ws := ints(*blocks), ints(*workerCounts)
	t := exp.Table{Head: []string{"block", "tiles", "tasks"}}
	for _, w := range ws {
		t.Head = append(t.Head, fmt.Sprintf("%d workers: completion (s)", w), fmt.Sprintf("%d workers: worker-seconds", w))
	}
	series := make([]chart.Series, len(ws))
	for i, w := range ws {
		series[i] = chart.Series{Name: fmt.Sprintf("%d workers", w), Points: true}
	}
	for _, b := range bs {
		tiles := (*n + b - 1) / b
		row := []any{b, fmt.Sprintf("%d×%d", tiles, tiles), exp.CholeskyTasks(tiles)}
		for i, w := range ws {
			// No more workers than tasks: the rest could never lease one.
			opts := exp.Lambda(min(w, exp.CholeskyTasks(tiles)), *gflops, 0, 0)
			svc.Use(&opts)
			opts.ScaleFactor = 4 // the cap binds: a fixed pool, as the paper's
			res, err := exp.Cholesky(ctx, opts, *n, b)
			if err != nil {
				exp.Fatal(fmt.Errorf("block %d, %d workers: %w", b, w, err))
			}
			row = append(row, fmt.Sprintf("%.1f", res.Wall.Seconds()), fmt.Sprintf("%.0f", res.WorkerSeconds()))
			series[i].X = append(series[i].X, float64(b))
			series[i].Y = append(series[i].Y, res.Wall.Seconds())
			fmt.Printf("block %d, %d workers: %.1f s\n", b, w, res.Wall.Seconds())
		}
		t.Add(row...)
	}
	png := filepath.Join(dir, "blocksize.png")
	err = chart.Lines{Title: fmt.Sprintf("Cholesky %d×%d: completion time by block size (Fig. 10a)", *n, *n),
		XLabel: "block size", YLabel: "completion time (s)", LogX: true, XTicks: series[0].X, Series: series}.Save(png)
	if err != nil {
		exp.Fatal(err)
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# Block size (the paper's Fig. 10a)\n\n")
	fmt.Fprintf(&md, "`go run ./benchmarks/blocksize` on %s.\n\n", exp.Machine())
	fmt.Fprintf(&md, "Cholesky of a %d×%d matrix on %s. **Emulated compute**: goroutine workers whose kernels run one at a time and wait their flops' time at %g GFLOP/s "+
		"(`--emulate-compute`); every tile read and write, lease and completion is real. Pipeline width 2, the pool capped at each worker count "+
		"(or at the task count, when that is smaller). The services and the workers share the machine's cores, so with many workers and small blocks "+
		"the services' own CPU, not the emulated compute, sets the pace: the rise at the left of the many-worker curve is that overhead per task.\n\n", *n, *n, svc.Where, *gflops)
	md.WriteString(t.String())
	md.WriteString("\n![completion time by block size](blocksize.png)\n")
	if err := exp.WriteMarkdown(dir, "blocksize.md", md.String()); err != nil {
		exp.Fatal(err)
	}
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(f)
		if err != nil || v <= 0 {
			exp.Fatal(fmt.Errorf("bad number %q", f))
		}
		out = append(out, v)
	}
	return out
}
