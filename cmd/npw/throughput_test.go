package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/internal/localcloud"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/kernels"
	lp "github.com/npw-dev/npw/lambdapack"
	"github.com/npw-dev/npw/state"
)

// noopKernel computes nothing: one 1×1 zero tile per output, so a task
// still goes through every step of the protocol.
func noopKernel(name string) (*kernels.Kernel, bool) {
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

// BenchmarkNoopTasksCloud is job's BenchmarkNoopTasks on the real
// protocol servers of the local cloud: leases from fauxqs (SQS) and state
// in redis-server, with the 1×1 tiles in this process's memory (the
// scheduling path alone, as the target is stated) or in MinIO (S3). The
// Cholesky DAG on 24×24 tiles of 1×1 (2,600 tasks) runs with a kernel
// that computes nothing, so every task still takes every step: receive,
// done check, tile reads, tile writes, the completion script, sending its
// children, scratch deletion and the ack. Workers are goroutines (their
// requests are measured, not process start-up). Reports tasks per second
// over the whole job and requests per task. Target: ≥ 1,000 tasks/s on
// Redis + fauxqs.
func BenchmarkNoopTasksCloud(b *testing.B) {
	const n = 24
	for _, tc := range []struct {
		tiles   string
		workers int
	}{{"mem", 4}, {"mem", 8}, {"mem", 16}, {"minio", 8}} {
		b.Run(fmt.Sprintf("tiles=%s/workers=%d", tc.tiles, tc.workers), func(b *testing.B) {
			store, queue, st := localcloud.Get(b).Scoped(b)
			if tc.tiles == "mem" {
				store = fmt.Sprintf("mem://noop%d", tc.workers)
			}
			ctx := context.Background()
			tiles, err := blockstore.Open(ctx, store)
			if err != nil {
				b.Fatal(err)
			}
			defer tiles.Close()
			s, err := state.Open(ctx, st)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			plan, err := loadShipped("cholesky", map[string]int64{"N": n})
			if err != nil {
				b.Fatal(err)
			}
			a := blas64.General{Rows: n, Cols: n, Stride: n, Data: make([]float64, n*n)}
			spec := job.Spec{Plan: plan, Block: 1, Inputs: []job.Input{{Name: "S", Array: a}}, Outputs: []string{"O"}}
			var tasks int64
			var req executor.Requests
			var secs float64
			for b.Loop() {
				res, err := job.Run(ctx, job.Env{Tiles: tiles, QueueURL: queue, State: s}, spec, job.Options{
					MaxWorkers: tc.workers, Pipeline: 4, Poll: 20 * time.Millisecond, IdleTimeout: 2 * time.Second,
					Worker: func(c *executor.Config) { c.Kernel = noopKernel }})
				if err != nil {
					b.Fatal(err)
				}
				tasks += res.Status.Tasks
				secs += res.Wall.Seconds()
				req.Add(res.Traffic.Requests)
			}
			b.ReportMetric(float64(tasks)/secs, "tasks/s")
			b.ReportMetric(float64(req.Queue)/float64(tasks), "queue-req/task")
			b.ReportMetric(float64(req.State)/float64(tasks), "state-req/task")
			b.ReportMetric(float64(req.Tiles)/float64(tasks), "tile-req/task")
		})
	}
}
