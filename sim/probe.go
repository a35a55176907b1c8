package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/kernels"
	lp "github.com/npw-dev/npw/lambdapack"
)

// A kind is a kind of tile: its shape and its structure (where it is
// zero, whether its diagonal is exactly one), which decide what a kernel
// costs on it (the Householder vectors of two stacked triangles, say,
// are cheaper to apply than dense ones). rep is a tile of the kind: an
// input's stand-in, or a kernel's output on such tiles.
//
// A prober that probes at reduced scale keeps two tiles per kind: rep at
// 1/f of the job's size and half at 1/2f; dims is always the kind's shape
// at the job's size.
type kind struct {
	dims      [2]int32
	rep, half blas64.General
}

// A probe is what one kind of call costs: the kinds of its inputs and
// outputs, its flops, its rate and the bytes a worker holds for it.
type probe struct {
	in, out []int32 // kinds
	same    []int   // for each input, the first input that is the same tile
	scalars []lp.Value
	flops   float64
	gflops  float64
	bytes   float64
}

func bytesOf(sh [2]int32) float64 { return 8 * float64(sh[0]) * float64(sh[1]) }

// A prober learns each kind of call (a kernel on inputs of given kinds)
// once, by running the real kernel on tiles of those kinds: the outputs'
// kinds follow, and kernels.Kernel.Flops counts its flops on them. Inputs
// are stand-ins (small entries, ones on the diagonal, which every
// factorisation and solve takes); every other tile is a kernel's output,
// so structure flows through the job as it does in a real one.
//
// Kernels on the tiles of a big block cost minutes and gigabytes to probe
// (a QR at block 4096 makes 55 kinds of call on 134 MB tiles). Given the
// problem at smaller tiles (the same DAG on an n/f matrix in tiles of
// block/f, and on one of n/2f in tiles of block/2f), the prober runs each
// call at both scales instead: the two flop counts fix the count's cubic
// and quadratic terms in the tile side (extrapolate), which carry it to
// the job's block; the two output shapes give each side's linear law (a
// side that follows the block, or a fixed one), which carries the shapes.
// Structure (zeros, unit diagonals) is the same at every scale.
type prober struct {
	plan  *analysis.Plan
	cal   *Calibration
	block int
	input func(analysis.Tile) (rows, cols int, err error)
	// scale is f above (1: probe at the job's size); small and smaller
	// are the problem at 1/f and 1/2f.
	scale          int
	small, smaller *Problem
	kinds          []kind
	bySig          map[uint64]int32
	tiles          map[analysis.Tile]int32 // the kind of every tile seen
	cache          map[string]*probe
	rng            *rand.Rand
}

// probeSide is the smallest tile side the prober scales a problem down to
// (and half of it, for the second scale).
var probeSide = 1024

func newProber(plan *analysis.Plan, cal *Calibration, block int, input func(analysis.Tile) (int, int, error)) *prober {
	return &prober{plan: plan, cal: cal, block: block, input: input, scale: 1, bySig: map[uint64]int32{}, tiles: map[analysis.Tile]int32{},
		cache: map[string]*probe{}, rng: rand.New(rand.NewPCG(1, 7))}
}

// scaleDown makes p probe at the smallest power-of-two fraction 1/f of
// the block that keeps tiles of at least probeSide, when scaled gives the
// problem at 1/f (nil if it cannot be scaled so).
func (p *prober) scaleDown(scaled func(f int) *Problem) {
	f := 1
	for p.block/(2*f) >= probeSide {
		f *= 2
	}
	for ; f > 1; f /= 2 {
		small, smaller := scaled(f), scaled(2*f)
		if small != nil && smaller != nil {
			p.scale, p.small, p.smaller = f, small, smaller
			return
		}
	}
}

// kindOf is the kind of tile t: the one its writer gave it, or an
// input's.
func (p *prober) kindOf(t analysis.Tile) (int32, error) {
	if k, ok := p.tiles[t]; ok {
		return k, nil
	}
	r, c, err := p.input(t)
	if err != nil {
		return 0, err
	}
	// A tile on the matrix's diagonal gets a heavy diagonal, the others
	// none, so that the input is diagonally dominant (symmetric positive
	// definite where its lower triangle is read), as a Cholesky needs.
	idx := t.Indices()
	diag := len(idx) >= 2 && idx[len(idx)-1] == idx[len(idx)-2]
	h := fnv.New64a()
	fmt.Fprintf(h, "input %d %d %v", r, c, diag)
	k, ok := p.bySig[h.Sum64()]
	if !ok {
		kd := kind{dims: [2]int32{int32(r), int32(c)}}
		if p.scale == 1 {
			kd.rep = standIn(p.rng, r, c, diag)
		} else {
			r1, c1, err1 := p.small.InputShape(t)
			r2, c2, err2 := p.smaller.InputShape(t)
			if err := errors.Join(err1, err2); err != nil {
				return 0, err
			}
			kd.rep, kd.half = standIn(p.rng, r1, c1, diag), standIn(p.rng, r2, c2, diag)
		}
		k = p.add(h.Sum64(), kd)
	}
	p.tiles[t] = k
	return k, nil
}

