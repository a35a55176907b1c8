package sim

import (
	"embed"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/npw-dev/npw"
	"github.com/npw-dev/npw/analysis"
	lp "github.com/npw-dev/npw/lambdapack"
)

// A Problem is a shipped algorithm set up as the Engine runs it on n×n
// inputs: its program's plan, and the shapes of its input tiles.
type Problem struct {
	Plan   *analysis.Plan
	Block  int
	inputs map[string][2]int // rows, cols by matrix name
	n      int               // for a program: the order of inputs not in inputs; 0 if none
	prog   bool              // a program's, not a shipped algorithm's
	// a shipped algorithm's setup, for Scaled
	alg             string
	order, nWorkers int
}

// problems are the algorithms simulate knows: the program, its
// arguments for n×n inputs in tiles of block (t tiles a side) on a pool
// of workers, and its input matrices.
var problems = map[string]func(n, block, t, workers int) (string, map[string]int, []string){
	"cholesky": func(_, _, t, _ int) (string, map[string]int, []string) {
		return "cholesky", map[string]int{"N": t}, []string{"S"}
	},
	"gemm": func(_, _, t, workers int) (string, map[string]int, []string) {
		return "gemm", map[string]int{"M": t, "N": t, "K": t, "G": npw.GemmChain(t, t, t, workers)}, []string{"A", "B"}
	},
	// the program Engine.QR runs: blocked or the tree (npw.QRBlocked)
	"qr": func(n, block, t, workers int) (string, map[string]int, []string) {
		if npw.QRBlocked(t, t, workers) {
			return "geqrf", map[string]int{"MT": t, "NT": t, "KT": t, "BS": block, "MR": n}, []string{"A"}
		}
		return "qr", map[string]int{"MT": t, "NT": t}, []string{"A"}
	},
	// numpywren's own QR, with its kernels (programs/numpywren_qr.lp):
	// the paper's QR, for reproducing its figures.
	"numpywren-qr": func(_, _, t, _ int) (string, map[string]int, []string) {
		return "numpywren_qr", map[string]int{"N": t}, []string{"I"}
	},
}

// paperPrograms are the programs of the numpywren paper that npw does not
// ship, by name.
//
//go:embed programs/*.lp
var paperPrograms embed.FS

// loadProgram loads a shipped program, or a paper program by name.
func loadProgram(name string) (*lp.Program, error) {
	if src, err := paperPrograms.ReadFile("programs/" + name + ".lp"); err == nil {
		return lp.Load(name+".lp", string(src))
	}
	return lp.LoadProgram(name)
}

