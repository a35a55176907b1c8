package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/state"
)

// totals are the sums over the jobs of one command.
type totals struct {
	wall, workerSecs       float64
	tasks, done, launched  int64
	continued, peakWorkers int
	metrics                state.Metrics
	uploaded, peakScratch  int64
	workerRSS              int64 // the largest peak RSS a worker process reported
	requests               executor.Requests
	blas                   map[string]int // workers per BLAS
	phase                  state.Phase
	kernels                []string // per job: tasks per kernel
}

func sum(results []*job.Result, uploaded int64) totals {
	t := totals{uploaded: uploaded, blas: map[string]int{}, phase: state.Done}
	for _, r := range results {
		t.wall += r.Wall.Seconds()
		t.workerSecs += r.WorkerSeconds()
		t.tasks += r.Status.Tasks
		t.done += r.Status.Done
		t.launched += int64(len(r.Workers))
		t.metrics.Add(r.Status.Metrics)
		t.uploaded += r.Uploaded
		t.peakScratch = max(t.peakScratch, r.Status.PeakScratchBytes)
		t.requests.Add(r.Traffic.Requests)
		t.peakWorkers = max(t.peakWorkers, r.PeakWorkers())
		for _, w := range r.Workers {
			if w.BLAS != "" {
				t.blas[w.BLAS]++
			}
			t.continued += w.Continued
			t.workerRSS = max(t.workerRSS, w.PeakRSS)
		}
		if r.Status.Phase != state.Done {
			t.phase = r.Status.Phase
		}
		var kernels []string
		for _, k := range r.TasksByKernel {
			kernels = append(kernels, fmt.Sprintf("%s %d", k.Kernel, k.Tasks))
		}
		part := strings.Join(kernels, ", ")
		if len(results) > 1 {
			part = fmt.Sprintf("%s (%d: %s)", r.Program, r.Status.Tasks, part)
		}
		t.kernels = append(t.kernels, part)
	}
	return t
}

// A summaryLine is a line the summary ends with: what it is about (input,
// output) and what it says.
type summaryLine struct{ label, text string }

// printSummary prints the one-screen account of one job or of a chain of
// jobs run one after the other; uploaded counts input bytes uploaded
// before the jobs, and lines are the closing lines.
func printSummary(w io.Writer, title string, results []*job.Result, uploaded int64, lines []summaryLine) {
	t := sum(results, uploaded)
	m := t.metrics
	fmt.Fprintf(w, "%s: %s in %.2f s\n", title, t.phase, t.wall)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(w, "  %-16s %s\n", name, fmt.Sprintf(format, args...))
	}
	sep := ": "
	if len(results) > 1 {
		sep = fmt.Sprintf(" in %d jobs: ", len(results))
	}
	row("tasks", "%d%s%s", t.tasks, sep, strings.Join(t.kernels, "; "))
	row("throughput", "%.2f GFLOP/s (%.3g GFLOP in %.2f s)", m.Flops/t.wall/1e9, m.Flops/1e9, t.wall)
	tasksPer := 0.0
	if t.launched > 0 {
		tasksPer = float64(t.done) / float64(t.launched)
	}
	chained := ""
	if t.continued > 0 {
		chained = fmt.Sprintf(", %d tasks continued on the worker holding their inputs", t.continued)
	}
	row("workers", "peak %d, %d launched, %.1f worker-seconds, %.1f tasks per worker%s%s", t.peakWorkers, t.launched, t.workerSecs, tasksPer, blasText(t.blas), chained)
	row("time in tasks", "read %.2f s, compute %.2f s, write %.2f s (summed over tasks)", m.ReadSeconds, m.ComputeSeconds, m.WriteSeconds)
	cached := ""
	if m.CacheHits > 0 {
		cached = fmt.Sprintf(" (and %d tiles from the workers' caches)", m.CacheHits)
	}
	row("data", "read %s%s, written %s, inputs uploaded %s", bytesText(m.BytesRead), cached, bytesText(m.BytesWritten), bytesText(t.uploaded))
	rss := ""
	if t.workerRSS > 0 {
		rss = fmt.Sprintf("; worker processes' peak RSS up to %s", bytesText(t.workerRSS))
	}
	row("scratch memory", "peak %s%s", bytesText(t.peakScratch), rss)
	if t.done > 0 {
		per := func(n int64) float64 { return float64(n) / float64(t.done) }
		row("requests", "per task: tile store %.1f, queue %.1f, state store %.1f (%d, %d, %d in all)",
			per(t.requests.Tiles), per(t.requests.Queue), per(t.requests.State), t.requests.Tiles, t.requests.Queue, t.requests.State)
	}
	for _, l := range lines {
		row(l.label, "%s", l.text)
	}
}

// blasText names the BLAS the workers' kernels ran on, with how many
// workers ran on each when they differ (workers from different builds).
func blasText(workers map[string]int) string {
	switch len(workers) {
	case 0:
		return ""
	case 1:
		for b := range workers {
			return ", kernels on " + b
		}
	}
	var parts []string
	for _, b := range slices.Sorted(maps.Keys(workers)) {
		parts = append(parts, fmt.Sprintf("%s (%d workers)", b, workers[b]))
	}
	return ", kernels on " + strings.Join(parts, " and ")
}

func bytesText(n int64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

// printResidual prints a scaled residual and whether it is within the
// bound of 30.
func printResidual(w io.Writer, what string, r residual) {
	how := "exact"
	if r.estimated {
		how = fmt.Sprintf("estimated from %d random probes", probes)
	}
	verdict := "ok"
	if !(r.value <= 30) {
		verdict = "TOO LARGE"
		fail(w, "the residual %s is %.3g, past its bound of 30", what, r.value)
	}
	fmt.Fprintf(w, "  %-16s %s = %.3g (%s; %s, bound 30)\n", "residual", what, r.value, verdict, how)
}
