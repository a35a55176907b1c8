package job

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/kernels"
	lp "github.com/npw-dev/npw/lambdapack"
)

// noop is a kernel that computes nothing: it returns one 1×1 zero tile
// per output, so a task still reads, writes and goes through every step
// of the protocol.
func noop(name string) (*kernels.Kernel, bool) {
	sig, ok := lp.LookupKernel(name)
	if !ok {
		return nil, false
	}
	return &kernels.Kernel{Name: name, Flops: func([]blas64.General) float64 { return 0 },
		Run: func([]blas64.General, []lp.Value) ([]blas64.General, error) {
			out := make([]blas64.General, len(sig.Outputs))
			for i := range out {
				out[i] = kernels.NewTile(1, 1)
			}
			return out, nil
		}}, true
}

// BenchmarkNoopTasks measures scheduling throughput: tasks per second
// through the full protocol (lease, done check, tile reads, a no-op
// kernel, tile writes, the completion transition, enqueueing children,
// scratch deletion, ack) on the memory drivers, for a Cholesky DAG of
// 1×1 tiles: 11,480 tasks with the real dependency structure.
func BenchmarkNoopTasks(b *testing.B) {
	const n = 40
	for _, workers := range []int{2, 4, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			a := blas64.General{Rows: n, Cols: n, Stride: n, Data: make([]float64, n*n)}
			var tasks int64
			var secs float64
			for b.Loop() {
				env, _, _ := memEnv("mem://bench")
				spec := Spec{Plan: plan(b, "cholesky", fmt.Sprintf("N=%d", n)), Block: 1,
					Inputs: []Input{{Name: "S", Array: a}}, Outputs: []string{"O"}}
				opts := Options{MaxWorkers: workers, Interval: time.Millisecond,
					Settings: executor.Settings{Pipeline: 4, Poll: 5 * time.Millisecond, IdleTimeout: time.Second},
					Worker:   func(c *executor.Config) { c.Kernel = noop }}
				res, err := Run(context.Background(), env, spec, opts)
				if err != nil {
					b.Fatal(err)
				}
				tasks += res.Status.Tasks
				secs += res.Wall.Seconds()
			}
			b.ReportMetric(float64(tasks)/secs, "tasks/s")
		})
	}
}
