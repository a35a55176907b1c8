package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestEmulatedFault runs a Cholesky with emulated compute and kills half
// its workers partway, on goroutine workers in memory and on process
// workers over the local cloud: the job finishes (the killed workers'
// tasks lapse and are redone), and the summary says the compute was
// emulated and how many workers were killed, when.
func TestEmulatedFault(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"goroutines", nil},
		{"processes", append([]string{"--launch", "process"}, cloudArgs(t)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// 120 tasks of up to 40 ms (a syrk's 8192 flops at 0.0002
			// GFLOP/s), 3.5 s of work in all.
			args := append([]string{"cholesky", "--n", "128", "--block", "16", "--workers", "6", "--emulate-compute", "0.0002",
				"--kill-fraction", "0.5", "--kill-at", "700ms", "--quiet"}, tc.args...)
			code, stdout, stderr := npw(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "compute emulated at 0.0002 GFLOP/s per worker") {
				t.Errorf("no emulation line:\n%s", stdout)
			}
			m := regexp.MustCompile(`fault +job \w+: (\d+) workers killed at ([\d.]+) s`).FindStringSubmatch(stdout)
			if m == nil {
				t.Fatalf("no fault line:\n%s", stdout)
			}
			killed, _ := strconv.Atoi(m[1])
			at, _ := strconv.ParseFloat(m[2], 64)
			if killed < 1 || killed > 3 || at < 0.7 {
				t.Errorf("%d workers killed at %g s; want 1 to 3 (half of at most 6) from 0.7 s:\n%s", killed, at, stdout)
			}
		})
	}
}
