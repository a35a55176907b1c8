//go:build !openblas

package kernels

// BLAS names the BLAS the kernels run on: "gonum" in this build (pure Go,
// runs anywhere), "openblas" in a build with the openblas tag.
const BLAS = "gonum"

// SetThreads sets how many threads one BLAS call may use and returns the
// previous setting. gonum's pure-Go BLAS spreads a large call over
// GOMAXPROCS goroutines by itself and has no such setting: SetThreads
// does nothing and returns 0.
func SetThreads(n int) int { return 0 }
