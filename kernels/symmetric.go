package kernels

// The kernels of the symmetric reduction to a band (sytrb.lp), which
// applies each panel's block reflector I − V T Vᵀ to both sides of the
// trailing matrix at once, as LAPACK's dsytrd_sy2sb does: stack builds
// the panel, one tall tile, for qr_factor (as in geqrf.lp, and stack_t
// the transposed row panel of bdfac.lp's LQ); half_tn forms
// ½ Tᵀ (Vᵀ A V T); syr2k is the symmetric rank-2k update of a tile.

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	lp "github.com/npw-dev/npw/lambdapack"
)

func init() {
	register(&Kernel{Name: "stack", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		m, err := stackRows("stack", in)
		if err != nil {
			return nil, err
		}
		return []blas64.General{m}, nil
	}, Flops: func([]blas64.General) float64 { return 0 }})
	register(&Kernel{Name: "stack_t", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		t := []blas64.General{Transpose(in[0])}
		m, err := stackRows("stack_t", append(t, in[1:]...))
		if err != nil {
			return nil, err
		}
		return []blas64.General{m}, nil
	}, Flops: func([]blas64.General) float64 { return 0 }})
	register(&Kernel{Name: "half_tn", Run: func(in []blas64.General, _ []lp.Value) ([]blas64.General, error) {
		a, b := in[0], in[1]
		if a.Rows != b.Rows {
			return nil, shapeErr("half_tn", "½ Aᵀ B needs A k×m and B k×n, got A %s, B %s", Shape(a), Shape(b))
		}
		c := NewTile(a.Cols, b.Cols)
		if a.Rows > 0 && c.Rows > 0 && c.Cols > 0 {
			blas64.Gemm(blas.Trans, blas.NoTrans, 0.5, a, b, 0, c)
		}
		return []blas64.General{c}, nil
	}, Flops: func(in []blas64.General) float64 {
		return 2 * float64(in[0].Cols) * float64(in[0].Rows) * float64(in[1].Cols)
	}})
	register(updating(&Kernel{Name: "syr2k", Flops: func(in []blas64.General) float64 {
		return 2 * float64(in[0].Rows) * float64(in[0].Cols) * float64(in[1].Cols+in[3].Cols)
	}}, syr2k))
}

// syr2k computes S − X1 Y1ᵀ − X2 Y2ᵀ: the trailing update of a tile of the
// lower triangle, X1 = V_i, Y1 = Y_j, X2 = Y_i, Y2 = V_j. A diagonal tile
// (i = j) comes out symmetric when S is, since the two products are then
// each other's transposes.
func syr2k(in []blas64.General, _ []lp.Value, inPlace bool) ([]blas64.General, error) {
	s, x1, y1, x2, y2 := in[0], in[1], in[2], in[3], in[4]
	if x1.Rows != s.Rows || y1.Rows != s.Cols || x1.Cols != y1.Cols || x2.Rows != s.Rows || y2.Rows != s.Cols || x2.Cols != y2.Cols {
		return nil, shapeErr("syr2k", "S − X1 Y1ᵀ − X2 Y2ᵀ needs S m×n, X1 and X2 m×k, Y1 and Y2 n×k, got S %s, X1 %s, Y1 %s, X2 %s, Y2 %s", Shape(s), Shape(x1), Shape(y1), Shape(x2), Shape(y2))
	}
	c := own(s, inPlace)
	if c.Rows > 0 && c.Cols > 0 {
		if x1.Cols > 0 {
			blas64.Gemm(blas.NoTrans, blas.Trans, -1, x1, y1, 1, c)
		}
		if x2.Cols > 0 {
			blas64.Gemm(blas.NoTrans, blas.Trans, -1, x2, y2, 1, c)
		}
	}
	return []blas64.General{c}, nil
}
