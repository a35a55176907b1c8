// Command sf reproduces Fig. 10c of the numpywren paper: the trade-off
// between completion time and resources as the provisioner's scaling
// factor sf varies. One Cholesky per sf ∈ {1/8, 1/4, 1/3, 1/2, 1, 2, 4},
// on emulated Lambda workers (goroutines with a cold start, a lifetime and
// compute emulated at a fixed GFLOP/s, so that 128 workers fit on two
// cores) on the memory services; it plots completion time against billed
// worker-seconds, each point labelled with its sf, and writes a table.
//
//	go run ./benchmarks/sf
//
// It writes benchmarks/results/sf.md and sf.png.
package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/npw-dev/npw/benchmarks/internal/exp"
	"github.com/npw-dev/npw/cost"
	"github.com/npw-dev/npw/internal/chart"
)

func main() {
	n := flag.Int("n", 16384, "order of the matrix")
	block := flag.Int("block", 1024, "tile size")
	workers := flag.Int("workers", 128, "most workers at once")
	gflops := flag.Float64("gflops", 4, "emulated GFLOP/s per worker")
	coldStart := flag.Duration("cold-start", time.Second, "emulated Lambda cold start")
	lifetime := flag.Duration("lifetime", 60*time.Second, "emulated Lambda lifetime (runtime limit)")
	sfs := flag.String("sf", "1/8,1/4,1/3,1/2,1,2,4", "scaling factors")
	flag.Parse()
	dir, err := exp.Results()
	if err != nil {
		exp.Fatal(err)
	}
	prices, err := cost.Shipped().Region("us-east-1")
	if err != nil {
		exp.Fatal(err)
	}
	ctx := context.Background()
	tiles := (*n + *block - 1) / *block
	t := exp.Table{Head: []string{"sf", "completion (s)", "worker-seconds (billed)", "workers launched", "peak workers", "busy (compute / worker-seconds)", "cost on AWS at 3008 MB ($)"}}
	var xs, ys []float64
	var labels []string
	for _, field := range strings.Split(*sfs, ",") {
		sf, err := parseFraction(field)
		if err != nil {
			exp.Fatal(err)
		}
		opts := exp.Lambda(*workers, *gflops, *coldStart, *lifetime)
		opts.ScaleFactor = sf
		res, err := exp.Cholesky(ctx, opts, *n, *block)
		if err != nil {
			exp.Fatal(fmt.Errorf("sf %s: %w", field, err))
		}
		ws := res.WorkerSeconds()
		busy := 0.0
		for _, w := range res.Workers {
			busy += w.Metrics.ComputeSeconds
		}
		bill, err := prices.Bill(res.Usage(3008))
		if err != nil {
			exp.Fatal(err)
		}
		t.Add(field, fmt.Sprintf("%.1f", res.Wall.Seconds()), fmt.Sprintf("%.0f", ws), len(res.Workers), res.PeakWorkers(),
			fmt.Sprintf("%.2f", busy/ws), fmt.Sprintf("%.4f", bill.Total()))
		xs, ys, labels = append(xs, ws), append(ys, res.Wall.Seconds()), append(labels, "sf="+field)
		fmt.Printf("sf %s: %.1f s, %.0f worker-seconds, %d workers\n", field, res.Wall.Seconds(), ws, len(res.Workers))
	}
	png := filepath.Join(dir, "sf.png")
	err = chart.Lines{Title: fmt.Sprintf("Cholesky %d×%d, block %d: scaling factor sf (Fig. 10c)", *n, *n, *block),
		XLabel: "billed worker-seconds", YLabel: "completion time (s)",
		Series: []chart.Series{{Name: "sf", X: xs, Y: ys, Points: true, Labels: labels}}}.Save(png)
	if err != nil {
		exp.Fatal(err)
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# Scaling factor sf against time and cost (the paper's Fig. 10c)\n\n")
	fmt.Fprintf(&md, "`go run ./benchmarks/sf` on %s.\n\n", exp.Machine())
	fmt.Fprintf(&md, "Cholesky of a %d×%d matrix in blocks of %d (%d×%d tiles, %d tasks). **Emulated**: at most %d goroutine workers "+
		"with a %v cold start and a %v lifetime (Lambda's), whose kernels wait their flops' time at %g GFLOP/s instead of computing "+
		"(`--emulate-compute`); the queue, state store and tile store (memory services) and every tile read and write are real. "+
		"Pipeline width 2; workers retire after 10 s without a task (the paper's T_timeout).\n\n",
		*n, *n, *block, tiles, tiles, exp.CholeskyTasks(tiles), *workers, *coldStart, *lifetime, *gflops)
	md.WriteString(t.String())
	md.WriteString("\n![completion time against worker-seconds](sf.png)\n")
	if err := exp.WriteMarkdown(dir, "sf.md", md.String()); err != nil {
		exp.Fatal(err)
	}
}

// parseFraction reads "1/8" or "2".
func parseFraction(s string) (float64, error) {
	var a, b float64
	if _, err := fmt.Sscanf(s, "%g/%g", &a, &b); err == nil && b != 0 {
		return a / b, nil
	}
	if _, err := fmt.Sscanf(s, "%g", &a); err != nil || a <= 0 {
		return 0, fmt.Errorf("bad sf %q", s)
	}
	return a, nil
}
