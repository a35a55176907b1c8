package sim

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/kernels"
	lp "github.com/npw-dev/npw/lambdapack"
	"github.com/npw-dev/npw/provisioner"
	"github.com/npw-dev/npw/state"
)

func flat(t *testing.T) *Calibration {
	t.Helper()
	c, err := LoadCalibration("testdata/flat.json")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func config(t *testing.T, alg string, n, block, workers int) Config {
	t.Helper()
	p, err := NewProblem(alg, n, block, workers)
	if err != nil {
		t.Fatal(err)
	}
	return Config{Plan: p.Plan, InputShape: p.InputShape, Block: block, Cal: flat(t),
		Policy: provisioner.Policy{MaxWorkers: workers, Pipeline: 1}, RuntimeLimit: -1, ColdStart: -1, Trace: true}
}

// One task on one worker, by hand: the provisioner launches the worker
// at 0 (no start-up delay); its receive takes the queue's round trip
// (10 ms), the done check the state store's (2 ms); it reads the 100×100
// tile (4 ms latency, 80 kB at 80 MB/s), computes n³/3 flops at 1
// GFLOP/s, writes (6 ms, 80 kB at 40 MB/s) and records its completion
// (2 ms).
func TestOneTaskByHand(t *testing.T) {
	cfg := config(t, "cholesky", 100, 100, 1)
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := kernels.Lookup("chol")
	flops := k.Flops([]blas64.General{{Rows: 100, Cols: 100, Stride: 100}})
	want := 0.010 + 0.002 + (0.004 + 80e3/80e6) + flops/1e9 + (0.006 + 80e3/40e6) + 0.002
	if got := res.Wall.Seconds(); math.Abs(got-want) > 1e-9 {
		t.Errorf("wall %.9f s, want %.9f", got, want)
	}
	if len(res.Workers) != 1 || res.Workers[0].Tasks != 1 || res.Status.Done != 1 {
		t.Errorf("workers %+v, status %+v", res.Workers, res.Status)
	}
}

// Every task runs once, after all its parents are done, on both
// protocols, with and without a store of their own, with services on
// machines of their own or sharing the workers' cores, and pipelining:
// the plan's Parents are the oracle of the order.
func TestDependenciesHold(t *testing.T) {
	for _, alg := range []string{"cholesky", "gemm", "qr"} {
		for _, proto := range []Protocol{NPW, Numpywren} {
			for _, where := range []string{"cloud", "memory", "shared cores"} {
				mem := where == "memory"
				cfg := config(t, alg, 550, 100, 4) // ragged: 6 tiles a side, the last 50 wide
				cfg.Protocol, cfg.MemoryServices, cfg.Policy.Pipeline = proto, mem, 2
				if where == "shared cores" {
					cal := *cfg.Cal
					f := func(v float64) *Figure { return &Figure{v, "test figure"} }
					cal.Host = &Host{Cores: f(2), TransferCores: f(0.9), QueueCores: f(1.2), StateCores: f(1.1)}
					cfg.Cal = &cal
				}
				res, err := Run(cfg)
				if err != nil {
					t.Fatalf("%s %v: %v", alg, proto, err)
				}
				checkOrder(t, cfg.Plan, res.Workers)
				if res.Status.Done != res.Status.Tasks {
					t.Errorf("%s %v: %d of %d done", alg, proto, res.Status.Done, res.Status.Tasks)
				}
			}
		}
	}
}

// A program runs as the shipped algorithms do: TSQR on a ragged tall
// input of one index, and numpywren's QR (sim/programs/numpywren_qr.lp)
// on ragged n×n tiles, both protocols.
func TestProgramDependenciesHold(t *testing.T) {
	for _, c := range []struct {
		ref    string
		args   map[string]lp.Value
		shapes map[string][2]int
		n      int
	}{
		{"tsqr", map[string]lp.Value{"N": lp.Int(6)}, map[string][2]int{"A": {550, 100}}, 0},
		{"programs/numpywren_qr.lp", map[string]lp.Value{"N": lp.Int(6)}, nil, 550},
	} {
		for _, proto := range []Protocol{NPW, Numpywren} {
			p, err := NewProgramProblem(c.ref, c.args, c.shapes, c.n, 100)
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{Plan: p.Plan, InputShape: p.InputShape, Block: 100, Cal: flat(t), Protocol: proto,
				Policy: provisioner.Policy{MaxWorkers: 4, Pipeline: 2}, RuntimeLimit: -1, ColdStart: -1, Trace: true}
			res, err := Run(cfg)
			if err != nil {
				t.Fatalf("%s %v: %v", c.ref, proto, err)
			}
			checkOrder(t, cfg.Plan, res.Workers)
		}
	}
	// An input without a shape is refused before the run.
	if _, err := NewProgramProblem("tsqr", map[string]lp.Value{"N": lp.Int(6)}, nil, 0, 100); err == nil || !strings.Contains(err.Error(), "give its shape with --in A=ROWSxCOLS") {
		t.Errorf("no shape: %v", err)
	}
}

// checkOrder checks that every task completed once and that none read
// its inputs before its parents' kernels ran (a continued task reads
// its parent's outputs from memory before the parent's completion is
// recorded).
func checkOrder(t *testing.T, plan *analysis.Plan, workers []provisioner.WorkerReport) {
	t.Helper()
	spans := map[string]executor.Span{}
	for _, w := range workers {
		for _, sp := range w.Spans {
			if _, twice := spans[sp.Task]; twice {
				t.Fatalf("task %s completed twice", sp.Task)
			}
			spans[sp.Task] = sp
		}
	}
	n, err := plan.Count()
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(spans)) != n {
		t.Fatalf("%d tasks completed, want %d", len(spans), n)
	}
	for key, sp := range spans {
		node, err := plan.ParseKey(key)
		if err != nil {
			t.Fatal(err)
		}
		parents, err := plan.Parents(node, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parents {
			if ps := spans[p.Key()]; sp.Read.Before(ps.Computed) {
				t.Fatalf("task %s read its inputs at %v, before its parent %s computed them at %v", key, sp.Read, p.Key(), ps.Computed)
			}
		}
	}
}

// Killing half the workers partway: the job still ends, the killed
// workers' leases lapse and their tasks are replayed elsewhere.
func TestKilledWorkers(t *testing.T) {
	cfg := config(t, "cholesky", 1000, 100, 8)
	whole, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.KillFraction, cfg.KillAt = 0.5, whole.Wall/3
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Kills) != 1 || res.Kills[0].Killed == 0 {
		t.Fatalf("kills %+v", res.Kills)
	}
	checkOrder(t, cfg.Plan, res.Workers)
	killed := 0
	for _, w := range res.Workers {
		if strings.HasPrefix(w.Reason, "killed") {
			killed++
		}
	}
	if killed != res.Kills[0].Killed {
		t.Errorf("%d workers say they were killed, the kill says %d", killed, res.Kills[0].Killed)
	}
	if res.Wall <= cfg.KillAt+10*time.Second {
		t.Errorf("with half the workers killed the job took %v, without %v: their leases (10 s) must lapse first", res.Wall, whole.Wall)
	}
	t.Logf("whole %v, killed %v", whole.Wall, res.Wall)
}

