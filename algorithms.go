package npw

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/job"
)

func tilesOf(n, block int) int { return (n + block - 1) / block }

// useSquare is use for an operation on one square matrix.
func (e *Engine) useSquare(op string, a *Matrix) error {
	if err := e.use(op, a); err != nil {
		return err
	}
	if a.Rows != a.Cols {
		return fmt.Errorf("%s: the matrix must be square, got %d×%d", op, a.Rows, a.Cols)
	}
	return nil
}

// GemmChain is the chain length G the shipped gemm program is run with
// for an m×k by k×n tile product on at most workers workers: the longest
// chains of accumulating products that still give every worker two tiles
// of C to work on at once. Long chains write no partial products and need
// no tile sums (G = k writes exactly the m·n tiles of C); shorter chains,
// summed by a tree, are for a C too small to keep the workers busy.
func GemmChain(m, n, k, workers int) int {
	chains := min(max(k, 1), max(1, tilesOf(2*workers, max(m*n, 1))))
	return tilesOf(max(k, 1), chains)
}

// Cholesky factors a symmetric positive definite matrix: A = L Lᵀ with L
// lower triangular. Only the lower triangle of A is read.
func (e *Engine) Cholesky(ctx context.Context, a *Matrix) (*Matrix, error) {
	if err := e.useSquare("cholesky", a); err != nil {
		return nil, err
	}
	res, err := e.runShipped(ctx, "cholesky", map[string]int{"N": tilesOf(a.Rows, a.Block)}, a.Block, []job.Input{a.input("S")}, "O")
	if err != nil {
		return nil, err
	}
	return e.output(ctx, res, "O", nil, a.Rows, a.Cols, a.Block)
}

// GEMM multiplies: C = A B. Both must use the same block size. Each tile
// of C is a chain of accumulating products, or a tree over several chains
// when C has too few tiles for the workers (GemmChain).
func (e *Engine) GEMM(ctx context.Context, a, b *Matrix) (*Matrix, error) {
	if err := e.use("gemm", a, b); err != nil {
		return nil, err
	}
	if a.Cols != b.Rows {
		return nil, fmt.Errorf("gemm: A is %d×%d and B is %d×%d; A's columns must match B's rows", a.Rows, a.Cols, b.Rows, b.Cols)
	}
	if a.Block != b.Block {
		return nil, fmt.Errorf("gemm: A has block %d and B block %d; they must match", a.Block, b.Block)
	}
	m, n, k := tilesOf(a.Rows, a.Block), tilesOf(b.Cols, a.Block), tilesOf(a.Cols, a.Block)
	args := map[string]int{"M": m, "N": n, "K": k, "G": GemmChain(m, n, k, e.opts.MaxWorkers())}
	res, err := e.runShipped(ctx, "gemm", args, a.Block, []job.Input{a.input("A"), b.input("B")}, "C")
	if err != nil {
		return nil, err
	}
	return e.output(ctx, res, "C", nil, a.Rows, b.Cols, a.Block)
}

// TSQR computes the R factor of a tall matrix, A = Q R, with a binary tree
// of QR factorisations over row blocks of Block rows. R is min(m,n)×n and
// upper triangular.
func (e *Engine) TSQR(ctx context.Context, a *Matrix) (*Matrix, error) {
	if err := e.use("tsqr", a); err != nil {
		return nil, err
	}
	n := tilesOf(a.Rows, a.Block)
	levels := int32(math.Ceil(math.Log2(float64(n)) - 1e-9))
	in := a.input("A")
	if a.Cols <= a.Block && a.fixed == nil && !a.gaps && a.store == e.tiles {
		// One column of tiles: its tiles are the row blocks, copied in
		// the store rather than assembled and tiled again here.
		rows, err := e.rowBlocks(ctx, a)
		if rows != nil {
			defer e.tiles.DeletePrefix(context.WithoutCancel(ctx), rows.Dir())
		}
		if err != nil {
			return nil, err
		}
		in = job.Input{Name: "A", Tiles: rows}
	}
	res, err := e.runShipped(ctx, "tsqr", map[string]int{"N": n}, a.Block, []job.Input{in}, "R")
	if err != nil {
		return nil, err
	}
	// Only R[0, levels] is the answer; the tree's other R tiles can go.
	keys, err := e.tiles.List(ctx, res.Matrices["R"].Dir())
	if err != nil {
		return nil, err
	}
	final := res.Matrices["R"].Key([]int32{0, levels})
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == final })
	if err := e.tiles.Delete(ctx, keys...); err != nil {
		return nil, err
	}
	return e.output(ctx, res, "R", []int32{0, levels}, min(a.Rows, a.Cols), a.Cols, a.Block)
}