func (p *prober) add(sig uint64, kd kind) int32 {
	k := int32(len(p.kinds))
	p.kinds = append(p.kinds, kd)
	p.bySig[sig] = k
	return k
}

// wrote records the kinds of the tiles a task wrote.
func (p *prober) wrote(writes []analysis.Tile, pr *probe) {
	for i, t := range writes {
		if i < len(pr.out) {
			p.tiles[t] = pr.out[i]
		}
	}
}

func (p *prober) dims(k int32) [2]int32 { return p.kinds[k].dims }

// get returns the probe of task n, which reads reads.
func (p *prober) get(n analysis.Node, reads []analysis.Tile) (*probe, error) {
	name := p.plan.Kernel(n)
	k, ok := kernels.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("task %s: no kernel %s", p.plan.Describe(n), name)
	}
	var key strings.Builder
	key.WriteString(name)
	in := make([]int32, len(reads))
	same := make([]int, len(reads)) // the first input that is the same tile
	for i, t := range reads {
		kd, err := p.kindOf(t)
		if err != nil {
			return nil, err
		}
		in[i] = kd
		same[i] = slices.Index(reads, t)
		fmt.Fprintf(&key, " %d=%d", kd, same[i])
	}
	var scalars []lp.Value
	if k.ByValue || len(reads) == 0 {
		var err error
		if scalars, err = p.plan.ScalarArgs(n); err != nil {
			return nil, err
		}
		fmt.Fprintf(&key, " %v", scalars)
	}
	dropped := p.plan.Dropped(n) // R = qr_factor(A) computes V and T and drops them
	if dropped > 0 {
		fmt.Fprintf(&key, " drop %d", dropped)
	}
	if pr, ok := p.cache[key.String()]; ok {
		return pr, nil
	}
	inBytes, largest := 0.0, 0.0
	for _, kd := range in {
		inBytes += bytesOf(p.dims(kd))
		largest = max(largest, bytesOf(p.dims(kd)))
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
	pr := &probe{in: in, same: same, scalars: scalars}
	var err error
	if pr.flops, pr.out, err = p.learn(n, k, pr); err != nil {
		return nil, err
	}
	if pr.flops == 0 {
		pr.gflops = math.Inf(1) // it moves tiles: no compute time
	} else if pr.gflops, err = p.cal.GFLOPS(name, p.block); err != nil {
		return nil, err
	}
	pr.bytes = inBytes + float64(k.Workspace)*largest
	for _, kd := range pr.out {
		pr.bytes += bytesOf(p.dims(kd))
	}
	if dropped > len(pr.out) {
		return nil, fmt.Errorf("task %s: kernel %s returned %d tiles, the call drops %d", p.plan.Describe(n), name, len(pr.out), dropped)
	}
	pr.out = pr.out[dropped:]
	if pr.bytes > p.cal.Workers.MemoryMB.Value*1e6 {
		return nil, p.tooBig(n, pr.bytes)
	}
	p.cache[key.String()] = pr
	return pr, nil
}

// learn runs the call of task n that pr describes, at the job's size or
// at the two reduced scales, and returns its flops and its outputs' kinds
// at the job's size.
func (p *prober) learn(n analysis.Node, k *kernels.Kernel, pr *probe) (float64, []int32, error) {
	tiles, scalars := p.inputs(pr, false), pr.scalars
	if p.scale > 1 {
		var err error
		if scalars, err = p.small.Plan.ScalarArgs(n); err != nil {
			return 0, nil, err
		}
	}
	out, err := p.run(n, k, tiles, scalars)
	if err != nil {
		return 0, nil, err
	}
	flops := k.Flops(tiles)
	var halves []blas64.General
	if p.scale > 1 {
		halfTiles := p.inputs(pr, true)
		halfScalars, err := p.smaller.Plan.ScalarArgs(n)
		if err != nil {
			return 0, nil, err
		}
		if halves, err = p.run(n, k, halfTiles, halfScalars); err != nil {
			return 0, nil, err
		}
		if len(halves) != len(out) {
			return 0, nil, fmt.Errorf("task %s: kernel %s returns %d tiles at one scale and %d at another", p.plan.Describe(n), k.Name, len(out), len(halves))
		}
		flops = extrapolate(flops, k.Flops(halfTiles), p.scale)
	}
	kinds := make([]int32, len(out))
	for i, g := range out {
		sig := signature(g)
		kd, ok := p.bySig[sig]
		if !ok {
			nk := kind{dims: [2]int32{int32(g.Rows), int32(g.Cols)}, rep: kernels.Clone(g)}
			if p.scale > 1 {
				h := halves[i]
				nk.half = kernels.Clone(h)
				nk.dims = [2]int32{int32(fullSide(g.Rows, h.Rows, p.scale)), int32(fullSide(g.Cols, h.Cols, p.scale))}
				if nk.dims[0] < 0 || nk.dims[1] < 0 {
					return 0, nil, fmt.Errorf("task %s: kernel %s's output %d is %s at one scale and %s at half of it, which extrapolates to no shape",
						p.plan.Describe(n), k.Name, i, kernels.Shape(g), kernels.Shape(h))
				}
			}
			kd = p.add(sig, nk)
		}
		kinds[i] = kd
	}
	return flops, kinds, nil
}

