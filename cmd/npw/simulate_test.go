package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testCalibration = "../../sim/testdata/flat.json"

// A simulated job prints a real job's summary, labelled, with its cost;
// --json carries the same figures, and --plot draws the real plots.
func TestSimulate(t *testing.T) {
	code, stdout, stderr := npw(t, "simulate", "cholesky", "--n", "1000", "--block", "100", "--workers", "4", "--calibration", testCalibration)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"cholesky 1000×1000, block 100 (simulated): done in", "tasks            220: chol 10, trsm 45, syrk 165",
		"simulated        on virtual time", "calibration flat, protocol npw", "cost             $"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("no %q in\n%s", want, stdout)
		}
	}
	dir := t.TempDir()
	code, stdout, stderr = npw(t, "simulate", "qr", "--n", "550", "--block", "100", "--workers", "3", "--pipeline", "2", "--protocol", "numpywren",
		"--calibration", testCalibration, "--json", "--plot", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	var rep simulateReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if rep.Protocol != "numpywren" || rep.Tasks == 0 || rep.Seconds <= 0 || rep.PeakWorkers != 3 || rep.Continued != 0 || rep.Cost == nil || rep.Cost.Total <= 0 {
		t.Errorf("report %+v", rep)
	}
	checkPlots(t, dir)
}

// A program simulates with its arguments and the shapes of its inputs,
// from a file or by a shipped program's name; ragged tiles included.
func TestSimulateProgram(t *testing.T) {
	code, stdout, stderr := npw(t, "simulate", "tsqr", "N=8", "--in", "A=750x100", "--block", "100", "--workers", "3", "--calibration", testCalibration)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"tsqr N=8, block 100 (simulated): done in", "tasks            15: qr_factor 15", "calibration flat"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("no %q in\n%s", want, stdout)
		}
	}
	prog := filepath.Join(t.TempDir(), "copy.lp")
	src := "def copy(A: BigMatrix, B: BigMatrix, N: int):\n    for i in range(0, N):\n        for j in range(0, N):\n            B[i, j] = identity(A[i, j])\n"
	if err := os.WriteFile(prog, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = npw(t, "simulate", prog, "N=3", "--n", "250", "--block", "100", "--calibration", testCalibration, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	var rep simulateReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	// Tiles of 100×100, 100×50 and 50×50, read once and written once.
	if want := int64(8 * (4*100*100 + 4*100*50 + 50*50)); rep.Tasks != 9 || rep.Metrics.BytesRead != want || rep.Metrics.BytesWritten != want {
		t.Errorf("tasks %d, read %d, written %d; want 9 and %d", rep.Tasks, rep.Metrics.BytesRead, rep.Metrics.BytesWritten, want)
	}
}

// Bad input gets one line and a non-zero exit before anything runs.
func TestSimulateRefuses(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(testCalibration)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(broken, []byte(strings.Replace(string(data), `"memory_mb"`, `"memory"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"cholesky", "--n", "100", "--block", "10"}, "--calibration is required"},
		{[]string{"cholesky", "--n", "100", "--block", "10", "--calibration", "nowhere"}, `no calibration "nowhere"`},
		{[]string{"cholesky", "--n", "100", "--block", "10", "--calibration", broken}, `unknown field "memory"`},
		{[]string{"svd", "--n", "100", "--block", "10", "--calibration", testCalibration}, `simulate knows no algorithm "svd"`},
		{[]string{"cholesky", "--n", "100", "--block", "10", "--calibration", testCalibration, "--protocol", "mpi"}, `unknown protocol "mpi"`},
		{[]string{"cholesky", "--n", "40000", "--block", "20000", "--calibration", testCalibration}, "more than a worker's 3000 MB"},
		{[]string{"tsqr", "N=8", "--block", "10", "--calibration", testCalibration}, "A is an input of tsqr (no task writes it): give its shape with --in A=ROWSxCOLS, or --n"},
		{[]string{"tsqr", "N=8", "--in", "B=80x10", "--block", "10", "--calibration", testCalibration}, "--in B: program tsqr has no matrix B"},
		{[]string{"tsqr", "N=8", "--in", "A=80by10", "--block", "10", "--calibration", testCalibration}, `--in "A=80by10": want NAME=ROWSxCOLS`},
		{[]string{"tsqr", "N=8", "--in", "A=70x10", "--block", "10", "--calibration", testCalibration}, "tile A[7] lies outside the 70×10 input A"},
		{[]string{"qr", "--in", "A=80x10", "--block", "10", "--calibration", testCalibration}, "--in gives a program's input shapes"},
		{[]string{"nowhere.lp", "N=3", "--n", "10", "--block", "10", "--calibration", testCalibration}, "nowhere.lp"},
	} {
		code, stdout, stderr := npw(t, append([]string{"simulate"}, c.args...)...)
		first, hint, _ := strings.Cut(strings.TrimSpace(stderr), "\n")
		if code == 0 || !strings.Contains(first, c.want) || (hint != "" && !strings.HasPrefix(hint, "Run 'npw simulate --help'")) {
			t.Errorf("npw simulate %v: exit %d, stderr %q, stdout %q; want one line with %q", c.args, code, stderr, stdout, c.want)
		}
	}
}