// rowBlocks copies the tiles of a matrix one tile wide, in the store, into
// a matrix of row blocks (one index), as tsqr reads its input.
func (e *Engine) rowBlocks(ctx context.Context, a *Matrix) (*blockstore.BigMatrix, error) {
	rows := &blockstore.BigMatrix{Name: "A", Prefix: "matrices/" + job.NewID(), Arity: 1, Block: a.Block}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range int32(tilesOf(a.Rows, a.Block)) {
		g.Go(func() error { return e.tiles.Copy(gctx, rows.Key([]int32{i}), a.tiles.Key([]int32{i, 0})) })
	}
	return rows, g.Wait()
}

// QRFactors is a QR factorisation A = Q R kept in the store: R as a
// matrix and Q as compact-WY factors, which Q and ApplyQT use: a block
// reflector a panel (geqrf) or the reflectors of each panel's tree (qr).
type QRFactors struct {
	R           *Matrix
	Job         *job.Result
	eng         *Engine
	rows, cols  int
	block       int
	rowT, colT  int // tile grid of A
	kt          int
	blocked     bool // geqrf's factors, else qr's
	factorTiles []job.Input
	released    atomic.Bool
}

var qrFactors = []string{"Vl", "Tl", "Vt", "Tt"}

// wyFactors are the factors geqrf keeps: V's tiles and T, a panel each.
var wyFactors = []string{"VC", "T"}

// QRBlocked says whether QR factors an mt×nt grid of tiles on at most
// workers workers with the blocked program (geqrf) rather than the tree
// (qr). Blocked QR factors each panel as one tall tile on one worker
// while the others update the trailing columns, at Householder's flop
// count; the tree spreads each panel over a binary tree of tile
// factorisations, at up to about 1.7 times those flops. The panel is
// the critical path: a factorisation of 3·m·b² flops against the update's
// 4·m·b·n′ shared by the workers, so the blocked program keeps its
// workers busy while the columns to the right number at least two per
// worker, and a tall matrix makes the panel the whole job: blocked takes
// at most 4 row tiles a column tile and 2 column tiles a worker.
func QRBlocked(mt, nt, workers int) bool {
	return mt <= 4*nt && 2*max(workers, 1) <= nt
}

// QR factors A = Q R. R is min(m,n)×n upper triangular. Where QRBlocked
// says so, A is factored by blocked Householder QR (the shipped geqrf
// program: a panel a tall tile, its block reflector applied to the
// trailing columns in GEMMs, as ScaLAPACK's pdgeqrf), at Householder's
// flop count; otherwise by tiled communication-avoiding QR (qr: binary
// reduction trees over each panel).
func (e *Engine) QR(ctx context.Context, a *Matrix) (*QRFactors, error) {
	if err := e.use("qr", a); err != nil {
		return nil, err
	}
	mt, nt := tilesOf(a.Rows, a.Block), tilesOf(a.Cols, a.Block)
	f := &QRFactors{eng: e, rows: a.Rows, cols: a.Cols, block: a.Block, rowT: mt, colT: nt, kt: min(mt, nt), blocked: QRBlocked(mt, nt, e.opts.MaxWorkers())}
	program, args, factors := "qr", map[string]int{"MT": mt, "NT": nt}, qrFactors
	if f.blocked {
		program, args, factors = "geqrf", map[string]int{"MT": mt, "NT": nt, "KT": f.kt, "BS": a.Block, "MR": a.Rows}, wyFactors
	}
	res, err := e.runShipped(ctx, program, args, a.Block, []job.Input{a.input("A")}, append([]string{"R"}, factors...)...)
	if err != nil {
		return nil, err
	}
	f.Job = res
	f.R, err = e.output(ctx, res, "R", nil, min(a.Rows, a.Cols), a.Cols, a.Block)
	if err != nil {
		return nil, err
	}
	for _, name := range factors {
		f.factorTiles = append(f.factorTiles, job.Input{Name: name, Tiles: res.Matrices[name]})
	}
	return f, nil
}