// A simulation depends on its seed alone. A worker that dies holding
// several leases (numpywren's protocol leases on every slot; Lambda's
// runtime limit kills them) gives its messages back at one instant, and
// the order they go back in decides which waiting worker gets which: it
// must be the order they were sent, not Go's random map order (which
// moved a 256K Cholesky at sf 4 between 1,257 and 1,261 s from one run to
// the next).
func TestKilledWorkerGivesLeasesBackInOrder(t *testing.T) {
	s, err := newSim(config(t, "cholesky", 200, 100, 1))
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{id: 1, alive: true, held: map[*message]bool{}}
	var ms []*message
	for _, seq := range []uint64{40, 7, 31, 12, 55, 3, 18, 26, 9, 44} { // leased together, sent in another order
		m := &message{seq: seq, holder: w}
		w.held[m] = true
		ms = append(ms, m)
	}
	s.die(w, "killed")
	var back []uint64
	for s.events.Len() > 0 {
		s.step()
		for _, m := range ms {
			if m.holder == nil && !slices.Contains(back, m.seq) {
				back = append(back, m.seq)
			}
		}
	}
	if len(back) != len(ms) || !slices.IsSorted(back) {
		t.Errorf("messages went back in the order %v, want the order they were sent in", back)
	}
}

// And a whole run with such deaths (a 96K Cholesky on 1,800 Lambdas at sf
// 4, whose workers reach the 300 s limit) comes out the same twice. The
// kernels are probed on small tiles: what is compared is the schedule.
func TestDeterministic(t *testing.T) {
	defer func(s int) { probeSide = s }(probeSide)
	probeSide = 64
	cal, err := LoadCalibration("paper-2018")
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProblem("cholesky", 98304, 4096, 1800)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Plan: p.Plan, InputShape: p.InputShape, Scaled: p.Scaled, Block: 4096, Cal: cal, Protocol: Numpywren,
		Policy: provisioner.Policy{MaxWorkers: 1800, ScaleFactor: 4, Pipeline: 2}, RuntimeLimit: -1, ColdStart: -1}
	var walls []time.Duration
	for range 3 {
		res, err := Run(cfg)
		if err != nil {
			t.Fatal(err)
		}
		walls = append(walls, res.Wall)
	}
	if walls[0] != walls[1] || walls[0] != walls[2] {
		t.Errorf("three runs of one simulation took %v", walls)
	}
}

