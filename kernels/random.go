package kernels

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/internal/tilebuf"
	lp "github.com/npw-dev/npw/lambdapack"
)

// The kinds of matrices random generates.
const (
	Gaussian = 0 // independent N(0, 1) entries
	SPD      = 1 // symmetric, uniform in [-1, 1) off the diagonal, n on it: diagonally dominant, so positive definite
	Identity = 2 // ones on the diagonal
)

func init() {
	register(&Kernel{Name: "random", Run: runRandom, Flops: func([]blas64.General) float64 { return 0 }, ByValue: true})                    // its tiles are its scalars'
	register(&Kernel{Name: "permutation_tile", Run: runPermutationTile, Flops: func([]blas64.General) float64 { return 0 }, ByValue: true}) // its ones follow P's values

}

// runRandom generates tile (i, j) of a rows×cols matrix of the given kind
// and seed in block×block tiles: the scalars are kind, seed, i, j, rows,
// cols, block. Each entry depends only on the seed and its place in the
// matrix, not on the tiles, so any tiling (and Generate on one node)
// makes the same matrix.
func runRandom(_ []blas64.General, s []lp.Value) ([]blas64.General, error) {
	var v [7]int64
	for k := range v {
		if s[k].Kind != lp.IntKind {
			return nil, fmt.Errorf("random: scalar %d must be an int, got %v", k+1, s[k])
		}
		v[k] = s[k].I
	}
	kind, seed, i, j, rows, cols, block := v[0], uint64(v[1]), int(v[2]), int(v[3]), int(v[4]), int(v[5]), int(v[6])
	if kind < Gaussian || kind > Identity {
		return nil, fmt.Errorf("random: unknown kind %d (0 Gaussian, 1 SPD, 2 identity)", kind)
	}
	r0, c0 := i*block, j*block
	if block <= 0 || i < 0 || j < 0 || r0 >= rows || c0 >= cols {
		return nil, fmt.Errorf("random: tile (%d, %d) of block %d is outside a %d×%d matrix", i, j, block, rows, cols)
	}
	t := tilebuf.New(min(block, rows-r0), min(block, cols-c0))
	Generate(int(kind), seed, rows, r0, c0, t)
	return []blas64.General{t}, nil
}

// Generate fills t with the entries of the matrix of the given kind and
// seed whose top left corner in t is (r0, c0); n is the matrix's order
// (the SPD diagonal).
func Generate(kind int, seed uint64, n, r0, c0 int, t blas64.General) {
	for r := range t.Rows {
		row := t.Data[r*t.Stride : r*t.Stride+t.Cols]
		gr := uint64(r0 + r)
		for c := range row {
			gc := uint64(c0 + c)
			switch {
			case kind == Identity:
				row[c] = 0
				if gr == gc {
					row[c] = 1
				}
			case kind == SPD && gr == gc:
				row[c] = float64(n)
			case kind == SPD:
				row[c] = 2*unit(seed, min(gr, gc), max(gr, gc), 0) - 1
			default:
				row[c] = normal(seed, gr, gc)
			}
		}
	}
}

// unit returns a uniform number in [0, 1) that depends only on its
// arguments: a SplitMix64 finaliser over them.
func unit(seed, r, c, k uint64) float64 {
	x := seed ^ r*0x9e3779b97f4a7c15 ^ c*0xbf58476d1ce4e5b9 ^ k*0x94d049bb133111eb
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// normal returns a standard normal number by the Box–Muller transform of
// two of unit's.
func normal(seed, r, c uint64) float64 {
	u1, u2 := unit(seed, r, c, 1), unit(seed, r, c, 2)
	return math.Sqrt(-2*math.Log(1-u1)) * math.Cos(2*math.Pi*u2)
}

// runPermutationTile returns column block j (of width block, of cols
// columns) of the rows of a permutation matrix whose row r has its one in
// column P[r], P the ids in[0] holds (a column).
func runPermutationTile(in []blas64.General, s []lp.Value) ([]blas64.General, error) {
	sc, err := intScalars("permutation_tile", s)
	if err != nil {
		return nil, err
	}
	p, j, cols, block := in[0], sc[0], sc[1], sc[2]
	c0 := j * block
	if p.Cols != 1 || block <= 0 || j < 0 || c0 >= cols {
		return nil, fmt.Errorf("permutation_tile: column block %d of width %d outside %d columns, or ids %s not a column", j, block, cols, Shape(p))
	}
	t := tilebuf.New(p.Rows, min(block, cols-c0))
	for r := range p.Rows {
		id := p.Data[r*p.Stride]
		if id != math.Trunc(id) || id < 0 || id >= float64(cols) {
			return nil, fmt.Errorf("permutation_tile: row id %v is not a column of %d", id, cols)
		}
		if c := int(id) - c0; c >= 0 && c < t.Cols {
			t.Data[r*t.Stride+c] = 1
		}
	}
	return []blas64.General{t}, nil
}
