package sim

import (
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
}

// problems are the algorithms simulate knows: the program, its
// arguments for n×n inputs in tiles of block (t tiles a side) on a pool
// of workers, and its input matrices.
var problems = map[string]func(t, workers int) (string, map[string]int, []string){
	"cholesky": func(t, _ int) (string, map[string]int, []string) {
		return "cholesky", map[string]int{"N": t}, []string{"S"}
	},
	"gemm": func(t, workers int) (string, map[string]int, []string) {
		return "gemm", map[string]int{"M": t, "N": t, "K": t, "G": npw.GemmChain(t, t, t, workers)}, []string{"A", "B"}
	},
	"qr": func(t, _ int) (string, map[string]int, []string) {
		return "qr", map[string]int{"MT": t, "NT": t}, []string{"A"}
	},
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
	name, args, inputs := setup((n+block-1)/block, workers)
	prog, err := lp.LoadProgram(name)
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
	p := &Problem{Plan: plan, Block: block, inputs: map[string][2]int{}}
	for _, in := range inputs {
		p.inputs[in] = [2]int{n, n}
	}
	return p, nil
}

// InputShape is the shape of an input tile: a block a side, less at the
// matrix's last row and column of tiles, which its last two indices give
// (Cholesky's input is S[0, j, k]).
func (p *Problem) InputShape(t analysis.Tile) (rows, cols int, err error) {
	ms := p.Plan.Program().Matrices
	name := ms[t.Matrix].Name
	dims, ok := p.inputs[name]
	idx := t.Indices()
	if !ok || len(idx) < 2 {
		return 0, 0, fmt.Errorf("tile %s is read before any task writes it, and %s is not an input of the problem (inputs: %s)",
			p.Plan.TileString(t), name, strings.Join(slices.Sorted(maps.Keys(p.inputs)), ", "))
	}
	i, j := int(idx[len(idx)-2]), int(idx[len(idx)-1])
	rows = min(p.Block, dims[0]-i*p.Block)
	cols = min(p.Block, dims[1]-j*p.Block)
	if rows <= 0 || cols <= 0 {
		return 0, 0, fmt.Errorf("tile %s lies outside the %d×%d input %s", p.Plan.TileString(t), dims[0], dims[1], name)
	}
	return rows, cols, nil
}