// A task whose tiles exceed a worker's memory is refused in one line.
func TestTooBigForMemory(t *testing.T) {
	cfg := config(t, "cholesky", 400, 200, 1)
	cfg.Cal.Workers.MemoryMB.Value = 0.5
	_, err := Run(cfg)
	if err == nil || !strings.Contains(err.Error(), "more than a worker's") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err %v", err)
	}
}

// The shared cores by hand: on 2 cores, a 1 s kernel and a transfer of
// 0.5 s that keeps 2 cores busy demand 3: both advance at 2/3, the
// transfer ends at 0.75 s, and the kernel's last 0.5 s runs alone, to
// 1.25 s. Two kernels alone run at full speed.
func TestSharedCoresByHand(t *testing.T) {
	s := &sim{}
	c := &cpu{s: s, cores: 2}
	// run starts pieces of (work, demand) and checks when each ends.
	run := func(pieces [][2]float64, want ...float64) {
		t.Helper()
		var ends []float64
		for _, p := range pieces {
			c.run(p[0], p[1], func() { ends = append(ends, s.now) })
		}
		for len(s.events) > 0 {
			s.step()
		}
		if len(ends) != len(want) {
			t.Fatalf("ends %v, want %v", ends, want)
		}
		for i := range want {
			if math.Abs(ends[i]-want[i]) > 1e-12 {
				t.Errorf("ends %v, want %v", ends, want)
			}
		}
	}
	run([][2]float64{{1, 1}, {0.5, 2}}, 0.75, 1.25)
	run([][2]float64{{1, 1}, {1, 1}}, 2.25, 2.25)
}