// inputs are the inputs of the probe's call (the kinds' half tiles when
// half says): the same tile twice is one matrix (syrk of X with itself
// counts half the flops), two tiles of one kind are two.
func (p *prober) inputs(pr *probe, half bool) []blas64.General {
	tiles := make([]blas64.General, len(pr.in))
	used := map[int32]bool{}
	for i, kd := range pr.in {
		rep := p.kinds[kd].rep
		if half {
			rep = p.kinds[kd].half
		}
		switch {
		case pr.same[i] < i:
			tiles[i] = tiles[pr.same[i]]
		case used[kd]:
			tiles[i] = kernels.Clone(rep)
		default:
			tiles[i] = rep
			used[kd] = true
		}
	}
	return tiles
}

// run runs kernel k of task n on tiles, saying what failed.
func (p *prober) run(n analysis.Node, k *kernels.Kernel, tiles []blas64.General, scalars []lp.Value) ([]blas64.General, error) {
	out, err := run(k, tiles, scalars)
	if err != nil {
		shapes := make([]string, len(tiles))
		for i, g := range tiles {
			shapes[i] = kernels.Shape(g)
		}
		return nil, fmt.Errorf("task %s: the simulator cannot learn kernel %s's outputs on %s: %w", p.plan.Describe(n), k.Name, strings.Join(shapes, ", "), err)
	}
	return out, nil
}

// extrapolate takes flops counted on tiles 1/f of the job's side (f1)
// and on tiles half that (f2) to the job's side. Kernels count
// c3·s³ + c2·s² + c1·s flops in the tile side s, the last term small: the
// two counts fix c3 and c2 (A = c3·s1³ and B = c2·s1² below), exact but
// for c1. A count that does not fit so with c3, c2 ≥ 0 (one linear in
// s, say) grows instead as s to the fitted power log2(f1/f2), in [0, 3].
func extrapolate(f1, f2 float64, f int) float64 {
	if f1 <= 0 {
		return f1
	}
	ff := float64(f)
	if a := 2 * (f1 - 4*f2); a >= 0 && f1-a >= 0 {
		return a*ff*ff*ff + (f1-a)*ff*ff
	}
	deg := 3.0
	if f2 > 0 {
		deg = min(max(math.Log2(f1/f2), 0), 3)
	}
	return f1 * math.Pow(ff, deg)
}

// fullSide extrapolates a tile side that is d1 on tiles 1/f of the job's
// and d2 on tiles half that: d = a + b·s in the tile side s.
func fullSide(d1, d2, f int) int { return d1 + (d1-d2)*(2*f-2) }

// tooBig is the error of a task whose tiles do not fit a worker.
func (p *prober) tooBig(n analysis.Node, bytes float64) error {
	return fmt.Errorf("task %s holds %.0f MB of tiles, more than a worker's %.0f MB (calibration %s): use a smaller block",
		p.plan.Describe(n), bytes/1e6, p.cal.Workers.MemoryMB.Value, p.cal.Name)
}

// signature sums up a tile's kind: its shape, the runs of zeros in its
// rows, which diagonal entries are exactly one, and whether the
// diagonal is heavy (a diagonal tile of a positive definite matrix, which
// a Cholesky factors, against an off-diagonal one).
func signature(g blas64.General) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%dx%d", g.Rows, g.Cols)
	kernels.WriteZeroRuns(h, g)
	var buf [8]byte
	heavy := true
	for i := range min(g.Rows, g.Cols) {
		d := g.Data[i*g.Stride+i]
		if d == 1 {
			binary.LittleEndian.PutUint64(buf[:], uint64(i))
			h.Write(buf[:])
		}
		heavy = heavy && math.Abs(d) >= 0.5
	}
	if heavy {
		h.Write([]byte("heavy diagonal"))
	}
	return h.Sum64()
}

// standIn is a rows×cols tile of small uniform entries, with 1.5 added
// to its diagonal when diag says.
func standIn(rng *rand.Rand, rows, cols int, diag bool) blas64.General {
	g := blas64.General{Rows: rows, Cols: cols, Stride: max(cols, 1), Data: make([]float64, rows*cols)}
	scale := 1 / float64(2*max(rows, cols, 1))
	for i := range rows {
		for j := range cols {
			v := scale * (2*rng.Float64() - 1)
			if diag && i == j {
				v += 1.5
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
