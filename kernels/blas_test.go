package kernels

import (
	"fmt"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas/blas64"
)

// The BLAS the kernels report is the one blas64 calls.
func TestBLASInUse(t *testing.T) {
	impl := fmt.Sprintf("%T", blas64.Implementation())
	want := map[string]string{"gonum": "gonum.Implementation", "openblas": "netlib.Implementation"}[BLAS]
	if !strings.HasSuffix(impl, want) {
		t.Fatalf("BLAS = %q but blas64 runs %s", BLAS, impl)
	}
	old := SetThreads(2)
	if back := SetThreads(old); BLAS == "openblas" && (old != 1 || back != 2) {
		t.Errorf("SetThreads: kernels start with %d threads (want 1), read back %d (want 2)", old, back)
	}
}
