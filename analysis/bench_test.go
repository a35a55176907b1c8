package analysis

import (
	"fmt"
	"testing"
)

// BenchmarkChildrenParents measures one task's children plus parents,
// averaged over every task of the DAG (ns/op is per task).
func BenchmarkChildrenParents(b *testing.B) {
	for _, tc := range []struct{ prog, args string }{
		{"cholesky", "N=64"}, {"cholesky", "N=256"}, {"tsqr", "N=1024"}, {"gemm", "M=16 N=16 K=16 G=4"},
	} {
		p := mustPlan(b, tc.prog, tc.args)
		var nodes []Node
		if err := p.Walk(func(n Node) error { nodes = append(nodes, n); return nil }); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%s/%s", tc.prog, tc.args), func(b *testing.B) {
			var buf []Node
			var err error
			for i := 0; b.Loop(); i++ {
				n := nodes[(i*7919)%len(nodes)] // a stride that visits every task in turn
				if buf, err = p.Children(n, buf[:0]); err != nil {
					b.Fatal(err)
				}
				if buf, err = p.Parents(n, buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSummarize measures the full traversal behind npw dag.
func BenchmarkSummarize(b *testing.B) {
	for _, n := range []int{16, 64} {
		p := mustPlan(b, "cholesky", fmt.Sprintf("N=%d", n))
		b.Run(fmt.Sprintf("cholesky/N=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Summarize(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkComputeLevels measures the critical-path ranking a job's
// client computes before it starts, and the size of its serialised form.
func BenchmarkComputeLevels(b *testing.B) {
	for _, tc := range []struct{ prog, args string }{
		{"cholesky", "N=64"}, {"cholesky", "N=256"}, {"gemm", "M=64 N=64 K=64 G=1"}, {"qr", "MT=32 NT=32"}, {"geqrf", "MT=16 NT=16 KT=16 BS=512 MR=4"},
	} {
		p := mustPlan(b, tc.prog, tc.args)
		b.Run(fmt.Sprintf("%s/%s", tc.prog, tc.args), func(b *testing.B) {
			var l *Levels
			var err error
			for b.Loop() {
				if l, err = p.ComputeLevels(1 << 26); err != nil {
					b.Fatal(err)
				}
			}
			data, err := l.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(data)), "bytes")
			b.ReportMetric(float64(l.Max()), "path")
		})
	}
}