// Algorithms lists the algorithms NewProblem knows.
func Algorithms() []string {
	var names []string
	for name := range problems {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// NewProblem sets up algorithm alg on n×n inputs in tiles of block for a
// pool of at most workers workers.
func NewProblem(alg string, n, block, workers int) (*Problem, error) {
	setup, ok := problems[alg]
	if !ok {
		return nil, fmt.Errorf("simulate knows no algorithm %q: want one of %s, or a program (PROG.lp)", alg, strings.Join(Algorithms(), ", "))
	}
	if n <= 0 || block <= 0 {
		return nil, fmt.Errorf("--n and --block must be positive, got %d and %d", n, block)
	}
	name, args, inputs := setup(n, block, (n+block-1)/block, workers)
	prog, err := loadProgram(name)
	if err != nil {
		return nil, err
	}
	vals := map[string]lp.Value{}
	for k, v := range args {
		vals[k] = lp.Int(int64(v))
	}
	plan, err := analysis.NewPlan(prog, vals)
	if err != nil {
		return nil, err
	}
	p := &Problem{Plan: plan, Block: block, inputs: map[string][2]int{}, alg: alg, order: n, nWorkers: workers}
	for _, in := range inputs {
		p.inputs[in] = [2]int{n, n}
	}
	return p, nil
}

// Scaled is the problem on an n/f matrix in tiles of block/f, whose DAG
// is this one's, or nil if there is none: for a program (whose arguments
// may be sizes npw cannot tell from tile counts), or when f does not
// divide n and the block.
func (p *Problem) Scaled(f int) *Problem {
	if p.prog || f < 1 || p.order%f != 0 || p.Block%f != 0 {
		return nil
	}
	q, err := NewProblem(p.alg, p.order/f, p.Block/f, p.nWorkers)
	if err != nil {
		return nil
	}
	return q
}

// InputShape is the shape of an input tile, as npw run tiles an input: a
// block a side by its last two indices (Cholesky's input is S[0, j, k]),
// less at the matrix's last row and column of tiles; by rows of block
// for a matrix of one index (TSQR's A[i]).
func (p *Problem) InputShape(t analysis.Tile) (rows, cols int, err error) {
	ms := p.Plan.Program().Matrices
	name := ms[t.Matrix].Name
	dims, ok := p.inputs[name]
	if !ok && p.n > 0 {
		dims, ok = [2]int{p.n, p.n}, true
	}
	idx := t.Indices()
	if !ok && p.prog && len(idx) > 0 {
		return 0, 0, fmt.Errorf("tile %s is read before any task writes it: give input %s's shape with --in %s=ROWSxCOLS, or --n", p.Plan.TileString(t), name, name)
	}
	if !ok || len(idx) < 1 || (len(idx) < 2 && !p.prog) {
		return 0, 0, fmt.Errorf("tile %s is read before any task writes it, and %s is not an input of the problem (inputs: %s)",
			p.Plan.TileString(t), name, strings.Join(slices.Sorted(maps.Keys(p.inputs)), ", "))
	}
	if len(idx) == 1 {
		rows, cols = min(p.Block, dims[0]-int(idx[0])*p.Block), dims[1]
	} else {
		i, j := int(idx[len(idx)-2]), int(idx[len(idx)-1])
		rows = min(p.Block, dims[0]-i*p.Block)
		cols = min(p.Block, dims[1]-j*p.Block)
	}
	if rows <= 0 || cols <= 0 {
		return 0, 0, fmt.Errorf("tile %s lies outside the %d×%d input %s", p.Plan.TileString(t), dims[0], dims[1], name)
	}
	return rows, cols, nil
}

// NewProgramProblem sets up program ref (a shipped program's name or a
// .lp file) with its scalar arguments, in tiles of block: the inputs of
// shapes are rows×cols, every other input n×n (n = 0: none). A matrix
// that no task writes must have a shape.
func NewProgramProblem(ref string, args map[string]lp.Value, shapes map[string][2]int, n, block int) (*Problem, error) {
	if block <= 0 {
		return nil, fmt.Errorf("--block must be positive, got %d", block)
	}
	prog, err := lp.LoadProgram(ref)
	if err != nil {
		return nil, err
	}
	for name, sh := range shapes {
		m := prog.Matrix(name)
		switch {
		case m == nil:
			return nil, fmt.Errorf("--in %s: program %s has no matrix %s", name, prog.Name, name)
		case m.Arity < 1:
			return nil, fmt.Errorf("--in %s: program %s never indexes %s", name, prog.Name, name)
		case sh[0] <= 0 || sh[1] <= 0:
			return nil, fmt.Errorf("--in %s=%dx%d: a shape is two positive sizes", name, sh[0], sh[1])
		}
	}
	for _, m := range prog.Matrices {
		if _, ok := shapes[m.Name]; m.Read && !m.Written && !ok && n <= 0 {
			return nil, fmt.Errorf("%s is an input of %s (no task writes it): give its shape with --in %s=ROWSxCOLS, or --n", m.Name, prog.Name, m.Name)
		}
	}
	plan, err := analysis.NewPlan(prog, args)
	if err != nil {
		return nil, err
	}
	p := &Problem{Plan: plan, Block: block, inputs: map[string][2]int{}, n: max(n, 0), prog: true}
	maps.Copy(p.inputs, shapes)
	return p, nil
}