// Q forms the thin Q (m×min(m,n)) explicitly, by applying Q to the first
// columns of the identity.
func (f *QRFactors) Q(ctx context.Context) (*Matrix, error) {
	if err := f.use("form Q"); err != nil {
		return nil, err
	}
	k := min(f.rows, f.cols)
	E, err := f.eng.Generate(ctx, "E", Identity, f.rows, k, f.block, 0)
	if err != nil {
		return nil, err
	}
	defer E.Release(ctx)
	inputs := append(slices.Clone(f.factorTiles), E.input("E"))
	program := "qr_apply_q"
	if f.blocked {
		program = "wy_apply_q"
	}
	res, err := f.eng.runShipped(ctx, program, map[string]int{"MT": f.rowT, "KT": f.kt, "NB": tilesOf(k, f.block), "OFF": 0}, f.block, inputs, "Q")
	if err != nil {
		return nil, err
	}
	return f.eng.output(ctx, res, "Q", nil, f.rows, k, f.block)
}

// ApplyQT computes the first min(m,n) rows of Qᵀ B, for B with A's rows.
func (f *QRFactors) ApplyQT(ctx context.Context, b *Matrix) (*Matrix, error) {
	if err := f.use("apply Qᵀ", b); err != nil {
		return nil, err
	}
	if b.Rows != f.rows || b.Block != f.block {
		return nil, fmt.Errorf("apply Qᵀ: B is %d×%d with block %d; it needs A's %d rows and block %d", b.Rows, b.Cols, b.Block, f.rows, f.block)
	}
	inputs := append(slices.Clone(f.factorTiles), b.input("B"))
	program := "qr_apply_qt"
	if f.blocked {
		program = "wy_apply_qt"
	}
	res, err := f.eng.runShipped(ctx, program, map[string]int{"MT": f.rowT, "KT": f.kt, "NB": tilesOf(b.Cols, f.block)}, f.block, inputs, "C")
	if err != nil {
		return nil, err
	}
	c, err := f.eng.output(ctx, res, "C", nil, f.rows, b.Cols, f.block)
	if err != nil {
		return nil, err
	}
	// C's tiles are whole row tiles of Qᵀ B; keep its first min(m,n) rows.
	d, err := c.Dense(ctx)
	if err != nil {
		return nil, err
	}
	c.Release(ctx)
	return f.eng.Upload(ctx, "C", mat.DenseCopyOf(d.Slice(0, min(f.rows, f.cols), 0, b.Cols)), f.block)
}

// Release deletes the factorisation's tiles, R's among them. Releasing
// it again does nothing.
func (f *QRFactors) Release(ctx context.Context) error {
	if f == nil || f.released.Swap(true) {
		return nil
	}
	f.R.released.Store(true)
	return f.eng.Release(ctx, f.Job)
}

// use reports why the factors cannot be used (see Engine.use).
func (f *QRFactors) use(op string, ms ...*Matrix) error {
	switch {
	case f == nil:
		return fmt.Errorf("%s: the QR factors are nil", op)
	case f.released.Load():
		return fmt.Errorf("%s: the QR factors were released", op)
	}
	return f.eng.use(op, ms...)
}

// LeastSquares solves min ‖A X − B‖ for A with at least as many rows as
// columns (full column rank), through QR: X = R⁻¹ (Qᵀ B)[:n].
func (e *Engine) LeastSquares(ctx context.Context, a, b *Matrix) (*Matrix, error) {
	if err := e.use("least squares", a, b); err != nil {
		return nil, err
	}
	if a.Rows < a.Cols {
		return nil, fmt.Errorf("least squares: A is %d×%d; it needs at least as many rows as columns", a.Rows, a.Cols)
	}
	if b.Rows != a.Rows {
		return nil, fmt.Errorf("least squares: B has %d rows, A has %d", b.Rows, a.Rows)
	}
	f, err := e.QR(ctx, a)
	if err != nil {
		return nil, err
	}
	defer f.Release(ctx)
	c, err := f.ApplyQT(ctx, b)
	if err != nil {
		return nil, err
	}
	defer c.Release(ctx)
	return e.solveTriangular(ctx, f.R, c, 2)
}

