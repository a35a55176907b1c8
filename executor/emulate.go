package executor

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/kernels"
	lp "github.com/npw-dev/npw/lambdapack"
	"github.com/npw-dev/npw/state"
)

// emulate stands in for kernel k under Settings.EmulateGFLOPS: it waits,
// on the worker's clock, the time k's flops on these inputs take at
// gflops, and returns copies of what k computes on stand-in inputs of the
// same shapes (standIn): tiles of the shapes and structure (triangles,
// unit diagonals, the zeros of Householder vectors) k's outputs have,
// since some kernels' flops follow the structure of their inputs, and
// the next kernel's emulation must count the flops the computing job's
// would. A kernel whose outputs follow its inputs' values (ByValue: row
// ids, pivots) runs for real on its inputs instead, for the time it takes
// or the emulated time, the longer.
func (w *worker) emulate(ctx context.Context, name string, k *kernels.Kernel, inputs []blas64.General, scalars []lp.Value, gflops float64, m *state.Metrics) ([]blas64.General, error) {
	t0 := w.cfg.Clock.Now()
	var model []blas64.General
	var err error
	if k.ByValue {
		model, err = runStandIn(k, inputs, scalars)
		if err != nil {
			err = fmt.Errorf("kernel %s on %s: %w", name, shapeList(inputs), err)
		}
	} else {
		model, err = standIn(name, k, inputs, scalars)
	}
	if err != nil {
		return nil, err
	}
	flops := k.Flops(inputs)
	if d := time.Duration(flops/(gflops*1e9)*float64(time.Second)) - w.cfg.Clock.Since(t0); d > 0 {
		select {
		case <-w.cfg.Clock.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	m.ComputeSeconds = w.cfg.Clock.Since(t0).Seconds()
	m.Flops = flops
	if k.ByValue {
		return model, nil
	}
	out := make([]blas64.General, len(model))
	for i, g := range model {
		out[i] = kernels.Clone(g)
	}
	return out, nil
}

// standIns caches standIn's outputs by kernel, input shapes, the zeros
// of the inputs and scalars.
var (
	standIns     sync.Map // uint64 → []blas64.General
	standInCount atomic.Int64
)

// maxStandIns bounds the cache: a job has a few kinds of call (tiles
// whole or ragged, triangles), and a program whose calls all differ
// recomputes its stand-ins rather than hold them all.
const maxStandIns = 4096

// standIn returns k's outputs on stand-ins for in, computed once per kind
// of call: each input with in's zeros where in has them (a triangle, a
// tile of the emulated kind) and elsewhere uniform in ±1/(2·max(rows,
// cols)), plus 1 on its diagonal, so that every factorization and solve
// succeeds (symmetric parts are diagonally dominant, S − X Yᵀ of two
// stand-ins too) and the outputs have the zeros computed ones would.
func standIn(name string, k *kernels.Kernel, in []blas64.General, scalars []lp.Value) ([]blas64.General, error) {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s %v", name, scalars)
	for _, g := range in {
		fmt.Fprintf(h, " %dx%d:", g.Rows, g.Cols)
		kernels.WriteZeroRuns(h, g)
	}
	key := h.Sum64()
	if s, ok := standIns.Load(key); ok {
		return s.([]blas64.General), nil
	}
	rng := rand.New(rand.NewPCG(key, 1))
	stand := make([]blas64.General, len(in))
	for n, g := range in {
		st := zeros(g.Rows, g.Cols)
		scale := 1 / float64(2*max(g.Rows, g.Cols))
		for i := range g.Rows {
			for j, x := range g.Data[i*g.Stride : i*g.Stride+g.Cols] {
				if x != 0 {
					st.Data[i*st.Stride+j] = scale * (2*rng.Float64() - 1)
					if i == j {
						st.Data[i*st.Stride+j]++
					}
				}
			}
		}
		stand[n] = st
	}
	out, err := runStandIn(k, stand, scalars)
	if err != nil {
		return nil, fmt.Errorf("emulating kernel %s on %s: %w", name, shapeList(in), err)
	}
	for i, g := range out {
		out[i] = kernels.Clone(g) // not memory of the stand-ins'
	}
	if standInCount.Add(1) <= maxStandIns {
		standIns.Store(key, out)
	}
	return out, nil
}

// runStandIn runs k, turning a panic into an error.
func runStandIn(k *kernels.Kernel, in []blas64.General, scalars []lp.Value) (out []blas64.General, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panicked: %v", r)
		}
	}()
	return k.Run(in, scalars)
}

// shapeList names the shapes of tiles: "4×4, 4×2".
func shapeList(in []blas64.General) string {
	s := make([]string, len(in))
	for i, g := range in {
		s[i] = kernels.Shape(g)
	}
	return strings.Join(s, ", ")
}

func zeros(rows, cols int) blas64.General {
	return blas64.General{Rows: rows, Cols: cols, Stride: max(cols, 1), Data: make([]float64, rows*cols)}
}
