package job

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/kernels"
	lp "github.com/npw-dev/npw/lambdapack"
	"github.com/npw-dev/npw/queue"
)

// doublingQueue delivers every message twice: each send enqueues two
// copies, which workers may receive at the same time.
type doublingQueue struct {
	executor.Queue
	sent atomic.Int64
}

func (q *doublingQueue) Send(ctx context.Context, msgs ...queue.Message) error {
	q.sent.Add(int64(len(msgs)))
	return q.Queue.Send(ctx, append(slices.Clone(msgs), msgs...)...)
}

// choleskyJob returns a spec for an n×n Cholesky in blocks of b.
func choleskyJob(t *testing.T, a blas64.General, b int) Spec {
	return Spec{Plan: plan(t, "cholesky", fmt.Sprintf("N=%d", tiles(a.Rows, b))), Block: b,
		Inputs: []Input{{Name: "S", Array: a}}, Outputs: []string{"O"}}
}

// gemmJob returns a spec for C = A B in blocks of b, with chains of g
// products.
func gemmJob(t *testing.T, a, b blas64.General, block, g int) Spec {
	args := fmt.Sprintf("M=%d N=%d K=%d G=%d", tiles(a.Rows, block), tiles(b.Cols, block), tiles(a.Cols, block), g)
	return Spec{Plan: plan(t, "gemm", args), Block: block,
		Inputs: []Input{{Name: "A", Array: a}, {Name: "B", Array: b}}, Outputs: []string{"C"}}
}

// cleanRun returns the job's output, O or C, from a run on memory
// services without faults.
func cleanRun(t *testing.T, spec Spec) blas64.General {
	env, _, _ := testEnv(t)
	res := runJob(t, env, spec, fast())
	return assemble(t, env, res, spec.Outputs[0], nil)
}

func sameBits(a, b blas64.General) bool {
	return a.Rows == b.Rows && a.Cols == b.Cols && slices.Equal(a.Data, b.Data)
}

func TestDuplicateDelivery(t *testing.T) {
	a := spd(rand.New(rand.NewPCG(6, 6)), 40)
	spec := choleskyJob(t, a, 8)
	want := cleanRun(t, spec)
	env, _, _ := testEnv(t)
	var dq *doublingQueue
	var mu sync.Mutex
	opts := fast()
	opts.Worker = func(c *executor.Config) {
		mu.Lock()
		defer mu.Unlock()
		dq = &doublingQueue{Queue: c.Queue}
		c.Queue = dq
	}
	res := runJob(t, env, spec, opts)
	if got := assemble(t, env, res, "O", nil); !sameBits(got, want) {
		t.Fatal("result differs from the clean run")
	}
	replays := 0
	for _, w := range res.Workers {
		replays += w.Replays
	}
	if dq.sent.Load() == 0 || replays == 0 {
		t.Fatalf("no duplicate reached a worker: %d sends, %d replays", dq.sent.Load(), replays)
	}
	t.Logf("%d messages sent twice; %d duplicate deliveries replayed", dq.sent.Load(), replays)
}

// stores are the tile stores the fault tests run on: the memory store,
// which lends workers scratch tiles to update in place, and files, whose
// reads are private copies (as on S3), where workers continue tasks.
var stores = []struct {
	name string
	env  func(t *testing.T) Env
}{{"memory", func(t *testing.T) Env { env, _, _ := testEnv(t); return env }}, {"files", fileEnv}}

// TestWorkersKilledMidTask kills workers at random points of random
// tasks: after leasing, reading, computing, writing, recording the
// completion (before enqueueing the children) and enqueueing (before the
// ack), also in chains of continued tasks. Their leases lapse, other
// workers take the tasks over, and the result is bit-identical to a clean
// run.
func TestWorkersKilledMidTask(t *testing.T) {
	for _, store := range stores {
		for _, seed := range []uint64{1, 2, 3} {
			t.Run(fmt.Sprintf("%s,seed=%d", store.name, seed), func(t *testing.T) {
				a := spd(rand.New(rand.NewPCG(seed, 7)), 48)
				spec := choleskyJob(t, a, 8)
				want := cleanRun(t, spec)
				env := store.env(t)
				rng := rand.New(rand.NewPCG(seed, 8))
				crashes := map[executor.Phase]int{}
				opts := fast()
				opts.MaxWorkers = 3
				opts.Lease = 150 * time.Millisecond
				opts.Worker = func(c *executor.Config) {
					c.Hook = crashHook(func(p executor.Phase, _ string) bool {
						if rng.Float64() >= 0.06 {
							return false
						}
						crashes[p]++
						return true
					})
				}
				res := runJob(t, env, spec, opts)
				if got := assemble(t, env, res, "O", nil); !sameBits(got, want) {
					t.Fatal("result differs from the clean run")
				}
				crashed := 0
				for _, w := range res.Workers {
					if w.Reason == "crashed" {
						crashed++
					}
				}
				total := 0
				for _, n := range crashes {
					total += n
				}
				// Both pipeline slots of one worker may hit a crash point
				// before it dies, so a worker may count twice.
				if total == 0 || crashed == 0 || crashed > total {
					t.Fatalf("%d crashes injected, %d workers report a crash", total, crashed)
				}
				if store.name == "files" && continued(res) == 0 {
					t.Fatal("no task was continued")
				}
				t.Logf("%d workers killed %v; %d workers in all, %d tasks continued", total, crashes, len(res.Workers), continued(res))
			})
		}
	}
}