// solveTriangular runs trsolve.lp: op 0 for L X = B, 1 for Lᵀ X = B,
// 2 for U X = B.
func (e *Engine) solveTriangular(ctx context.Context, t, b *Matrix, op int) (*Matrix, error) {
	args := map[string]int{"N": tilesOf(t.Rows, t.Block), "NRHS": tilesOf(b.Cols, b.Block), "OP": op}
	res, err := e.runShipped(ctx, "trsolve", args, t.Block, []job.Input{t.input("T"), b.input("B")}, "X")
	if err != nil {
		return nil, err
	}
	return e.output(ctx, res, "X", nil, t.Cols, b.Cols, t.Block)
}

// SolveSPD solves A X = B for symmetric positive definite A in one job:
// Cholesky, then the two triangular solves.
func (e *Engine) SolveSPD(ctx context.Context, a, b *Matrix) (*Matrix, error) {
	if err := e.checkSolve(a, b); err != nil {
		return nil, err
	}
	args := map[string]int{"N": tilesOf(a.Rows, a.Block), "NRHS": tilesOf(b.Cols, b.Block)}
	res, err := e.runShipped(ctx, "posv", args, a.Block, []job.Input{a.input("S"), b.input("B")}, "X")
	if err != nil {
		return nil, err
	}
	return e.output(ctx, res, "X", nil, a.Rows, b.Cols, a.Block)
}

func (e *Engine) checkSolve(a, b *Matrix) error {
	if err := e.use("solve", a, b); err != nil {
		return err
	}
	switch {
	case a.Rows != a.Cols:
		return fmt.Errorf("solve: A is %d×%d; it must be square (a tall A is a least-squares problem)", a.Rows, a.Cols)
	case b.Rows != a.Rows:
		return fmt.Errorf("solve: B has %d rows, A has %d", b.Rows, a.Rows)
	case a.Block != b.Block:
		return fmt.Errorf("solve: A has block %d and B block %d; they must match", a.Block, b.Block)
	}
	return nil
}

// LUFactors is A[P, :] = L U.
type LUFactors struct {
	L, U *Matrix
	P    []int // A's row P[i] is row i of L U
	Job  *job.Result
}

// LU factors a square matrix with tournament pivoting (CALU), stable in
// practice like partial pivoting: A[P, :] = L U, L unit lower and U upper
// triangular. A singular matrix fails the job.
func (e *Engine) LU(ctx context.Context, a *Matrix) (*LUFactors, error) {
	if err := e.useSquare("lu", a); err != nil {
		return nil, err
	}
	ids := blas64.General{Rows: a.Rows, Cols: 1, Stride: 1, Data: make([]float64, a.Rows)}
	for i := range ids.Data {
		ids.Data[i] = float64(i)
	}
	inputs := []job.Input{a.input("A"), {Name: "ROWS", Array: ids}}
	res, err := e.runShipped(ctx, "lu", map[string]int{"N": tilesOf(a.Rows, a.Block)}, a.Block, inputs, "L", "U", "PIV")
	if err != nil {
		return nil, err
	}
	f := &LUFactors{Job: res}
	if f.L, err = e.output(ctx, res, "L", nil, a.Rows, a.Rows, a.Block); err != nil {
		return nil, err
	}
	if f.U, err = e.output(ctx, res, "U", nil, a.Rows, a.Rows, a.Block); err != nil {
		return nil, err
	}
	p, err := blockstore.Assemble(ctx, e.tiles, res.Matrices["PIV"], nil, 16)
	if err != nil {
		return nil, err
	}
	// The permutation is f.P now; its tiles would outlive L and U.
	if err := e.tiles.DeletePrefix(ctx, res.Matrices["PIV"].Dir()); err != nil {
		return nil, err
	}
	for i := range p.Rows {
		f.P = append(f.P, int(p.Data[i*p.Stride]))
	}
	return f, nil
}

