package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/kernels"
	lp "github.com/npw-dev/npw/lambdapack"
)

// A probe is what one kind of call costs: its inputs' and outputs'
// shapes, its flops, its rate and the bytes a worker holds for it.
type probe struct {
	in, out [][2]int32
	flops   float64
	gflops  float64
	bytes   float64
}

func bytesOf(sh [2]int32) float64 { return 8 * float64(sh[0]) * float64(sh[1]) }

// A prober learns each kind of call (a kernel on inputs of given shapes)
// once, by running the real kernel on stand-in inputs of those shapes:
// the outputs' shapes follow, and kernels.Kernel.Flops counts its flops.
type prober struct {
	plan  *analysis.Plan
	cal   *Calibration
	block int
	shape func(analysis.Tile) ([2]int32, error)
	cache map[string]*probe
}

func newProber(plan *analysis.Plan, cal *Calibration, block int, shape func(analysis.Tile) ([2]int32, error)) *prober {
	return &prober{plan: plan, cal: cal, block: block, shape: shape, cache: map[string]*probe{}}
}

func (p *prober) get(n analysis.Node, reads []analysis.Tile) (*probe, error) {
	name := p.plan.Kernel(n)
	k, ok := kernels.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("task %s: no kernel %s", p.plan.Describe(n), name)
	}
	var key strings.Builder
	key.WriteString(name)
	in := make([][2]int32, len(reads))
	for i, t := range reads {
		sh, err := p.shape(t)
		if err != nil {
			return nil, err
		}
		in[i] = sh
		fmt.Fprintf(&key, " %dx%d", sh[0], sh[1])
	}
	var scalars []lp.Value
	if k.ByValue || len(reads) == 0 {
		var err error
		if scalars, err = p.plan.ScalarArgs(n); err != nil {
			return nil, err
		}
		fmt.Fprintf(&key, " %v", scalars)
	}
	if pr, ok := p.cache[key.String()]; ok {
		return pr, nil
	}
	inBytes := 0.0
	for _, sh := range in {
		inBytes += bytesOf(sh)
	}
	if mem := p.cal.Workers.MemoryMB.Value * 1e6; inBytes > mem {
		return nil, p.tooBig(n, inBytes)
	}
	if scalars == nil {
		var err error
		if scalars, err = p.plan.ScalarArgs(n); err != nil {
			return nil, err
		}
	}
	stand := make([]blas64.General, len(in))
	rng := rand.New(rand.NewPCG(uint64(len(p.cache)), 7))
	largest := 0.0
	for i, sh := range in {
		stand[i] = standIn(rng, int(sh[0]), int(sh[1]))
		largest = max(largest, bytesOf(sh))
	}
	out, err := run(k, stand, scalars)
	if err != nil {
		return nil, fmt.Errorf("task %s: the simulator cannot learn kernel %s's outputs on %s: %w", p.plan.Describe(n), name, strings.TrimPrefix(key.String(), name+" "), err)
	}
	pr := &probe{in: in, flops: k.Flops(stand)}
	for _, g := range out {
		pr.out = append(pr.out, [2]int32{int32(g.Rows), int32(g.Cols)})
	}
	if pr.gflops, err = p.cal.GFLOPS(name, p.block); err != nil {
		return nil, err
	}
	for _, sh := range pr.in {
		pr.bytes += bytesOf(sh)
	}
	for _, sh := range pr.out {
		pr.bytes += bytesOf(sh)
	}
	pr.bytes += float64(k.Workspace) * largest
	if pr.bytes > p.cal.Workers.MemoryMB.Value*1e6 {
		return nil, p.tooBig(n, pr.bytes)
	}
	p.cache[key.String()] = pr
	return pr, nil
}

// tooBig is the error of a task whose tiles do not fit a worker.
func (p *prober) tooBig(n analysis.Node, bytes float64) error {
	return fmt.Errorf("task %s holds %.0f MB of tiles, more than a worker's %.0f MB (calibration %s): use a smaller block",
		p.plan.Describe(n), bytes/1e6, p.cal.Workers.MemoryMB.Value, p.cal.Name)
}

// standIn is a rows×cols tile that every factorisation and solve takes:
// small uniform entries and ones on the diagonal.
func standIn(rng *rand.Rand, rows, cols int) blas64.General {
	g := blas64.General{Rows: rows, Cols: cols, Stride: max(cols, 1), Data: make([]float64, rows*cols)}
	scale := 1 / float64(2*max(rows, cols, 1))
	for i := range rows {
		for j := range cols {
			v := scale * (2*rng.Float64() - 1)
			if i == j {
				v++
			}
			g.Data[i*g.Stride+j] = v
		}
	}
	return g
}

// run runs k, turning a panic into an error.
func run(k *kernels.Kernel, in []blas64.General, scalars []lp.Value) (out []blas64.General, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panicked: %v", r)
		}
	}()
	return k.Run(in, scalars)
}
