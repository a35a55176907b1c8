//go:build openblas

package kernels

// The openblas build: every blas64 call, and so every gonum LAPACK routine
// above it, runs on OpenBLAS through cgo (apt-get install libopenblas-dev).
// The kernels compute single-threaded, like a one-core Lambda worker:
// parallelism comes from running several workers.

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
*/
import "C"

import (
	"sync"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
)

// BLAS names the BLAS the kernels run on.
const BLAS = "openblas"

var threads sync.Mutex

func init() {
	blas64.Use(netlib.Implementation{})
	C.openblas_set_num_threads(1)
}

// SetThreads sets how many threads one BLAS call may use (1 unless set)
// and returns the previous setting. A single-node reference run sets it to
// the number of cores and back; workers compute with one thread each.
func SetThreads(n int) int {
	threads.Lock()
	defer threads.Unlock()
	old := int(C.openblas_get_num_threads())
	C.openblas_set_num_threads(C.int(max(n, 1)))
	return old
}