// Solve solves A X = B for square A through LU with tournament pivoting:
// X = U⁻¹ L⁻¹ B[P, :].
func (e *Engine) Solve(ctx context.Context, a, b *Matrix) (*Matrix, error) {
	if err := e.checkSolve(a, b); err != nil {
		return nil, err
	}
	f, err := e.LU(ctx, a)
	if err != nil {
		return nil, err
	}
	defer f.L.Release(ctx)
	defer f.U.Release(ctx)
	bd, err := b.Dense(ctx)
	if err != nil {
		return nil, err
	}
	pb := mat.NewDense(b.Rows, b.Cols, nil)
	for i, p := range f.P {
		pb.SetRow(i, bd.RawRowView(p))
	}
	PB, err := e.Upload(ctx, "PB", pb, b.Block)
	if err != nil {
		return nil, err
	}
	defer PB.Release(ctx)
	y, err := e.solveTriangular(ctx, f.L, PB, 0)
	if err != nil {
		return nil, err
	}
	defer y.Release(ctx)
	return e.solveTriangular(ctx, f.U, y, 2)
}

// InverseSPD returns A⁻¹ for a symmetric positive definite A in one job,
// the shipped potri program in LAPACK's potri order: A = L Lᵀ, W = L⁻¹,
// then A⁻¹ = Wᵀ W, about n³ flops in all. Only A's lower triangle is
// read; a matrix that is not positive definite fails the job.
func (e *Engine) InverseSPD(ctx context.Context, a *Matrix) (*Matrix, error) {
	if err := e.useSquare("inverse", a); err != nil {
		return nil, err
	}
	res, err := e.runShipped(ctx, "potri", map[string]int{"N": tilesOf(a.Rows, a.Block)}, a.Block, []job.Input{a.input("S")}, "X")
	if err != nil {
		return nil, err
	}
	return e.output(ctx, res, "X", nil, a.Rows, a.Cols, a.Block)
}

// Inverse returns A⁻¹ = U⁻¹ L⁻¹ I[P, :] for a square A, all in jobs: LU
// with tournament pivoting (A[P, :] = L U), then the permutation matrix
// I[P, :] made by the workers from the row ids P (the shipped permutation
// program: only P's n numbers pass through this process), then the two
// triangular solves. A singular matrix fails.
func (e *Engine) Inverse(ctx context.Context, a *Matrix) (*Matrix, error) {
	if err := e.useSquare("inverse", a); err != nil {
		return nil, err
	}
	f, err := e.LU(ctx, a)
	if err != nil {
		return nil, err
	}
	defer f.L.Release(ctx)
	defer f.U.Release(ctx)
	n, block := a.Rows, a.Block
	ids := blas64.General{Rows: n, Cols: 1, Stride: 1, Data: make([]float64, n)}
	for i, p := range f.P {
		ids.Data[i] = float64(p)
	}
	nt := tilesOf(n, block)
	res, err := e.runShipped(ctx, "permutation", map[string]int{"N": nt, "NC": nt, "COLS": n, "B": block}, block, []job.Input{{Name: "P", Array: ids}}, "E")
	if err != nil {
		return nil, err
	}
	pe, err := e.output(ctx, res, "E", nil, n, n, block)
	if err != nil {
		return nil, err
	}
	defer pe.Release(ctx)
	y, err := e.solveTriangular(ctx, f.L, pe, 0)
	if err != nil {
		return nil, err
	}
	defer y.Release(ctx)
	return e.solveTriangular(ctx, f.U, y, 2)
}

// svdBand is the widest band the SVD reduces a matrix to when only values
// are wanted: the tile size of its band reduction (bdfac) when the
// matrix's own is larger. The band is chased to bidiagonal form on one
// worker in O(n²·b) time while the other workers wait, and tiles below it
// multiply the reduction's tasks: at n = 4096 on this project's 2-core
// machines the SVD's values took 7.75, 7.77, 8.46 and 8.92 s with
// b = 160, 192, 256 and 320.
const svdBand = 192

// svdVectorsBand is svdBand when vectors are computed too. Their
// back-transformations (the chase's reflectors, a task per column block,
// and the reduction's, by wy_apply_q) are level-3 work on tiles of the
// band's width, which balance the longer chase: at n = 4096 the SVD with
// vectors took 23.0, 22.0, 21.7, 21.8 and 21.7 s with b = 160, 192, 256,
// 320 and 384.
const svdVectorsBand = 256

