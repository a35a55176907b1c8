package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	engine "github.com/npw-dev/npw"
)

// How a job command shows its progress on stderr.
const (
	progressNone  = "none"  // --quiet
	progressBar   = "bar"   // a live bar, on a terminal
	progressLines = "lines" // one plain line every few seconds, elsewhere
)

// progressMode picks the display: none when quiet, a bar when stderr is
// a terminal, plain lines otherwise. NPW_PROGRESS (none, bar, lines)
// overrides the choice, for scripts and tests.
func progressMode(stderr io.Writer, quiet bool) string {
	if quiet {
		return progressNone
	}
	switch m := os.Getenv("NPW_PROGRESS"); m {
	case progressNone, progressBar, progressLines:
		return m
	}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return progressBar
	}
	return progressLines
}

// A progressView shows the progress of the jobs of one command on
// stderr: tasks done of all, GFLOP/s, running workers, elapsed and ETA.
// Log lines written through it (log) go above the bar, never into it.
type progressView struct {
	mode  string
	out   io.Writer
	every time.Duration // between plain lines

	mu       sync.Mutex
	id       string // the job shown
	bar      *progressbar.ProgressBar
	lastLine time.Duration // the job's elapsed time at the last plain line
	// The flop rate is taken over the span between updates a few
	// seconds apart, not since the start: a job's rate changes as it
	// goes (a Cholesky's trailing updates shrink).
	rateAt    time.Duration
	rateFlops float64
	rate      float64 // GFLOP/s
}

func newProgressView(mode string, out io.Writer) *progressView {
	return &progressView{mode: mode, out: out, every: 5 * time.Second}
}

// update shows p; a job other than the one shown ends the old bar and
// starts a new one.
func (v *progressView) update(p engine.Progress) {
	if v.mode == progressNone {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if p.ID != v.id {
		v.endLocked()
		v.id, v.rateAt, v.rateFlops, v.rate, v.lastLine = p.ID, 0, 0, 0, 0
		if v.mode == progressBar {
			v.bar = progressbar.NewOptions64(max(p.Status.Tasks, 1),
				progressbar.OptionSetWriter(v.out),
				progressbar.OptionShowCount(),
				progressbar.OptionSetElapsedTime(true),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionSetWidth(24),
				progressbar.OptionUseANSICodes(true))
		}
	}
	if d := p.Elapsed - v.rateAt; d >= 3*time.Second || v.rateAt == 0 && p.Elapsed > 0 {
		v.rate = (p.Status.Metrics.Flops - v.rateFlops) / d.Seconds() / 1e9
		v.rateAt, v.rateFlops = p.Elapsed, p.Status.Metrics.Flops
	}
	workers := ""
	if p.Running >= 0 {
		workers = fmt.Sprintf(", %d workers", p.Running)
	}
	switch v.mode {
	case progressBar:
		v.bar.Describe(fmt.Sprintf("%s %s: %.1f GFLOP/s%s", p.ID, short(p.Program, 32), v.rate, workers))
		v.bar.Set64(p.Status.Done)
	case progressLines:
		if p.Elapsed-v.lastLine < v.every {
			return
		}
		v.lastLine = p.Elapsed
		eta := ""
		if p.Status.Done > 0 && p.Status.Done < p.Status.Tasks {
			left := time.Duration(float64(p.Elapsed) * float64(p.Status.Tasks-p.Status.Done) / float64(p.Status.Done))
			eta = fmt.Sprintf(", about %v left", left.Round(time.Second))
		}
		fmt.Fprintf(v.out, "npw: job %s: %d of %d tasks done (%.0f%%), %.1f GFLOP/s%s, %v elapsed%s\n", p.ID, p.Status.Done, p.Status.Tasks,
			100*float64(p.Status.Done)/float64(max(p.Status.Tasks, 1)), v.rate, workers, p.Elapsed.Round(time.Second), eta)
	}
}

// end removes the bar, before the command prints its summary.
func (v *progressView) end() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.endLocked()
	v.id = ""
}

func (v *progressView) endLocked() {
	if v.bar != nil {
		v.bar.Clear()
		v.bar.Exit()
		v.bar = nil
	}
}

// log returns a writer for log lines: on a terminal each is written on
// the bar's line, which is drawn again below it.
func (v *progressView) log() io.Writer {
	if v.mode != progressBar {
		return v.out
	}
	return logAboveBar{v}
}

type logAboveBar struct{ v *progressView }

func (w logAboveBar) Write(b []byte) (int, error) {
	w.v.mu.Lock()
	defer w.v.mu.Unlock()
	if w.v.bar != nil {
		w.v.bar.Clear()
		defer w.v.bar.RenderBlank()
	}
	return w.v.out.Write(b)
}

// short cuts s to at most n runes, ending it with … when cut.
func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
