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
	} {
		code, stdout, stderr := npw(t, append([]string{"simulate"}, c.args...)...)
		first, hint, _ := strings.Cut(strings.TrimSpace(stderr), "\n")
		if code == 0 || !strings.Contains(first, c.want) || (hint != "" && !strings.HasPrefix(hint, "Run 'npw simulate --help'")) {
			t.Errorf("npw simulate %v: exit %d, stderr %q, stdout %q; want one line with %q", c.args, code, stderr, stdout, c.want)
		}
	}
}