// eighBand is the widest band the symmetric eigensolver reduces a matrix
// to. Its reduction (sytrb, one block reflector a panel) is level-3 work
// with a short critical path at any of these widths, so the serial chase
// decides: at n = 4096, eigh with vectors took 13.4, 12.0, 11.4, 12.1,
// 11.9 and 12.7 s with b = 128, 160, 192, 256, 320 and 384, and the
// values alone 4.6, 4.4, 4.5, 5.4 and 5.8 s (b = 128 .. 320).
const eighBand = 192

// SVD returns the singular values of A, largest first. Singular vectors
// are not computed. It runs as one job of the shipped bdfac program, on
// tiles of at most svdBand (cut from A's by the workers): the workers
// reduce A to an upper band matrix of that bandwidth (QR and LQ panels,
// one block reflector each, as LAPACK's dgebrd), gather the band a block
// row at a time, and one of
// them chases it to bidiagonal form and computes its singular values, in
// O(n·b) memory and O(n²·b) time, with no n×n matrix formed. Only the n
// values reach this process. A wide matrix is reduced through its
// transpose, which a job of its own forms.
func (e *Engine) SVD(ctx context.Context, a *Matrix) ([]float64, error) {
	if err := e.use("svd", a); err != nil {
		return nil, err
	}
	if a.Rows < a.Cols {
		at, err := e.transpose(ctx, a)
		if err != nil {
			return nil, err
		}
		defer at.Release(ctx)
		a = at
	}
	block := min(a.Block, svdBand)
	mt, nt := tilesOf(a.Rows, block), tilesOf(a.Cols, block)
	res, err := e.runShipped(ctx, "bdfac", map[string]int{"MT": mt, "NT": nt, "BS": block, "MR": a.Rows, "NC": a.Cols, "VEC": 0}, block, []job.Input{a.input("A")}, "SV")
	if err != nil {
		return nil, err
	}
	defer job.Cleanup(ctx, e.tiles, res)
	return e.valuesTile(ctx, res, "SV", a.Cols)
}

// Eigvalsh returns the eigenvalues of the symmetric matrix A, ascending;
// only A's lower triangle is read, as LAPACK's dsyev reads it with
// uplo = 'L'. Eigenvectors are not computed. It runs as one job of the
// shipped sytrb program, on tiles of at most eighBand (cut from A's by the
// workers): the workers reduce A to a symmetric band of that bandwidth
// (A = Q B Qᵀ, a block reflector a panel applied to both sides of the
// trailing matrix at once, as LAPACK's dsytrd_sy2sb), gather the band a
// block row at a time, and one of them chases it to tridiagonal form and
// computes its eigenvalues (LAPACK's dsterf), in O(n·b) memory. Only the
// n values reach this process.
func (e *Engine) Eigvalsh(ctx context.Context, a *Matrix) ([]float64, error) {
	if err := e.useSquare("eigvalsh", a); err != nil {
		return nil, err
	}
	block := min(a.Block, eighBand)
	res, err := e.runShipped(ctx, "sytrb", map[string]int{"N": tilesOf(a.Rows, block), "BS": block, "NR": a.Rows, "VEC": 0}, block, []job.Input{a.input("A")}, "W")
	if err != nil {
		return nil, err
	}
	defer job.Cleanup(ctx, e.tiles, res)
	return e.valuesTile(ctx, res, "W", a.Rows)
}