// TestCrashBetweenCompletionAndEnqueue kills every worker that has just
// recorded a completion, the first time, before it enqueues the children:
// only the replay of the completion by the task's next delivery can
// enqueue them. For a continued task, which has no message, that is the
// replay of its chain's first task, which follows the recorded
// continuations (without it, the job stalls).
func TestCrashBetweenCompletionAndEnqueue(t *testing.T) {
	a := spd(rand.New(rand.NewPCG(9, 9)), 40)
	spec := choleskyJob(t, a, 8)
	want := cleanRun(t, spec)
	for _, store := range stores {
		t.Run(store.name, func(t *testing.T) {
			env := store.env(t)
			killed := map[string]bool{}
			opts := fast()
			opts.Lease = 100 * time.Millisecond
			opts.Worker = func(c *executor.Config) {
				c.Hook = crashHook(func(p executor.Phase, task string) bool {
					if p != executor.Completed || killed[task] {
						return false
					}
					killed[task] = true
					return true
				})
			}
			res := runJob(t, env, spec, opts)
			if got := assemble(t, env, res, "O", nil); !sameBits(got, want) {
				t.Fatal("result differs from the clean run")
			}
			if int64(len(killed)) != res.Status.Tasks {
				t.Fatalf("%d of %d tasks had their worker killed after completing", len(killed), res.Status.Tasks)
			}
			if store.name == "files" && continued(res) == 0 {
				t.Fatal("no task was continued")
			}
		})
	}
}

// TestLambdaEmulation runs a job on workers with a cold start and a short
// runtime limit: they retire before their limit, the provisioner replaces
// them, and the result is the clean run's.
func TestLambdaEmulation(t *testing.T) {
	a := spd(rand.New(rand.NewPCG(10, 10)), 64) // 120 tasks of 15ms: more than a worker lifetime
	spec := choleskyJob(t, a, 8)
	want := cleanRun(t, spec)
	env, _, _ := testEnv(t)
	opts := fast()
	opts.MaxWorkers = 3
	opts.ColdStart = 30 * time.Millisecond
	opts.RuntimeLimit = 250 * time.Millisecond
	opts.Worker = func(c *executor.Config) { c.Kernel = slowKernels(15 * time.Millisecond) }
	res := runJob(t, env, spec, opts)
	if got := assemble(t, env, res, "O", nil); !sameBits(got, want) {
		t.Fatal("result differs from the clean run")
	}
	retired, abandoned := 0, 0
	for _, w := range res.Workers {
		abandoned += w.Abandoned
		if w.Reason == "runtime limit" {
			retired++
		}
		if life := w.Stopped.Sub(w.Launched); life > opts.ColdStart+opts.RuntimeLimit+50*time.Millisecond {
			t.Errorf("worker %s lived %v, past its cold start and limit", w.Worker, life)
		}
	}
	if len(res.Workers) <= opts.MaxWorkers || retired == 0 {
		t.Fatalf("%d workers launched, %d retired at their limit; want replacements", len(res.Workers), retired)
	}
	if res.PeakWorkers() > opts.MaxWorkers {
		t.Errorf("peak %d workers, cap %d", res.PeakWorkers(), opts.MaxWorkers)
	}
	t.Logf("%d workers launched, %d retired at the runtime limit (%d tasks abandoned), %.2f worker-seconds", len(res.Workers), retired, abandoned, res.WorkerSeconds())
}

