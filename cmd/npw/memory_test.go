package main

import (
	"bufio"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas/blas64"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/internal/localcloud"
	"github.com/npw-dev/npw/kernels"
)

// The client holds a few tiles, whatever the matrix (README, "Memory"):
// npw put, npw get and npw cholesky from and to .npy files on a file
// store with process workers, each run as a process of its own on a
// 288 MiB matrix, keep the client's peak RSS under a quarter of that.
func TestClientMemoryBounded(t *testing.T) {
	if raceDetector {
		t.Skip("peak RSS under the race detector measures its shadow memory; scripts/test runs this test without it")
	}
	const n, block = 6144, 256
	dir := t.TempDir()
	a := filepath.Join(dir, "a.npy")
	writeGenerated(t, a, engine.SPD, n, 11)
	size := int64(8 * n * n)
	bound := size / 4
	_, queue, state := localcloud.Get(t).Scoped(t)
	store := "file://" + filepath.Join(dir, "store")
	for _, args := range [][]string{
		{"put", a, store + "/A", "--block", strconv.Itoa(block)},
		{"get", store + "/A", filepath.Join(dir, "a2.npy")},
		{"cholesky", a, "-o", filepath.Join(dir, "l.npy"), "--block", strconv.Itoa(block),
			"--store", store, "--queue", queue, "--state", state, "--launch", "process", "--workers", "2"},
	} {
		peak, out := peakRSS(t, args...)
		t.Logf("npw %s: client peak RSS %.1f MiB for a %.0f MiB matrix (bound %.0f MiB)\n%s", args[0], mib(peak), mib(size), mib(bound), out)
		if peak > bound {
			t.Errorf("npw %s: the client's peak RSS is %.1f MiB, over a quarter of the %.0f MiB matrix", args[0], mib(peak), mib(size))
		}
	}
	if same, err := sameFiles(a, filepath.Join(dir, "a2.npy")); err != nil || !same {
		t.Errorf("npw get wrote another file than npw put read (%v)", err)
	}
	if r := probeCholesky(t, filepath.Join(dir, "l.npy"), n, 11); !(r < 30) {
		t.Errorf("‖(A − LLᵀ)x‖/(‖A‖‖x‖nε) = %.3g", r)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// writeGenerated writes the n×n matrix engine.Generate makes to a .npy
// file, a strip of rows at a time.
func writeGenerated(t *testing.T, path string, kind, n int, seed uint64) {
	w, err := blockstore.CreateNPY(path, n, n)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const strip = 256
	for r0 := 0; r0 < n; r0 += strip {
		rows := min(strip, n-r0)
		s := blas64.General{Rows: rows, Cols: n, Stride: n, Data: make([]float64, rows*n)}
		kernels.Generate(kind, seed, n, r0, 0, s)
		if err := w.WriteTile(r0, 0, s); err != nil {
			t.Fatal(err)
		}
	}
}

// peakRSS runs npw as a process of its own and returns its peak resident
// memory (VmHWM, the process alone, not its worker processes), read from
// /proc while it runs; the run must succeed.
func peakRSS(t *testing.T, args ...string) (int64, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "NPW_TEST_MAIN=1")
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak int64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if hwm, ok := vmHWM(cmd.Process.Pid); ok {
			peak = max(peak, hwm)
		}
		select {
		case err := <-done:
			text, _ := os.ReadFile(out.Name())
			if err != nil {
				t.Fatalf("npw %v: %v\n%s", args, err, text)
			}
			return peak, string(text)
		case <-tick.C:
		}
	}
}

// vmHWM reads a process's peak resident set size.
func vmHWM(pid int) (int64, bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

func sameFiles(a, b string) (bool, error) {
	x, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	y, err := os.ReadFile(b)
	return string(x) == string(y), err
}

// probeCholesky returns ‖(A − LLᵀ)x‖/(‖A‖_F‖x‖·n·ε) for a random x, with
// A the generated matrix and L read from a .npy file a strip at a time.
func probeCholesky(t *testing.T, path string, n int, seed uint64) float64 {
	r, err := blockstore.OpenNPY(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	x := make([]float64, n)
	for i := range x {
		x[i] = math.Sin(float64(i) + 0.5)
	}
	ax, ltx, llt := make([]float64, n), make([]float64, n), make([]float64, n)
	var normA float64
	const strip = 256
	for pass := range 2 { // Lᵀx, then L(Lᵀx)
		for r0 := 0; r0 < n; r0 += strip {
			rows := min(strip, n-r0)
			l, err := r.ReadTile(r0, 0, rows, n)
			if err != nil {
				t.Fatal(err)
			}
			for i := range rows {
				row := l.Data[i*l.Stride : i*l.Stride+n]
				if pass == 0 {
					for j, v := range row {
						ltx[j] += v * x[r0+i]
					}
				} else {
					llt[r0+i] = blas64.Implementation().Ddot(n, row, 1, ltx, 1)
				}
			}
			if pass == 0 {
				a := blas64.General{Rows: rows, Cols: n, Stride: n, Data: make([]float64, rows*n)}
				kernels.Generate(engine.SPD, seed, n, r0, 0, a)
				for i := range rows {
					row := a.Data[i*n : (i+1)*n]
					ax[r0+i] = blas64.Implementation().Ddot(n, row, 1, x, 1)
					normA += blas64.Implementation().Ddot(n, row, 1, row, 1)
				}
			}
		}
	}
	var diff, nx float64
	for i := range n {
		diff += (ax[i] - llt[i]) * (ax[i] - llt[i])
		nx += x[i] * x[i]
	}
	return math.Sqrt(diff) / (math.Sqrt(normA) * math.Sqrt(nx) * float64(n) * 0x1p-52)
}
