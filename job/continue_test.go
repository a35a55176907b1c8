package job

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/queue"
)

// fileEnv is testEnv with tiles in files: reads are private copies, as on
// S3, so workers continue tasks (and keep tiles) the way remote workers do.
func fileEnv(t *testing.T) Env {
	env, _, _ := testEnv(t)
	s, err := blockstore.Open(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env.Tiles = s
	return env
}

func continued(res *Result) int {
	n := 0
	for _, w := range res.Workers {
		n += w.Continued
	}
	return n
}

// Workers whose tiles travel through a store run a child that their
// task's completion makes ready right away, from the task's outputs in
// memory; the result is the memory services' bit for bit.
func TestContinuations(t *testing.T) {
	a := spd(rand.New(rand.NewPCG(12, 12)), 48)
	spec := choleskyJob(t, a, 8)
	want := cleanRun(t, spec)
	env := fileEnv(t)
	res := runJob(t, env, spec, fast())
	if got := assemble(t, env, res, "O", nil); !sameBits(got, want) {
		t.Fatal("result differs from the memory services' run")
	}
	if n := continued(res); n == 0 || int64(n) >= res.Status.Tasks {
		t.Fatalf("%d of %d tasks were continuations", n, res.Status.Tasks)
	}
	t.Logf("%d of %d tasks continued", continued(res), res.Status.Tasks)
}

// A worker whose one slot runs a long chain of continued tasks while its
// other slot finds nothing to lease is not idle; and a worker that stops
// in the middle of a chain (its idle slot found the queue unreachable)
// enqueues the chain's next task instead of dropping it. A GEMM of one tile
// of C is a chain of products, one task ready at a time.
func TestLongChainWithIdleSlot(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 16))
	spec := gemmJob(t, randomDense(rng, 8, 64), randomDense(rng, 64, 8), 8, 8)
	want := cleanRun(t, spec)
	for _, tc := range []struct {
		name        string
		slow        time.Duration
		failReceive bool
	}{{"idle slot", 25 * time.Millisecond, false}, {"stopped mid-chain", 250 * time.Millisecond, true}} {
		t.Run(tc.name, func(t *testing.T) {
			env := fileEnv(t)
			opts := fast()
			opts.MaxWorkers = 1
			opts.IdleTimeout = 40 * time.Millisecond
			var failed atomic.Int64
			opts.Worker = func(c *executor.Config) {
				c.Kernel = slowKernels(tc.slow)
				if tc.failReceive {
					c.Queue = &failingReceives{Queue: c.Queue, failed: &failed}
				}
			}
			res := runJob(t, env, spec, opts)
			if got := assemble(t, env, res, "C", nil); !sameBits(got, want) {
				t.Fatal("result differs from the memory services' run")
			}
			stopped := 0
			for _, w := range res.Workers {
				if strings.HasPrefix(w.Reason, "queue unreachable") {
					stopped++
				}
			}
			if continued(res) == 0 || tc.failReceive && (stopped != 1 || len(res.Workers) < 2) {
				t.Fatalf("%d tasks continued, %d workers, %d stopped for the queue", continued(res), len(res.Workers), stopped)
			}
			for _, w := range res.Workers {
				if w.Reason == "idle" && w.Tasks < int(res.Status.Tasks) {
					t.Errorf("worker %s stopped idle after %d of %d tasks", w.Worker, w.Tasks, res.Status.Tasks)
				}
			}
			t.Logf("%d of %d tasks continued, %d workers", continued(res), res.Status.Tasks, len(res.Workers))
		})
	}
}

// failingReceives fails the five receives that follow the first that
// leased a task: the idle slot of the worker running the chain finds the
// queue unreachable and stops the worker (the template of every worker's
// configuration holds this queue, so later workers find it working).
type failingReceives struct {
	executor.Queue
	failed *atomic.Int64
	leased atomic.Bool
}

func (q *failingReceives) Receive(ctx context.Context, max int, visibility, wait time.Duration) ([]queue.Lease, error) {
	if q.leased.Load() && q.failed.Add(1) <= 5 {
		return nil, errors.New("queue unreachable (test)")
	}
	leases, err := q.Queue.Receive(ctx, max, visibility, wait)
	if len(leases) > 0 {
		q.leased.Store(true)
	}
	return leases, err
}
