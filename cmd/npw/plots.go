package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/internal/chart"
	"github.com/npw-dev/npw/job"
)

// plotFiles are the PNGs --plot writes, by what they show.
var plotFiles = []string{"timeline.png", "flops.png", "gantt.png"}

// writePlots draws the jobs of a session into dir: the timeline of
// queued tasks, tasks in flight and running workers (the paper's Fig.
// 10b), the flop rate over time (Fig. 9a) and each worker's tasks by
// phase, on one time axis from the first job's start, with injected
// failures marked. The flop rate and the Gantt chart come from the
// workers' spans, which --plot keeps.
func writePlots(dir string, results []*job.Result) ([]string, error) {
	if len(results) == 0 {
		return nil, nil
	}
	t0 := results[0].Started
	sec := func(t time.Time) float64 { return t.Sub(t0).Seconds() }
	var marks []chart.Mark
	title := jobsTitle(results)
	for _, r := range results {
		for _, k := range r.Kills {
			marks = append(marks, chart.Mark{X: sec(r.Started.Add(k.At)), Label: fmt.Sprintf("%d killed", k.Killed)})
		}
	}
	var ts, pending, inFlight, running []float64
	for _, r := range results {
		start := timelineStart(r)
		for _, s := range r.Timeline {
			ts = append(ts, sec(start.Add(s.At)))
			pending = append(pending, float64(s.Pending))
			inFlight = append(inFlight, float64(s.InFlight))
			running = append(running, float64(s.Running))
		}
	}
	var paths []string
	if len(ts) > 0 {
		path := filepath.Join(dir, plotFiles[0])
		err := chart.Lines{Title: title + ": tasks and workers", XLabel: "seconds", YLabel: "count", Marks: marks, Series: []chart.Series{
			{Name: "queued tasks", X: ts, Y: pending, Steps: true},
			{Name: "tasks in flight", X: ts, Y: inFlight, Steps: true},
			{Name: "running workers", X: ts, Y: running, Steps: true},
		}}.Save(path)
		if err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	spans := allSpans(results)
	if len(spans) == 0 {
		return paths, nil
	}
	end := 0.0
	for _, s := range spans {
		end = max(end, sec(s.Written))
	}
	x, gflops := flopRate(spans, sec, end)
	path := filepath.Join(dir, plotFiles[1])
	if err := (chart.Lines{Title: title + ": flop rate", XLabel: "seconds", YLabel: "GFLOP/s", Marks: marks,
		Series: []chart.Series{{Name: "GFLOP/s of the kernels running", X: x, Y: gflops, Steps: true}}}).Save(path); err != nil {
		return nil, err
	}
	paths = append(paths, path)
	path = filepath.Join(dir, plotFiles[2])
	if err := gantt(title, spans, sec, marks).Save(path); err != nil {
		return nil, err
	}
	return append(paths, path), nil
}

// jobsTitle names the jobs of a plot: "cholesky N=32", or the first and
// how many more.
func jobsTitle(results []*job.Result) string {
	t := results[0].Program
	if len(results) > 1 {
		t += fmt.Sprintf(" and %d more jobs", len(results)-1)
	}
	return t
}

// A workerSpan is a task's span with its worker's launch order and name.
type workerSpan struct {
	worker int
	name   string
	executor.Span
}

// allSpans gathers every worker's spans, numbering the workers in the
// order they were launched.
func allSpans(results []*job.Result) []workerSpan {
	type w struct {
		launched time.Time
		name     string
		spans    []executor.Span
	}
	var ws []w
	for i, r := range results {
		for _, rep := range r.Workers {
			if len(rep.Spans) == 0 {
				continue
			}
			name := rep.Worker
			if len(results) > 1 {
				name = fmt.Sprintf("%d:%s", i+1, rep.Worker)
			}
			ws = append(ws, w{rep.Launched, name, rep.Spans})
		}
	}
	slices.SortStableFunc(ws, func(a, b w) int { return a.launched.Compare(b.launched) })
	var out []workerSpan
	for i, w := range ws {
		for _, s := range w.spans {
			out = append(out, workerSpan{i, w.name, s})
		}
	}
	return out
}

// flopRate spreads each task's flops evenly over its kernel's run and
// sums them in about 200 bins of the jobs' time, in GFLOP/s.
func flopRate(spans []workerSpan, sec func(time.Time) float64, end float64) (x, gflops []float64) {
	intervals := make([]chart.Interval, len(spans))
	for i, s := range spans {
		intervals[i] = chart.Interval{Start: sec(s.Read), End: sec(s.Computed), Amount: s.Flops / 1e9}
	}
	return chart.Rate(intervals, max(end/200, 0.01), end)
}

// gantt is the chart of each worker's tasks: reading, computing, writing.
func gantt(title string, spans []workerSpan, sec func(time.Time) float64, marks []chart.Mark) chart.Gantt {
	g := chart.Gantt{Title: title + ": tasks per worker", XLabel: "seconds", Phases: []string{"read", "compute", "write"}, Marks: marks}
	for i, s := range spans {
		for len(g.Rows) <= s.worker {
			g.Rows = append(g.Rows, "")
		}
		g.Rows[s.worker] = s.name
		for p, se := range [][2]time.Time{{s.Leased, s.Read}, {s.Read, s.Computed}, {s.Computed, s.Written}} {
			if se[1].After(se[0]) {
				g.Spans = append(g.Spans, chart.Span{Row: s.worker, Item: i, Phase: p, Start: sec(se[0]), End: sec(se[1])})
			}
		}
	}
	return g
}
