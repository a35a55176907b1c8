package main

import (
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// checkPlots checks the PNGs of --plot in dir: each decodes, is a
// chart's size and has lines or bars in the chart colours.
func checkPlots(t *testing.T, dir string) {
	t.Helper()
	for _, name := range plotFiles {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b := img.Bounds()
		colored := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				if max(r, g, bl)-min(r, g, bl) > 0x4000 { // not white, grey or black
					colored++
				}
			}
		}
		if b.Dx() < 500 || b.Dy() < 300 || colored < 500 {
			t.Errorf("%s: %v with %d coloured pixels", name, b, colored)
		}
	}
}

// TestEmulatedFault runs a Cholesky with emulated compute and kills half
// its workers partway, on goroutine workers in memory and on process
// workers over the local cloud: the job finishes (the killed workers'
// tasks lapse and are redone), and the summary says the compute was
// emulated and how many workers were killed, when; --plot draws it.
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
			dir := filepath.Join(t.TempDir(), "plots")
			args := append([]string{"cholesky", "--n", "128", "--block", "16", "--workers", "6", "--emulate-compute", "0.0002",
				"--kill-fraction", "0.5", "--kill-at", "700ms", "--quiet", "--plot", dir}, tc.args...)
			code, stdout, stderr := npw(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "compute emulated at 0.0002 GFLOP/s per worker") {
				t.Errorf("no emulation line:\n%s", stdout)
			}
			m := regexp.MustCompile(`fault +job \w+: (\d+) of \d+ workers killed at ([\d.]+) s \(--kill-fraction 0.5\); (90% as many running again|never 90% as many)`).FindStringSubmatch(stdout)
			if m == nil {
				t.Fatalf("no fault line:\n%s", stdout)
			}
			killed, _ := strconv.Atoi(m[1])
			at, _ := strconv.ParseFloat(m[2], 64)
			if killed < 1 || killed > 3 || at < 0.7 {
				t.Errorf("%d workers killed at %g s; want 1 to 3 (half of at most 6) from 0.7 s:\n%s", killed, at, stdout)
			}
			// The kernels waited their flops' time: 0.000706 GFLOP at
			// 0.0002 GFLOP/s is 3.5 s of compute, where computing takes
			// milliseconds.
			c := regexp.MustCompile(`time in tasks +read [\d.]+ s, compute ([\d.]+) s`).FindStringSubmatch(stdout)
			if c == nil {
				t.Fatalf("no time in tasks:\n%s", stdout)
			}
			if secs, _ := strconv.ParseFloat(c[1], 64); secs < 3 {
				t.Errorf("%g s of compute: the workers did not emulate it\n%s", secs, stdout)
			}
			checkPlots(t, dir)
		})
	}
}