func TestLocalStore(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	for url, want := range map[string]bool{
		"mem://":            true,
		"file:///tmp/tiles": true,
		"s3://b/?endpoint=http://127.0.0.1:9000&region=x": true,
		"s3://b/?endpoint=http://localhost:9000":          true,
		"s3://b/?endpoint=http://[::1]:9000":              true,
		"s3://b/?endpoint=http://10.0.0.5:9000":           false,
		"s3://bucket/prefix":                              false,
	} {
		if got := local(url); got != want {
			t.Errorf("local(%q) = %v", url, got)
		}
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000")
	if !local("s3://bucket/prefix") {
		t.Error("an S3 store whose endpoint is loopback is not local")
	}
}

// Probing at reduced scale predicts what probing at the job's size
// does: the same flops within 0.5 % (fitted degrees, lower-order terms),
// the same bytes moved (extrapolated shapes) and the same wall time
// within 1 %, on every algorithm, square and ragged, blocked and tree QR.
func TestScaledProbing(t *testing.T) {
	defer func(s int) { probeSide = s }(probeSide)
	probeSide = 32
	for _, alg := range Algorithms() {
		for _, c := range []struct{ n, block, workers, scale int }{
			{384, 128, 2, 4},  // 3×3 tiles, probed at 32 and 16
			{1024, 256, 4, 8}, // 4×4 tiles, probed at 32 and 16
			{444, 128, 1, 2},  // ragged (the last 60 wide): 444 = 4·111, so at 64 and 32
		} {
			exact := config(t, alg, c.n, c.block, c.workers)
			p, err := NewProblem(alg, c.n, c.block, c.workers)
			if err != nil {
				t.Fatal(err)
			}
			scaled := exact
			scaled.Scaled = p.Scaled
			want, err := Run(exact)
			if err != nil {
				t.Fatalf("%s %d/%d: %v", alg, c.n, c.block, err)
			}
			s, err := newSim(scaled)
			if err != nil {
				t.Fatal(err)
			}
			if s.probes.scale != c.scale {
				t.Errorf("%s %d/%d: probed at 1/%d, want 1/%d", alg, c.n, c.block, s.probes.scale, c.scale)
			}
			got, err := Run(scaled)
			if err != nil {
				t.Fatalf("%s %d/%d scaled: %v", alg, c.n, c.block, err)
			}
			var mw, mg state.Metrics
			for _, w := range want.Workers {
				mw.Add(w.Metrics)
			}
			for _, w := range got.Workers {
				mg.Add(w.Metrics)
			}
			if math.Abs(mg.Flops/mw.Flops-1) > 0.005 || mg.BytesRead != mw.BytesRead || mg.BytesWritten != mw.BytesWritten {
				t.Errorf("%s %d/%d: scaled probes give %.4g flops, %d B read, %d written; full-size ones %.4g, %d, %d",
					alg, c.n, c.block, mg.Flops, mg.BytesRead, mg.BytesWritten, mw.Flops, mw.BytesRead, mw.BytesWritten)
			}
			if r := got.Wall.Seconds() / want.Wall.Seconds(); math.Abs(r-1) > 0.01 {
				t.Errorf("%s %d/%d: wall %v scaled, %v at full size", alg, c.n, c.block, got.Wall, want.Wall)
			}
		}
	}
}

func TestExtrapolate(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func(s float64) float64
	}{
		{"gemm", func(s float64) float64 { return 2 * s * s * s }},
		{"potrf", func(s float64) float64 { return s*s*s/3 + s*s/2 + s/6 }},
		{"trsv", func(s float64) float64 { return s * s }},
		{"scal", func(s float64) float64 { return 3 * s }},
		{"nothing", func(float64) float64 { return 0 }},
	} {
		for _, f := range []int{2, 4, 8} {
			s1 := 1024.0
			got, want := extrapolate(c.f(s1), c.f(s1/2), f), c.f(s1*float64(f))
			if math.Abs(got-want) > 1e-4*want {
				t.Errorf("%s, 1/%d: %.6g, want %.6g", c.name, f, got, want)
			}
		}
	}
	if got := fullSide(1024, 512, 4); got != 4096 {
		t.Errorf("a side that follows the block: %d, want 4096", got)
	}
	if got := fullSide(32, 32, 4); got != 32 {
		t.Errorf("a fixed side: %d, want 32", got)
	}
	if got := fullSide(1025, 513, 4); got != 4097 {
		t.Errorf("a side one past the block: %d, want 4097", got)
	}
}
