// Command weakscaling reproduces Fig. 8c of the numpywren paper: Cholesky
// with the problem and the workers grown together. A Cholesky of T×T tiles
// has T³/3 tile operations and at most about T²/2 at once, so the workers
// grow with T² (as the paper's cores did, 57 to 1800 for 65k to 512k
// rows) and the ideal completion time grows with T: a straight line
// through the origin on linear axes, drawn from the smallest run.
// Workers are goroutines whose kernels wait their flops' time at a fixed
// GFLOP/s (so 128 fit on two cores) on the memory services.
//
//	go run ./benchmarks/weakscaling
//
// It writes benchmarks/results/weakscaling.md and weakscaling.png.
package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/npw-dev/npw/benchmarks/internal/exp"
	"github.com/npw-dev/npw/internal/chart"
)

func main() {
	block := flag.Int("block", 512, "tile size")
	tilesFlag := flag.String("tiles", "4,8,16,32", "tiles per side")
	perTile := flag.Float64("workers-per-tile2", 0.125, "workers per T² (T tiles per side)")
	gflops := flag.Float64("gflops", 2, "emulated GFLOP/s per worker")
	coldStart := flag.Duration("cold-start", time.Second, "emulated Lambda cold start")
	flag.Parse()
	dir, err := exp.Results()
	if err != nil {
		exp.Fatal(err)
	}
	ctx := context.Background()
	t := exp.Table{Head: []string{"tiles", "n", "tasks", "workers", "completion (s)", "ideal (s)", "GFLOP/s", "GFLOP/s per worker", "worker-seconds"}}
	var xs, ys, ideal []float64
	for _, f := range strings.Split(*tilesFlag, ",") {
		tiles, err := strconv.Atoi(f)
		if err != nil || tiles <= 0 {
			exp.Fatal(fmt.Errorf("bad tile count %q", f))
		}
		n := tiles * *block
		workers := max(1, int(*perTile*float64(tiles*tiles)+0.5))
		res, err := exp.Cholesky(ctx, exp.Lambda(workers, *gflops, *coldStart, 0), n, *block)
		if err != nil {
			exp.Fatal(fmt.Errorf("%d tiles: %w", tiles, err))
		}
		secs := res.Wall.Seconds()
		if len(ys) == 0 {
			ideal = append(ideal, secs)
		} else {
			ideal = append(ideal, ideal[0]*float64(n)/xs[0])
		}
		xs, ys = append(xs, float64(n)), append(ys, secs)
		rate := exp.CholeskyFlops(n) / secs / 1e9
		t.Add(tiles, n, exp.CholeskyTasks(tiles), workers, fmt.Sprintf("%.1f", secs), fmt.Sprintf("%.1f", ideal[len(ideal)-1]),
			fmt.Sprintf("%.1f", rate), fmt.Sprintf("%.2f", rate/float64(workers)), fmt.Sprintf("%.0f", res.WorkerSeconds()))
		fmt.Printf("%d tiles, %d workers: %.1f s\n", tiles, workers, secs)
	}
	png := filepath.Join(dir, "weakscaling.png")
	err = chart.Lines{Title: fmt.Sprintf("Cholesky, block %d, workers = %g tiles²: weak scaling (Fig. 8c)", *block, *perTile),
		XLabel: "n (rows)", YLabel: "completion time (s)", XTicks: xs, Series: []chart.Series{
			{Name: "npw", X: xs, Y: ys, Points: true},
			{Name: "ideal (linear in n)", X: xs, Y: ideal, Dashed: true},
		}}.Save(png)
	if err != nil {
		exp.Fatal(err)
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# Weak scaling (the paper's Fig. 8c)\n\n")
	fmt.Fprintf(&md, "`go run ./benchmarks/weakscaling` on %s.\n\n", exp.Machine())
	fmt.Fprintf(&md, "Cholesky in blocks of %d, workers = %g × tiles² (at least 1). **Emulated**: goroutine workers with a %v cold start whose kernels wait their flops' time "+
		"at %g GFLOP/s (`--emulate-compute`); the memory services and every tile read and write, lease and completion are real. "+
		"The ideal grows with n from the smallest run: T³ work on T² workers.\n\n", *block, *perTile, *coldStart, *gflops)
	md.WriteString(t.String())
	md.WriteString("\n![completion time against n](weakscaling.png)\n")
	if err := exp.WriteMarkdown(dir, "weakscaling.md", md.String()); err != nil {
		exp.Fatal(err)
	}
}
