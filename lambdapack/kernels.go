package lambdapack

import (
	"fmt"
	"sort"
	"strings"
)

// A Signature says how a kernel is called: how many tiles it reads, which
// tiles it returns and how many scalar arguments follow the tiles. The
// kernels package implements every signature listed here.
type Signature struct {
	Name       string
	Inputs     []string // names of the tile inputs, for messages
	MinInputs  int      // fewer than len(Inputs) when trailing inputs are optional
	Variadic   bool     // the last input may repeat
	Outputs    []string // names of the returned tiles
	MinOutputs int      // fewer than len(Outputs) when leading outputs are optional: a call may assign the last ones alone
	Scalars    []string // names of the scalar arguments
	Doc        string
	minScalars int
}

var kernelList = []Signature{
	{Name: "chol", Inputs: []string{"A"}, Outputs: []string{"L"}, Doc: "Cholesky factor L of an SPD tile, A = L Lᵀ"},
	{Name: "trsm", Inputs: []string{"L", "B"}, Outputs: []string{"X"}, Doc: "X = B L⁻ᵀ, the Cholesky panel update"},
	{Name: "syrk", Inputs: []string{"S", "X", "Y"}, Outputs: []string{"S'"}, Doc: "S − X Yᵀ, the trailing update"},
	{Name: "gemm", Inputs: []string{"A", "B"}, Outputs: []string{"C"}, Doc: "A B"},
	{Name: "gemm_add", Inputs: []string{"C", "A", "B"}, Outputs: []string{"C'"}, Doc: "C + A B (accumulating chains of products)"},
	{Name: "gemm_sub", Inputs: []string{"C", "A", "B"}, Outputs: []string{"C'"}, Doc: "C − A B"},
	{Name: "gemm_sub_tn", Inputs: []string{"C", "A", "B"}, Outputs: []string{"C'"}, Doc: "C − Aᵀ B (back substitution with Lᵀ)"},
	{Name: "add", Inputs: []string{"A", "B"}, Variadic: true, Outputs: []string{"S"}, Doc: "elementwise sum of two or more tiles"},
	{Name: "identity", Inputs: []string{"A"}, Outputs: []string{"A'"}, Doc: "a copy of A"},
	{Name: "scale", Inputs: []string{"A"}, Outputs: []string{"B"}, Scalars: []string{"alpha"}, Doc: "alpha A"},
	{Name: "qr_factor", Inputs: []string{"A", "B"}, MinInputs: 1, Outputs: []string{"V", "T", "R"}, MinOutputs: 1, Doc: "Householder QR of A, or of A stacked on B; compact WY (V, T)"},
	{Name: "qr_leaf", Inputs: []string{"V", "T", "S"}, Outputs: []string{"S'"}, Doc: "Qᵀ S"},
	{Name: "qr_trailing_update", Inputs: []string{"V", "T", "S0", "S1"}, Outputs: []string{"S0'", "S1'"}, Doc: "Qᵀ of a stacked factorisation applied to [S0; S1]"},
	{Name: "qr_leaf_t", Inputs: []string{"V", "T", "S"}, Outputs: []string{"S'"}, Doc: "Qᵀ Sᵀ (a two-sided update's right side, as the left side of the transpose)"},
	{Name: "qr_leaf_q", Inputs: []string{"V", "T", "S"}, Outputs: []string{"S'"}, Doc: "Q S (forming or applying Q)"},
	{Name: "qr_leaf_dense", Inputs: []string{"V", "T", "S"}, Outputs: []string{"S'"}, Doc: "Qᵀ S as numpywren computes it: three dense products, (V Tᵀ)(Vᵀ S)"},
	{Name: "qr_trailing_update_dense", Inputs: []string{"V", "T", "S0", "S1"}, Outputs: []string{"S0'", "S1'"}, Doc: "qr_trailing_update as numpywren computes it: dense products, V's lower part taken as full"},
	{Name: "qr_trailing_update_q", Inputs: []string{"V", "T", "S0", "S1"}, Outputs: []string{"S0'", "S1'"}, Doc: "Q of a stacked factorisation applied to [S0; S1]"},
	{Name: "lq_factor", Inputs: []string{"A", "B"}, MinInputs: 1, Outputs: []string{"V", "T", "L"}, MinOutputs: 1, Doc: "Householder LQ of A, or of [A B]; compact WY (V, T)"},
	{Name: "lq_leaf", Inputs: []string{"V", "T", "S"}, Outputs: []string{"S'"}, Doc: "S Qᵀ"},
	{Name: "lq_trailing_update", Inputs: []string{"V", "T", "S0", "S1"}, Outputs: []string{"S0'", "S1'"}, Doc: "[S0 S1] Qᵀ of a side-by-side factorisation"},
	{Name: "solve_lower", Inputs: []string{"L", "B"}, Outputs: []string{"X"}, Doc: "L⁻¹ B"},
	{Name: "solve_lower_unit", Inputs: []string{"L", "B"}, Outputs: []string{"X"}, Doc: "L⁻¹ B for a unit lower triangular L (U rows of LU)"},
	{Name: "trsm_upper", Inputs: []string{"U", "B"}, Outputs: []string{"X"}, Doc: "X = B U⁻¹ (L panels of LU)"},
	{Name: "lu_pivots", Inputs: []string{"A", "IA", "B", "IB"}, MinInputs: 2, Outputs: []string{"C", "IC"}, Doc: "tournament match: GEPP on A or [A; B] picks pivot rows C and their ids IC"},
	{Name: "lu_swap", Inputs: []string{"A", "IA", "K", "IK", "PIV"}, Outputs: []string{"A'"}, Doc: "A with its pivot rows exchanged for block k's displaced rows"},
	{Name: "lu_arrange", Inputs: []string{"K", "IK", "PIV"}, Outputs: []string{"X"}, Doc: "block k's tile in pivot order, with the displaced row that goes to each pivot's place from below"},
	{Name: "lu_exchange", Inputs: []string{"X", "T", "IT", "PIV"}, Outputs: []string{"X'", "T'"}, Doc: "one link of the row exchange down a column: the pivots T holds trade places with their rows of X"},
	{Name: "lu_nopiv", Inputs: []string{"A"}, Outputs: []string{"L", "U"}, Doc: "A = L U without pivoting, L unit lower, U upper"},
	{Name: "solve_lower_t", Inputs: []string{"L", "B"}, Outputs: []string{"X"}, Doc: "L⁻ᵀ B"},
	{Name: "solve_upper", Inputs: []string{"U", "B"}, Outputs: []string{"X"}, Doc: "U⁻¹ B"},
	{Name: "trtri", Inputs: []string{"L"}, Outputs: []string{"W"}, Doc: "W = L⁻¹ of a lower triangular tile"},
	{Name: "neg_solve_lower", Inputs: []string{"L", "B"}, Outputs: []string{"X"}, Doc: "X = −L⁻¹ B (the tiles below the diagonal of a triangular inverse)"},
	{Name: "gemm_tn", Inputs: []string{"A", "B"}, Outputs: []string{"C"}, Doc: "Aᵀ B"},
	{Name: "gemm_add_tn", Inputs: []string{"C", "A", "B"}, Outputs: []string{"C'"}, Doc: "C + Aᵀ B"},
	{Name: "unit_lower_tn", Inputs: []string{"V", "C"}, Outputs: []string{"X"}, Doc: "Vᵀ C for V unit lower trapezoidal (a block reflector's top tile: a triangle's multiply, half gemm_tn's flops)"},
	{Name: "unit_lower_sub", Inputs: []string{"C", "V", "Z"}, Outputs: []string{"C'"}, Doc: "C − V Z for V unit lower trapezoidal (as unit_lower_tn)"},
	{Name: "upper_tn", Inputs: []string{"T", "X"}, Outputs: []string{"Z"}, Doc: "Tᵀ X for T upper triangular (a block reflector's T: a triangle's multiply, half gemm_tn's flops)"},
	{Name: "upper_nn", Inputs: []string{"T", "X"}, Outputs: []string{"Z"}, Doc: "T X for T upper triangular (as upper_tn, untransposed: half gemm's flops)"},
	{Name: "transpose", Inputs: []string{"A"}, Outputs: []string{"B"}, Doc: "Aᵀ"},
	{Name: "stack", Inputs: []string{"A", "B"}, Outputs: []string{"S"}, Doc: "A stacked on B, one tile (a panel of tiles for one factorisation)"},
	{Name: "append_rows", Inputs: []string{"P", "B"}, Outputs: []string{"S"}, Scalars: []string{"rows"}, Doc: "P with B's rows below them (a panel of tiles built a tile at a time, grown in place to its final height rows)"},
	{Name: "stack_t", Inputs: []string{"A", "B"}, MinInputs: 1, Outputs: []string{"S"}, Doc: "Aᵀ, stacked on B if given (a row panel of tiles, transposed, for one factorisation)"},
	{Name: "half_tn", Inputs: []string{"A", "B"}, Outputs: []string{"C"}, Doc: "½ Aᵀ B"},
	{Name: "syr2k", Inputs: []string{"S", "X1", "Y1", "X2", "Y2"}, Outputs: []string{"S'"}, Doc: "S − X1 Y1ᵀ − X2 Y2ᵀ, the symmetric two-sided trailing update"},
	{Name: "band_start", Inputs: []string{"D", "E"}, MinInputs: 1, Outputs: []string{"G"}, Doc: "the rows of an upper band's first block row: D its diagonal tile, E the tile right of it"},
	{Name: "band_append", Inputs: []string{"G", "D", "E"}, MinInputs: 2, Outputs: []string{"G'"}, Doc: "the band rows G followed by the next block row's (D, E)"},
	{Name: "band_values", Inputs: []string{"G"}, Outputs: []string{"S"}, Doc: "the singular values of the upper band whose rows G holds, as a 1×n tile, largest first"},
	{Name: "symmetrize", Inputs: []string{"A"}, Outputs: []string{"S"}, Doc: "the symmetric tile whose lower triangle is A's"},
	{Name: "sband_start", Inputs: []string{"D", "R"}, MinInputs: 1, Outputs: []string{"H"}, Doc: "the upper triangle's rows of a symmetric block tridiagonal matrix's first block row: D its diagonal tile (its lower triangle), R the upper triangular tile below it"},
	{Name: "sband_append", Inputs: []string{"H", "D", "R"}, MinInputs: 2, Outputs: []string{"H'"}, Doc: "the band rows H followed by the next block row's (D, R)"},
	{Name: "sband_values", Inputs: []string{"H"}, Outputs: []string{"W"}, Doc: "the eigenvalues of the symmetric band whose upper triangle's rows H holds, as a 1×n tile, ascending"},
	{Name: "sband_tridiag", Inputs: []string{"H"}, Outputs: []string{"TD", "W", "RF"}, Doc: "the tridiagonal (2×n) that the symmetric band whose upper triangle's rows H holds reduces to, its eigenvalues (1×n, ascending) and the Householder reflectors of the reduction (a row each)"},
	{Name: "tri_vectors", Inputs: []string{"TD", "W", "RF"}, Outputs: []string{"Z"}, Scalars: []string{"j", "block"}, Doc: "column block j of the band's eigenvectors: the tridiagonal's by inverse iteration, with the reduction's reflectors applied"},
	{Name: "cut_rows", Inputs: []string{"Z"}, Outputs: []string{"T"}, Scalars: []string{"i", "block", "rows"}, Doc: "tile row i (of height block) of a rows-row matrix whose first rows are Z's, the others zero"},
	{Name: "permutation_tile", Inputs: []string{"P"}, Outputs: []string{"E"}, Scalars: []string{"j", "cols", "block"}, Doc: "column block j of the permutation matrix whose row r has its one in column P[r]"},
	{Name: "band_bidiag", Inputs: []string{"G"}, Outputs: []string{"TD", "SV", "RL", "RR"}, Doc: "the bidiagonal (2×n) that the upper band whose rows G holds reduces to, its singular values (1×n, largest first) and the Householder reflectors of the reduction, left and right (a row each)"},
	{Name: "bi_vectors", Inputs: []string{"TD", "SV", "RL", "RR"}, Outputs: []string{"U", "V"}, Scalars: []string{"j", "block"}, Doc: "column block j of the band's left and right singular vectors: the bidiagonal's from its Golub–Kahan matrix, with the reduction's reflectors applied"},
	{Name: "random", Outputs: []string{"A"}, Scalars: []string{"kind", "seed", "i", "j", "rows", "cols", "block"},
		Doc: "tile (i, j) of a generated rows×cols matrix: kind 0 Gaussian, 1 symmetric positive definite, 2 identity"},
}

