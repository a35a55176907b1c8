package job

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/blockstore"
	_ "github.com/npw-dev/npw/blockstore/s3store"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/internal/localcloud"
	_ "github.com/npw-dev/npw/queue/sqsqueue"
	"github.com/npw-dev/npw/state"
	_ "github.com/npw-dev/npw/state/redisstate"
)

// TestMain stops a local cloud that BenchmarkNoopTasksCloud started.
func TestMain(m *testing.M) { localcloud.Main(m) }

// BenchmarkNoopTasksCloud is BenchmarkNoopTasks on the real protocol
// servers of the local cloud (started if NPW_CLOUD_DIR names none):
// leases from fauxqs (SQS) and state in redis-server, with the 1×1 tiles
// in this process's memory (the scheduling path alone, as the target is
// stated) or in MinIO (S3). The Cholesky DAG on 24×24 tiles of 1×1
// (2,600 tasks) runs with the no-op kernel, so every task still takes
// every step. Workers are goroutines (their requests are measured, not
// process start-up). Reports tasks per second over the whole job and
// requests per task. Target: ≥ 1,000 tasks/s on Redis + fauxqs.
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
			a := blas64.General{Rows: n, Cols: n, Stride: n, Data: make([]float64, n*n)}
			spec := Spec{Plan: plan(b, "cholesky", fmt.Sprintf("N=%d", n)), Block: 1,
				Inputs: []Input{{Name: "S", Array: a}}, Outputs: []string{"O"}}
			var tasks int64
			var req executor.Requests
			var secs float64
			for b.Loop() {
				res, err := Run(ctx, Env{Tiles: tiles, QueueURL: queue, State: s}, spec, Options{
					MaxWorkers: tc.workers, Settings: executor.Settings{Pipeline: 4, Poll: 20 * time.Millisecond, IdleTimeout: 2 * time.Second},
					Worker: func(c *executor.Config) { c.Kernel = noop }})
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