// Eigh returns the eigenvalues (ascending) and the eigenvectors (the
// columns of V, orthonormal) of the symmetric matrix A: A V = V diag(w).
// Only A's lower triangle is read. It runs three jobs on the workers, on
// tiles of at most eighBand:
//
//   - sytrb reduces A to a symmetric band, A = Q B Qᵀ, a block reflector
//     a panel, and gathers the band;
//   - syevv chases the band to tridiagonal form on one worker, keeping
//     its Householder reflectors, and computes the eigenvalues (dsterf);
//     then a task per column block computes its eigenvectors of the
//     tridiagonal by inverse iteration (as LAPACK's dstein) and applies
//     the reflectors to them in blocks, and tasks cut them into tiles,
//     the band's eigenvectors;
//   - wy_apply_q applies Q to them, a panel's block reflector at a time.
//
// V has V.Block = min(A.Block, eighBand). Release it when done.
func (e *Engine) Eigh(ctx context.Context, a *Matrix) ([]float64, *Matrix, error) {
	if err := e.useSquare("eigh", a); err != nil {
		return nil, nil, err
	}
	n, block := a.Rows, min(a.Block, eighBand)
	nt := tilesOf(n, block)
	red, err := e.runShipped(ctx, "sytrb", map[string]int{"N": nt, "BS": block, "NR": n, "VEC": 1}, block, []job.Input{a.input("A")}, "H", "VC", "T")
	if err != nil {
		return nil, nil, err
	}
	defer job.Cleanup(ctx, e.tiles, red)
	vec, err := e.runShipped(ctx, "syevv", map[string]int{"N": nt, "BS": block, "NR": n}, block, []job.Input{{Name: "H", Tiles: red.Matrices["H"]}}, "W", "E")
	if err != nil {
		return nil, nil, err
	}
	w, err := e.valuesTile(ctx, vec, "W", n)
	if err != nil {
		job.Cleanup(ctx, e.tiles, vec)
		return nil, nil, err
	}
	if nt == 1 { // no panels: the band is A; W's tile goes, E stays as V
		if err := e.tiles.DeletePrefix(ctx, vec.Matrices["W"].Dir()); err != nil {
			job.Cleanup(ctx, e.tiles, vec)
			return nil, nil, err
		}
		v, err := e.output(ctx, vec, "E", nil, n, n, block)
		return w, v, err
	}
	defer job.Cleanup(ctx, e.tiles, vec)
	inputs := []job.Input{{Name: "E", Tiles: vec.Matrices["E"]}, {Name: "VC", Tiles: red.Matrices["VC"]}, {Name: "T", Tiles: red.Matrices["T"]}}
	res, err := e.runShipped(ctx, "wy_apply_q", map[string]int{"MT": nt, "KT": nt - 1, "NB": nt, "OFF": 1}, block, inputs, "Q")
	if err != nil {
		return nil, nil, err
	}
	v, err := e.output(ctx, res, "Q", nil, n, n, block)
	return w, v, err
}

// valuesTile reads the one 1×n tile of values that a job left in name.
func (e *Engine) valuesTile(ctx context.Context, res *job.Result, name string, n int) ([]float64, error) {
	g, _, err := e.tiles.GetTile(ctx, res.Matrices[name].Key([]int32{0}))
	if err != nil {
		return nil, err
	}
	if g.Rows != 1 || g.Cols != n {
		return nil, fmt.Errorf("%s: the job returned %d×%d values, want 1×%d", res.Program, g.Rows, g.Cols, n)
	}
	return slices.Clone(g.Data[:g.Cols]), nil
}

// SVDFactors is a thin singular value decomposition A = U diag(S) Vᵀ of
// an m×n matrix: S (k = min(m, n) values, largest first), U (m×k) and VT
// (k×n), orthonormal columns and rows, kept in the store.
type SVDFactors struct {
	S     []float64
	U, VT *Matrix
}

// Release deletes U's and VT's tiles.
func (f *SVDFactors) Release(ctx context.Context) error {
	return errors.Join(f.U.Release(ctx), f.VT.Release(ctx))
}

