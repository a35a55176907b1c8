package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/state"
)

func progressAt(id string, done, tasks int64, flops float64, running int, elapsed time.Duration) engine.Progress {
	return engine.Progress{ID: id, Program: "cholesky N=16", Running: running, Elapsed: elapsed,
		Status: state.Status{Tasks: tasks, Done: done, Metrics: state.Metrics{Flops: flops}}}
}

// Off a terminal, a plain line every 5 s of the job: tasks done, the
// flop rate over the last span, workers, elapsed and the time left.
func TestProgressLines(t *testing.T) {
	var out bytes.Buffer
	v := newProgressView(progressLines, &out)
	for s := 1; s <= 12; s++ {
		v.update(progressAt("0123456789ab", int64(10*s), 120, float64(s)*2e9, 2, time.Duration(s)*time.Second))
	}
	v.end()
	want := "npw: job 0123456789ab: 50 of 120 tasks done (42%), 2.0 GFLOP/s, 2 workers, 5s elapsed, about 7s left\n" +
		"npw: job 0123456789ab: 100 of 120 tasks done (83%), 2.0 GFLOP/s, 2 workers, 10s elapsed, about 2s left\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	// A job followed from elsewhere (npw wait) has no worker count.
	out.Reset()
	v.update(progressAt("ba9876543210", 5, 10, 0, -1, 6*time.Second))
	if got := out.String(); strings.Contains(got, "workers") || !strings.Contains(got, "5 of 10 tasks done") {
		t.Errorf("got %q", got)
	}
}

// On a terminal, a bar with the job, its rate and workers, tasks done of
// all, elapsed and time left; log lines go above it, whole; a new job
// gets a new bar; end clears it.
func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	v := newProgressView(progressBar, &out)
	for s := 1; s <= 4; s++ {
		v.update(progressAt("0123456789ab", int64(30*s), 120, float64(s)*3e9, 2, time.Duration(s)*time.Second))
	}
	fmt.Fprintf(v.log(), "time=now level=INFO msg=\"worker stopped\"\n")
	v.update(progressAt("ba9876543210", 1, 10, 0, 1, time.Second))
	v.end()
	got := out.String()
	for _, want := range []string{
		`0123456789ab cholesky N=16: 3\.0 GFLOP/s, 2 workers +75% \|.*\| \(90/120\) \[\ds:\ds\]`,
		`0123456789ab cholesky N=16: 3\.0 GFLOP/s, 2 workers 100% \|.*\| \(120/120\)`,
		"\rtime=now level=INFO msg=\"worker stopped\"\n",
		`ba9876543210 cholesky N=16: 0\.0 GFLOP/s, 1 workers .*\(1/10\)`,
	} {
		if !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("no match for %q in\n%q", want, got)
		}
	}
}

// A job command shows the bar when asked (NPW_PROGRESS=bar, as on a
// terminal), none with --quiet; stdout keeps the summary either way.
func TestProgressModes(t *testing.T) {
	t.Setenv("NPW_PROGRESS", "bar")
	code, stdout, stderr := npw(t, "cholesky", "--n", "1200", "--block", "100")
	if code != 0 || !strings.Contains(stdout, "cholesky 1200×1200, block 100: done") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !regexp.MustCompile(`[0-9a-f]{12} cholesky N=12: [\d.]+ GFLOP/s, \d workers .*\(\d+/364\)`).MatchString(stderr) {
		t.Errorf("no bar on stderr:\n%q", stderr)
	}
	code, _, stderr = npw(t, "cholesky", "--n", "1200", "--block", "100", "--quiet")
	if code != 0 || strings.Contains(stderr, "GFLOP/s") || strings.Contains(stderr, "tasks done") {
		t.Errorf("--quiet: exit %d, stderr:\n%s", code, stderr)
	}
}