var kernelTable = func() map[string]*Signature {
	m := make(map[string]*Signature, len(kernelList))
	for i := range kernelList {
		s := &kernelList[i]
		if s.MinInputs == 0 {
			s.MinInputs = len(s.Inputs)
		}
		if s.MinOutputs == 0 {
			s.MinOutputs = len(s.Outputs)
		}
		s.minScalars = len(s.Scalars)
		m[s.Name] = s
	}
	return m
}()

// LookupKernel returns the signature of the named kernel.
func LookupKernel(name string) (Signature, bool) {
	s, ok := kernelTable[name]
	if !ok {
		return Signature{}, false
	}
	return *s, true
}

// KernelNames returns the names of all kernels, sorted.
func KernelNames() []string {
	names := make([]string, 0, len(kernelTable))
	for name := range kernelTable {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// AcceptsOutputs reports whether a call may assign n tiles: all the
// outputs, or the last n of them where the others are optional.
func (s Signature) AcceptsOutputs(n int) bool {
	return n >= s.MinOutputs && n <= len(s.Outputs)
}

// AcceptsInputs reports whether n tile inputs are allowed.
func (s Signature) AcceptsInputs(n int) bool {
	return n >= s.MinInputs && (n <= len(s.Inputs) || s.Variadic)
}

// AcceptsScalars reports whether n scalar arguments are allowed.
func (s Signature) AcceptsScalars(n int) bool {
	return n >= s.minScalars && n <= len(s.Scalars)
}

// Usage renders the call form, e.g. "V, T, R = qr_factor(A [, B])".
func (s Signature) Usage() string {
	opt := len(s.Outputs) - s.MinOutputs
	out := strings.Join(s.Outputs[opt:], ", ")
	if opt > 0 { // optional leading outputs: [V, T,] R
		out = "[" + strings.Join(s.Outputs[:opt], ", ") + ",] " + out
	}
	args := ""
	for i, in := range s.Inputs {
		switch {
		case i == 0:
			args = in
		case i >= s.MinInputs:
			args += " [, " + in + "]"
		default:
			args += ", " + in
		}
	}
	if s.Variadic {
		args += ", ..."
	}
	for _, sc := range s.Scalars {
		args += ", " + sc
	}
	return fmt.Sprintf("%s = %s(%s)", out, s.Name, args)
}
