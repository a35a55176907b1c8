package kernels

import (
	"fmt"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas/blas64"
)

// BenchmarkQRKernels times the tiled-QR kernels on 512×512 tiles and
// reports their rate by the flop counts the executor records.
func BenchmarkQRKernels(b *testing.B) {
	const n = 512
	rng := rand.New(rand.NewPCG(1, 1))
	k, _ := Lookup("qr_factor")
	a := randTile(rng, n, n)
	leaf, _ := k.Run([]blas64.General{a}, nil)
	leaf2, _ := k.Run([]blas64.General{randTile(rng, n, n)}, nil)
	tree, _ := k.Run([]blas64.General{leaf[2], leaf2[2]}, nil)
	s0, s1 := randTile(rng, n, n), randTile(rng, n, n)
	for _, c := range []struct {
		name, kernel string
		in           []blas64.General
	}{
		{"factor", "qr_factor", []blas64.General{a}},
		{"factor_stacked", "qr_factor", []blas64.General{leaf[2], leaf2[2]}},
		{"leaf", "qr_leaf", []blas64.General{leaf[0], leaf[1], s0}},
		{"trailing", "qr_trailing_update", []blas64.General{tree[0], tree[1], s0, s1}},
		{"lq_trailing", "lq_trailing_update", []blas64.General{tree[0], tree[1], s0, s1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			k, _ := Lookup(c.kernel)
			for b.Loop() {
				if _, err := k.Run(c.in, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(k.Flops(c.in)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkDgemm measures what a product of 2048² tiles reaches three
// ways on this machine: one call on one thread, one single-threaded call
// per core at once (npw's workers), and one call on all cores (the
// reference and the peak of npw bench). The second bounds the fraction
// of the peak that GEMM on npw can reach.
func BenchmarkDgemm(b *testing.B) {
	const n = 2048
	rng := rand.New(rand.NewPCG(2, 2))
	cores := runtime.GOMAXPROCS(0)
	type operands struct{ a, b, c blas64.General }
	ops := make([]operands, cores)
	for i := range ops {
		ops[i] = operands{randTile(rng, n, n), randTile(rng, n, n), randTile(rng, n, n)}
	}
	gemm := func(o operands) { blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, o.a, o.b, 1, o.c) }
	flops := 2 * float64(n) * n * n
	b.Run("one_thread", func(b *testing.B) {
		for b.Loop() {
			gemm(ops[0])
		}
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run(fmt.Sprintf("one_thread_x%d", cores), func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			for _, o := range ops {
				wg.Go(func() { gemm(o) })
			}
			wg.Wait()
		}
		b.ReportMetric(float64(cores)*flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run(fmt.Sprintf("%d_threads", cores), func(b *testing.B) {
		old := SetThreads(cores)
		defer SetThreads(old)
		for b.Loop() {
			gemm(ops[0])
		}
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// BenchmarkNonFinite is the check every task's outputs pass (Settings.
// AllowNonFinite): on a 4096×4096 tile, compare with the 1.4 s of its
// GEMM update at 100 GFLOP/s.
func BenchmarkNonFinite(b *testing.B) {
	g := blas64.General{Rows: 4096, Cols: 4096, Stride: 4096, Data: make([]float64, 4096*4096)}
	for i := range g.Data {
		g.Data[i] = float64(i % 977)
	}
	b.SetBytes(8 * 4096 * 4096)
	for b.Loop() {
		if _, _, _, ok := NonFinite(g); ok {
			b.Fatal("finite values reported")
		}
	}
}

// BenchmarkLUKernels times the tournament's kernels on 1024-row tiles:
// a leaf match, a match of two candidate sets, and a swap.
func BenchmarkLUKernels(b *testing.B) {
	const n = 1024
	rng := rand.New(rand.NewPCG(1, 1))
	id := func(from int) blas64.General {
		g := NewTile(n, 1)
		for i := range n {
			g.Data[i] = float64(from + i)
		}
		return g
	}
	a0, a1 := randTile(rng, n, n), randTile(rng, n, n)
	piv, _ := Lookup("lu_pivots")
	c0, _ := piv.Run([]blas64.General{a0, id(0)}, nil)
	c1, _ := piv.Run([]blas64.General{a1, id(n)}, nil)
	win, _ := piv.Run([]blas64.General{c0[0], c0[1], c1[0], c1[1]}, nil)
	for _, c := range []struct {
		name, kernel string
		in           []blas64.General
	}{
		{"pivots_leaf", "lu_pivots", []blas64.General{a0, id(0)}},
		{"pivots_match", "lu_pivots", []blas64.General{c0[0], c0[1], c1[0], c1[1]}},
		{"swap", "lu_swap", []blas64.General{a1, id(n), a0, id(0), win[1]}},
	} {
		b.Run(c.name, func(b *testing.B) {
			k, _ := Lookup(c.kernel)
			for b.Loop() {
				if _, err := k.Run(c.in, nil); err != nil {
					b.Fatal(err)
				}
			}
			if f := k.Flops(c.in); f > 0 {
				b.ReportMetric(f*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			}
		})
	}
}
