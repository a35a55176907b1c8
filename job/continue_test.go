package job

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
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

// Workers die at random points of chains of continued tasks: the chain's
// leased first task comes back, and its replay follows the continued
// tasks that are done to enqueue what they made ready.
func TestContinuationsSurviveCrashes(t *testing.T) {
	a := spd(rand.New(rand.NewPCG(13, 13)), 48)
	spec := choleskyJob(t, a, 8)
	want := cleanRun(t, spec)
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			env := fileEnv(t)
			rng := rand.New(rand.NewPCG(seed, 14))
			var mu sync.Mutex
			crashes := map[executor.Phase]int{}
			opts := fast()
			opts.MaxWorkers = 3
			opts.Lease = 150 * time.Millisecond
			opts.Worker = func(c *executor.Config) {
				c.Hook = func(p executor.Phase, task string) error {
					mu.Lock()
					defer mu.Unlock()
					if rng.Float64() < 0.05 {
						crashes[p]++
						return executor.ErrCrash
					}
					return nil
				}
			}
			res := runJob(t, env, spec, opts)
			if got := assemble(t, env, res, "O", nil); !sameBits(got, want) {
				t.Fatal("result differs from the clean run")
			}
			if len(crashes) == 0 || continued(res) == 0 {
				t.Fatalf("crashes %v, %d continued tasks", crashes, continued(res))
			}
			t.Logf("crashes %v; %d continued tasks", crashes, continued(res))
		})
	}
}

// Every worker dies the first time each task is recorded, before the
// children it made ready are enqueued. For a continued task, only the
// replay of its chain's first task, following the recorded continuations,
// can enqueue them.
func TestCrashAfterContinuedCompletion(t *testing.T) {
	a := spd(rand.New(rand.NewPCG(15, 15)), 40)
	spec := choleskyJob(t, a, 8)
	want := cleanRun(t, spec)
	env := fileEnv(t)
	var mu sync.Mutex
	killed := map[string]bool{}
	opts := fast()
	opts.Lease = 100 * time.Millisecond
	opts.Worker = func(c *executor.Config) {
		c.Hook = func(p executor.Phase, task string) error {
			mu.Lock()
			defer mu.Unlock()
			if p == executor.Completed && !killed[task] {
				killed[task] = true
				return executor.ErrCrash
			}
			return nil
		}
	}
	res := runJob(t, env, spec, opts)
	if got := assemble(t, env, res, "O", nil); !sameBits(got, want) {
		t.Fatal("result differs from the clean run")
	}
	if int64(len(killed)) != res.Status.Tasks {
		t.Fatalf("%d of %d tasks had their worker killed after completing", len(killed), res.Status.Tasks)
	}
	if continued(res) == 0 {
		t.Fatalf("no task was continued (%d workers)", len(res.Workers))
	}
}
