package band

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkBidiagonalize chases a random 2048×2048 band of width 256, the
// last step of a 2048×2048 SVD at block 256; the rate counts the
// Householder chase's 8·b·n² flops.
func BenchmarkBidiagonalize(b *testing.B) {
	const n, w = 2048, 256
	rng := rand.New(rand.NewPCG(1, 2))
	src := NewUpper(n, w)
	for i := range n {
		for j := i; j <= min(n-1, i+w); j++ {
			src.Set(i, j, rng.Float64()-0.5)
		}
	}
	for b.Loop() {
		u := &Upper{N: n, B: w, data: append([]float64(nil), src.data...)}
		u.Bidiagonalize()
	}
	b.ReportMetric(8*w*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
