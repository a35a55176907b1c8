package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/npw-dev/npw/kernels"
)

// npw bench runs every algorithm on ragged tiles and on one tile, with the
// reference, and reports a consistent JSON object.
func TestBench(t *testing.T) {
	for _, alg := range []string{"cholesky", "gemm", "qr", "lu"} {
		for _, size := range [][2]string{{"200", "64"}, {"50", "64"}} {
			code, out, errOut := npw(t, "bench", alg, "--n", size[0], "--block", size[1], "--json", "--peak-n", "256")
			if code != 0 {
				t.Fatalf("bench %s n=%s: exit %d: %s", alg, size[0], code, errOut)
			}
			var r benchResult
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("bench %s: %v in %q", alg, err, out)
			}
			if r.Alg != alg || r.BLAS != kernels.BLAS || r.Tasks == 0 || r.WorkerSeconds <= 0 {
				t.Errorf("bench %s n=%s: %+v", alg, size[0], r)
			}
			if r.NPWSeconds <= 0 || r.ReferenceSeconds <= 0 || r.PeakGflops <= 0 {
				t.Errorf("bench %s n=%s: missing timings: %+v", alg, size[0], r)
			}
			if d := r.Ratio - r.NPWSeconds/r.ReferenceSeconds; d > 1e-9 || d < -1e-9 {
				t.Errorf("bench %s: ratio %g is not npw/reference", alg, r.Ratio)
			}
			if !(r.Residual <= 30) || !(r.ReferenceResidual <= 30) || r.ResidualEstimated {
				t.Errorf("bench %s n=%s: residuals %g and %g", alg, size[0], r.Residual, r.ReferenceResidual)
			}
		}
	}
	// The text form names both runs.
	code, out, errOut := npw(t, "bench", "cholesky", "--n", "100", "--block", "32", "--peak-n", "0")
	if code != 0 || !strings.Contains(out, "npw/ref") || !strings.Contains(out, "reference") {
		t.Fatalf("bench text: exit %d\n%s%s", code, out, errOut)
	}
}

// TestBenchReferences runs the real peers: SciPy on OpenBLAS, ScaLAPACK
// on MPI ranks and Dask (scripts/test installs them), each timed on its
// own input of npw's size and kind.
func TestBenchReferences(t *testing.T) {
	for _, alg := range []string{"cholesky", "qr"} {
		code, out, errOut := npw(t, "bench", alg, "--n", "300", "--block", "64", "--json", "--peak-n", "0", "--reference", "all")
		if code != 0 {
			t.Fatalf("bench %s --reference all: exit %d: %s", alg, code, errOut)
		}
		var r benchResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("bench %s: %v in %q", alg, err, out)
		}
		want := []string{"gonum", "openblas", "scalapack", "dask"}
		if alg == "qr" { // dask.array has no QR of a square matrix
			want = want[:3]
			if !strings.Contains(errOut, "dask has no qr") {
				t.Errorf("bench qr: stderr does not say dask was skipped: %q", errOut)
			}
		}
		var names []string
		best := 0.0
		for _, p := range r.References {
			names = append(names, p.Name)
			if p.Seconds <= 0 || p.Gflops <= 0 || math.Abs(p.Ratio-r.NPWSeconds/p.Seconds) > 1e-9 || p.What == "" {
				t.Errorf("bench %s: reference %+v", alg, p)
			}
			if p.Name != "gonum" && p.CPUSeconds <= 0 {
				t.Errorf("bench %s: %s has no CPU time", alg, p.Name)
			}
			best = max(best, p.Ratio)
		}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Errorf("bench %s: references %v, want %v", alg, names, want)
		}
		if r.StrongestRatio != best || r.Strongest == "" {
			t.Errorf("bench %s: strongest %s at %g, want the largest ratio %g", alg, r.Strongest, r.StrongestRatio, best)
		}
	}
	code, out, errOut := npw(t, "bench", "lu", "--n", "128", "--block", "64", "--peak-n", "0", "--reference", "openblas")
	if code != 0 || !strings.Contains(out, "openblas") || !strings.Contains(out, "scipy.linalg.lu_factor") || strings.Contains(out, "npw/ref ") {
		t.Fatalf("bench --reference openblas text: exit %d\n%s%s", code, out, errOut)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "cholesky", "--n", "10", "--reference", "lapack"},
		{"bench", "svdx", "--n", "10"},
		{"bench", "cholesky"},
		{"bench", "cholesky", "--n", "10", "--block", "0"},
	} {
		code, _, errOut := npw(t, args...)
		if code != exitUsage || strings.Count(strings.TrimSpace(errOut), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}