// TestBorrowedTilesSurviveCrashes runs GEMM chains on the memory store,
// where each link borrows its chain's running sum to update in place, and
// kills every task's worker once, in turn after reading, computing,
// writing and recording the completion. A link killed before computing
// gives its tile back; one killed after computing has written its output
// and spent the loan, and its next delivery only records the completion.
// The result is bit-identical to a clean run.
func TestBorrowedTilesSurviveCrashes(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	spec := gemmJob(t, randomDense(rng, 16, 32), randomDense(rng, 32, 16), 8, 4)
	want := cleanRun(t, spec)
	env, _, _ := testEnv(t)
	phases := []executor.Phase{executor.Read, executor.Computed, executor.Written, executor.Completed}
	killAt := map[string]executor.Phase{}
	crashes := map[executor.Phase]int{}
	var updates atomic.Int64
	opts := fast()
	opts.Lease = 100 * time.Millisecond
	opts.Worker = func(c *executor.Config) {
		c.Kernel = func(name string) (*kernels.Kernel, bool) {
			k, ok := kernels.Lookup(name)
			if !ok || k.Update == nil {
				return k, ok
			}
			counted := *k
			counted.Update = func(in []blas64.General, s []lp.Value) ([]blas64.General, error) {
				updates.Add(1)
				return k.Update(in, s)
			}
			return &counted, true
		}
		c.Hook = crashHook(func(p executor.Phase, task string) bool {
			at, seen := killAt[task]
			if !seen {
				at = phases[len(killAt)%len(phases)]
				killAt[task] = at
			}
			if p != at || at == "" {
				return false
			}
			killAt[task] = "" // once per task
			crashes[p]++
			return true
		})
	}
	res := runJob(t, env, spec, opts)
	if got := assemble(t, env, res, "C", nil); !sameBits(got, want) {
		t.Fatal("result differs from the clean run")
	}
	replays := 0
	for _, w := range res.Workers {
		replays += w.Replays
	}
	// 4 chains of 4 links: the 12 gemm_add links borrow their running sums.
	if updates.Load() < 12 || replays == 0 || len(crashes) != len(phases) {
		t.Fatalf("%d updates in place, %d replays, crashes %v", updates.Load(), replays, crashes)
	}
	t.Logf("crashes %v, %d updates in place, %d replays", crashes, updates.Load(), replays)
}

// slowKernels looks up kernels that sleep for d before they compute, in
// Run and in Update (workers killed while updating borrowed tiles).
func slowKernels(d time.Duration) func(string) (*kernels.Kernel, bool) {
	return func(name string) (*kernels.Kernel, bool) {
		k, ok := kernels.Lookup(name)
		if !ok {
			return nil, false
		}
		slow := *k
		slow.Run = func(in []blas64.General, s []lp.Value) ([]blas64.General, error) {
			time.Sleep(d)
			return k.Run(in, s)
		}
		if k.Update != nil {
			slow.Update = func(in []blas64.General, s []lp.Value) ([]blas64.General, error) {
				time.Sleep(d)
				return k.Update(in, s)
			}
		}
		return &slow, true
	}
}

// crashHook returns a worker hook that kills the worker whenever crash,
// called under one lock for all workers, says so.
func crashHook(crash func(p executor.Phase, task string) bool) func(executor.Phase, string) error {
	var mu sync.Mutex
	return func(p executor.Phase, task string) error {
		mu.Lock()
		defer mu.Unlock()
		if crash(p, task) {
			return executor.ErrCrash
		}
		return nil
	}
}

// TestInjectedFault kills half the workers of a Cholesky partway, with
// Options.Fault: the kill is noted, the killed workers say so, the
// provisioner replaces them and the result is the clean run's.
func TestInjectedFault(t *testing.T) {
	a := spd(rand.New(rand.NewPCG(11, 11)), 64) // 120 tasks of 15ms
	spec := choleskyJob(t, a, 8)
	want := cleanRun(t, spec)
	env, _, _ := testEnv(t)
	opts := fast()
	opts.MaxWorkers = 4
	opts.Lease = 150 * time.Millisecond
	opts.Worker = func(c *executor.Config) { c.Kernel = slowKernels(15 * time.Millisecond) }
	opts.Fault = Fault{Fraction: 0.5, At: 150 * time.Millisecond, Seed: 1}
	res := runJob(t, env, spec, opts)
	if got := assemble(t, env, res, "O", nil); !sameBits(got, want) {
		t.Fatal("result differs from the clean run")
	}
	killed := 0
	for _, w := range res.Workers {
		if w.Reason == "killed" {
			killed++
			if w.Err != nil {
				t.Errorf("killed worker %s reports %v", w.Worker, w.Err)
			}
		}
	}
	if len(res.Kills) != 1 || res.Kills[0].Killed == 0 || res.Kills[0].Killed != killed || res.Kills[0].At < opts.Fault.At {
		t.Fatalf("kills %+v; %d workers report being killed", res.Kills, killed)
	}
	if len(res.Workers) <= opts.MaxWorkers {
		t.Errorf("%d workers launched in all: the killed were not replaced", len(res.Workers))
	}
	for _, f := range []Fault{{Fraction: 1.5}, {Fraction: -1}, {Fraction: 0.5, At: -time.Second}} {
		if err := f.Check(); err == nil {
			t.Errorf("%+v passed its check", f)
		}
	}
}
