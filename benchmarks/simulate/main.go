// Command simulate checks npw simulate against real runs on this
// machine, side by side in one run: Cholesky, GEMM and QR at n = 8192 and
// 16384 with 2 goroutine workers on the memory services, and Cholesky at
// n = 8192 with 2 worker processes on the local cloud (MinIO, fauxqs,
// Redis), each real run (npw bench, OpenBLAS build, no reference) next to
// its prediction with the shipped calibration "here" (measured by npw
// simulate --calibrate, committed before these runs). It writes
// benchmarks/results/simulate.md and simulate.png (predicted against real
// time).
//
//	go run ./benchmarks/simulate             # about 12 minutes
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/npw-dev/npw/benchmarks/internal/exp"
	"github.com/npw-dev/npw/internal/chart"
)

// A run is one real job and its prediction.
type run struct {
	alg      string
	n, block int
	services string // memory or cloud
}

// real is the part of npw bench --json compared.
type real struct {
	Seconds       float64 `json:"npw_seconds"`
	WorkerSeconds float64 `json:"worker_seconds"`
	Tasks         int64   `json:"tasks"`
}

// predicted is the part of npw simulate --json compared.
type predicted struct {
	Seconds       float64 `json:"seconds"`
	WorkerSeconds float64 `json:"worker_seconds"`
	Tasks         int64   `json:"tasks"`
	SimSeconds    float64 `json:"simulator_seconds"`
}

func main() {
	calibration := flag.String("calibration", "here", "the calibration the predictions take")
	block := flag.Int("block", 2048, "tile size of every run")
	tolerance := flag.Float64("tolerance", 0.20, "how far a prediction may be from the real time")
	flag.Parse()
	began := time.Now()
	dir, err := exp.Results()
	if err != nil {
		exp.Fatal(err)
	}
	bin, err := exp.BuildNPW("openblas")
	if err != nil {
		exp.Fatal(err)
	}
	var runs []run
	for _, alg := range []string{"cholesky", "gemm", "qr"} {
		for _, n := range []int{8192, 16384} {
			runs = append(runs, run{alg, n, *block, "memory"})
		}
	}
	runs = append(runs, run{"cholesky", 8192, *block, "cloud"})

	t := exp.Table{Head: []string{"operation", "n", "block", "services", "workers", "real s", "predicted s", "predicted / real", "within ±" + strconv.Itoa(int(*tolerance*100)) + " %", "real worker-s", "predicted worker-s", "simulator s"}}
	var xs, ys []float64
	var labels []string
	held := 0
	var cloud *exp.Cloud
	for _, r := range runs {
		args := []string{"--n", strconv.Itoa(r.n), "--block", strconv.Itoa(r.block), "--workers", "2"}
		benchArgs := append([]string{"bench", r.alg, "--no-reference", "--peak-n", "0", "--json", "--quiet"}, args...)
		simArgs := append([]string{"simulate", r.alg, "--calibration", *calibration, "--json", "--services", r.services}, args...)
		if r.services == "cloud" {
			if cloud == nil {
				if cloud, err = exp.StartCloud(); err != nil {
					exp.Fatal(err)
				}
			}
			benchArgs = append(benchArgs, "--launch", "process", "--store", cloud.Store, "--queue", cloud.Queue, "--state", cloud.State)
		}
		var got real
		if err := runJSON(bin, benchArgs, &got); err != nil {
			exp.Fatal(err)
		}
		var want predicted
		if err := runJSON(bin, simArgs, &want); err != nil {
			exp.Fatal(err)
		}
		ratio := want.Seconds / got.Seconds
		ok := "yes"
		if math.Abs(ratio-1) > *tolerance {
			ok = "**no**"
		} else {
			held++
		}
		where := "memory"
		if r.services == "cloud" {
			where = "local cloud, processes"
		}
		t.Add(r.alg, r.n, r.block, where, 2, fmt.Sprintf("%.2f", got.Seconds), fmt.Sprintf("%.2f", want.Seconds), fmt.Sprintf("%.2f", ratio), ok,
			fmt.Sprintf("%.1f", got.WorkerSeconds), fmt.Sprintf("%.1f", want.WorkerSeconds), fmt.Sprintf("%.1f", want.SimSeconds))
		xs, ys = append(xs, got.Seconds), append(ys, want.Seconds)
		labels = append(labels, fmt.Sprintf("%s %d%s", r.alg, r.n, map[string]string{"cloud": " cloud"}[r.services]))
	}
	if cloud != nil {
		cloud.Stop()
	}
	top := 0.0
	for i := range xs {
		top = max(top, xs[i], ys[i])
	}
	png := filepath.Join(dir, "simulate.png")
	err = chart.Lines{Title: "npw simulate against real runs (2 workers)", XLabel: "real seconds", YLabel: "predicted seconds", LogX: true, LogY: true,
		Series: []chart.Series{
			{Name: "a run", X: xs, Y: ys, Points: true, Labels: labels},
			{Name: "predicted = real", X: []float64{1, top * 1.2}, Y: []float64{1, top * 1.2}, Dashed: true},
			{Name: fmt.Sprintf("±%d %%", int(*tolerance*100)), X: []float64{1, top * 1.2}, Y: []float64{1 + *tolerance, (1 + *tolerance) * top * 1.2}, Dashed: true},
			{Name: "", X: []float64{1, top * 1.2}, Y: []float64{1 - *tolerance, (1 - *tolerance) * top * 1.2}, Dashed: true},
		}}.Save(png)
	if err != nil {
		exp.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# npw simulate against real runs\n\n`go run ./benchmarks/simulate` on %s.\n\n", exp.Machine())
	fmt.Fprintf(&b, "Each real run is `npw bench ALG --n N --block %d --workers 2 --no-reference` on the OpenBLAS build (goroutine workers on the memory services, or worker processes on MinIO, fauxqs and redis-server on this machine); next to it, `npw simulate` of the same job with `--calibration %s` (sim/calibrations/%s.json, measured by `npw simulate --calibrate` and committed before this run) and the same services. Times are the job's, from its input in the store to its result there.\n\n", *block, *calibration, *calibration)
	b.WriteString(t.String())
	fmt.Fprintf(&b, "\n%d of %d predictions within ±%d %% of the real time. The run took %.1f minutes.\n\n![predicted against real](simulate.png)\n", held, len(runs), int(*tolerance*100), time.Since(began).Minutes())
	if err := exp.WriteMarkdown(dir, "simulate.md", b.String()); err != nil {
		exp.Fatal(err)
	}
}

// runJSON runs npw with args and decodes its JSON output into v.
func runJSON(bin string, args []string, v any) error {
	cmd := exec.Command(bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	fmt.Fprintf(os.Stderr, "simulate: npw %s\n", strings.Join(args, " "))
	err := cmd.Run()
	if jerr := json.Unmarshal(out.Bytes(), v); jerr != nil || err != nil {
		return fmt.Errorf("npw %s: %v %v: %s", strings.Join(args, " "), err, jerr, strings.TrimSpace(errOut.String()))
	}
	return nil
}