// SVDVectors returns the thin SVD of A with its singular vectors, all
// computed on the workers, on tiles of at most svdVectorsBand (cut from
// A's by the workers), in five jobs:
//
//   - bdfac reduces A to an upper band, A = Q B Pᵀ, and gathers the band;
//   - svdv chases the band to bidiagonal form on one worker, keeping its
//     Householder reflectors, and computes the singular values (dqds); a
//     task per column block computes its singular vectors of the
//     bidiagonal (from its Golub–Kahan matrix, by inverse iteration) and
//     applies the reflectors to them in blocks, and tasks cut them into
//     tiles, the band's U_B and V_B;
//   - wy_apply_q forms U = Q U_B and V = P V_B, and transpose Vᵀ.
//
// A wide matrix is decomposed through its transpose. U and VT have block
// min(A.Block, svdVectorsBand). SVD is the faster call when the values are all
// that is needed.
func (e *Engine) SVDVectors(ctx context.Context, a *Matrix) (*SVDFactors, error) {
	if err := e.use("svd", a); err != nil {
		return nil, err
	}
	wide := a.Rows < a.Cols
	if wide {
		at, err := e.transpose(ctx, a)
		if err != nil {
			return nil, err
		}
		defer at.Release(ctx)
		a = at
	}
	m, n, block := a.Rows, a.Cols, min(a.Block, svdVectorsBand)
	mt, nt := tilesOf(m, block), tilesOf(n, block)
	red, err := e.runShipped(ctx, "bdfac", map[string]int{"MT": mt, "NT": nt, "BS": block, "MR": m, "NC": n, "VEC": 1}, block, []job.Input{a.input("A")}, "G", "VC", "T", "VCL", "TL")
	if err != nil {
		return nil, err
	}
	defer job.Cleanup(ctx, e.tiles, red)
	vec, err := e.runShipped(ctx, "svdv", map[string]int{"MT": mt, "NT": nt, "M": m, "N": n, "BS": block}, block,
		[]job.Input{{Name: "G", Tiles: red.Matrices["G"]}}, "SV", "EU", "EV")
	if err != nil {
		return nil, err
	}
	defer job.Cleanup(ctx, e.tiles, vec)
	s, err := e.valuesTile(ctx, vec, "SV", n)
	if err != nil {
		return nil, err
	}
	// U = Q U_B
	inputs := []job.Input{{Name: "E", Tiles: vec.Matrices["EU"]}, {Name: "VC", Tiles: red.Matrices["VC"]}, {Name: "T", Tiles: red.Matrices["T"]}}
	res, err := e.runShipped(ctx, "wy_apply_q", map[string]int{"MT": mt, "KT": nt, "NB": nt, "OFF": 0}, block, inputs, "Q")
	if err != nil {
		return nil, err
	}
	u, err := e.output(ctx, res, "Q", nil, m, n, block)
	if err != nil {
		return nil, err
	}
	// V = P V_B, P of the LQ panels (none for one column of tiles)
	var v *Matrix
	if nt == 1 {
		v, err = e.copyOut(ctx, vec, "EV", n, n, block)
	} else {
		inputs = []job.Input{{Name: "E", Tiles: vec.Matrices["EV"]}, {Name: "VC", Tiles: red.Matrices["VCL"]}, {Name: "T", Tiles: red.Matrices["TL"]}}
		res, err = e.runShipped(ctx, "wy_apply_q", map[string]int{"MT": nt, "KT": nt - 1, "NB": nt, "OFF": 1}, block, inputs, "Q")
		if err == nil {
			v, err = e.output(ctx, res, "Q", nil, n, n, block)
		}
	}
	if err != nil {
		u.Release(ctx)
		return nil, err
	}
	if wide { // A = (U' Σ V'ᵀ)ᵀ: U = V', Vᵀ = U'ᵀ
		u, v = v, u
	}
	vt, err := e.transpose(ctx, v)
	v.Release(ctx)
	if err != nil {
		u.Release(ctx)
		return nil, err
	}
	return &SVDFactors{S: s, U: u, VT: vt}, nil
}

// copyOut returns a job's output matrix as a matrix of its own, copied by
// a job (retile), so that the job's other tiles can go.
func (e *Engine) copyOut(ctx context.Context, res *job.Result, name string, rows, cols, block int) (*Matrix, error) {
	p, err := compileInts("retile", map[string]int{"MT": tilesOf(rows, block), "NT": tilesOf(cols, block)})
	if err != nil {
		return nil, err
	}
	cp, err := e.runAttached(ctx, p.plan, block, []job.Input{{Name: "A", Tiles: res.Matrices[name], Rows: rows, Cols: cols}}, "B")
	if err != nil {
		return nil, err
	}
	return e.output(ctx, cp, "B", nil, rows, cols, block)
}

// transpose returns Aᵀ, formed by a job of the shipped transpose program
// (one task per tile).
func (e *Engine) transpose(ctx context.Context, a *Matrix) (*Matrix, error) {
	mt, nt := tilesOf(a.Rows, a.Block), tilesOf(a.Cols, a.Block)
	res, err := e.runShipped(ctx, "transpose", map[string]int{"MT": mt, "NT": nt}, a.Block, []job.Input{a.input("A")}, "B")
	if err != nil {
		return nil, err
	}
	return e.output(ctx, res, "B", nil, a.Cols, a.Rows, a.Block)
}
