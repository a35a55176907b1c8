package analysis

import (
	"slices"
	"sync"
	"testing"
)

// TestConcurrentQueries runs Children and Parents on one plan from several
// goroutines, as workers do, and checks every answer against a sequential
// run; under -race it also checks that queries share no mutable state.
func TestConcurrentQueries(t *testing.T) {
	for _, tc := range []struct{ prog, args string }{{"cholesky", "N=12"}, {"tsqr", "N=37"}, {"gemm", "M=3 N=2 K=7 G=2"}} {
		p := mustPlan(t, tc.prog, tc.args)
		var nodes []Node
		if err := p.Walk(func(n Node) error { nodes = append(nodes, n); return nil }); err != nil {
			t.Fatal(err)
		}
		want := make([][2][]Node, len(nodes))
		for i, n := range nodes {
			c, err1 := p.Children(n, nil)
			q, err2 := p.Parents(n, nil)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			want[i] = [2][]Node{c, q}
		}
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for w := range 8 {
			wg.Go(func() {
				var buf []Node
				for i := range nodes {
					n := nodes[(i*(w+1)*7919)%len(nodes)]
					j := slices.Index(nodes, n)
					var err error
					if buf, err = p.Children(n, buf[:0]); err != nil || !slices.Equal(buf, want[j][0]) {
						errs <- "children of " + p.Describe(n)
						return
					}
					if buf, err = p.Parents(n, buf[:0]); err != nil || !slices.Equal(buf, want[j][1]) {
						errs <- "parents of " + p.Describe(n)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Errorf("%s: concurrent query disagrees with the sequential one: %s", tc.prog, e)
		}
	}
}
