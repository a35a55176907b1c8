package npw

import (
	"bytes"
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/npw-dev/npw/blockstore"
)

// spdDense returns a random symmetric positive definite n×n matrix.
func spdDense(rng *rand.Rand, n int) *mat.Dense {
	a := randDense(rng, n, n)
	var s mat.Dense
	s.Mul(a, a.T())
	for i := range n {
		s.Set(i, i, s.At(i, i)+float64(n))
	}
	return &s
}

// choleskyError is ‖A − LLᵀ‖/(‖A‖·n·ε).
func choleskyError(a, l *mat.Dense) float64 {
	var llt, diff mat.Dense
	llt.Mul(l, l.T())
	diff.Sub(a, &llt)
	n, _ := a.Dims()
	return mat.Norm(&diff, 1) / (mat.Norm(a, 1) * float64(n) * eps)
}

// Stored matrices go in and out of jobs by URL: a .npy put into a file
// store, factored by an engine on that store (read in place) and on
// another (copied in), saved to URLs in and out of the engine's store,
// written back to .npy files and streams, and removed; nothing but the
// stored matrices is left.
func TestStoredMatrices(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{1, 13, 40} {
		a := spdDense(rng, n)
		src := filepath.Join(dir, "a.npy")
		if err := blockstore.WriteMatrixFile(src, a.RawMatrix()); err != nil {
			t.Fatal(err)
		}
		url := "file://" + dir + "/store/A"
		if _, err := PutNPY(ctx, src, url, 8); err != nil {
			t.Fatal(err)
		}
		for _, store := range []string{"file://" + dir + "/store", "mem://stored-test"} {
			eng, err := Open(ctx, Options{Store: store, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			A, err := eng.OpenMatrix(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			L, err := eng.Cholesky(ctx, A)
			if err != nil {
				t.Fatal(err)
			}
			for _, out := range []string{"file://" + dir + "/store/L", "file://" + dir + "/other/L"} {
				S, err := L.Save(ctx, out)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, "l.npy")
				if _, err := GetNPY(ctx, out, path); err != nil {
					t.Fatal(err)
				}
				arr, err := blockstore.ReadNPYFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if r := choleskyError(a, mat.NewDense(n, n, arr.Data)); r > 30 {
					t.Errorf("n=%d, store %s, %s: residual %.3g", n, store, out, r)
				}
				var stream bytes.Buffer
				if err := S.WriteNPY(ctx, &stream); err != nil || !bytes.Equal(stream.Bytes(), blockstore.EncodeNPY([]int{n, n}, arr.Data)) {
					t.Errorf("WriteNPY differs from GetNPY (%v)", err)
				}
				S.Release(ctx) // a stored matrix stays
				if _, err := Stat(ctx, out); err != nil {
					t.Errorf("a released stored matrix is gone: %v", err)
				}
			}
			L.Release(ctx)
			eng.Close()
			if found, _ := List(ctx, "file://"+dir+"/store"); len(found) != 2 {
				t.Errorf("store %s: the store holds %+v, want A and L", store, found)
			}
		}
		for _, u := range []string{url, "file://" + dir + "/store/L", "file://" + dir + "/other/L"} {
			if err := Remove(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		if found, err := List(ctx, "file://"+dir); err != nil || len(found) != 0 {
			t.Errorf("after rm: %+v %v", found, err)
		}
	}
}

// A stored matrix of another block is cut into the job's tiles; a
// matrix with missing tiles (zeros) is copied, not read in place.
func TestStoredReblock(t *testing.T) {
	ctx := context.Background()
	eng, err := Open(ctx, Options{Store: "mem://reblock-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	rng := rand.New(rand.NewPCG(5, 5))
	a, b := randDense(rng, 30, 17), randDense(rng, 17, 11)
	A, _ := eng.Upload(ctx, "A", a, 8)
	B, _ := eng.Upload(ctx, "B", b, 8)
	SA, err := A.Save(ctx, "mem://reblock-test/m/A")
	if err != nil {
		t.Fatal(err)
	}
	B5, err := B.Reblock(ctx, "B5", 5)
	if err != nil {
		t.Fatal(err)
	}
	B8, err := B5.Reblock(ctx, "B8", 8)
	if err != nil {
		t.Fatal(err)
	}
	C, err := eng.GEMM(ctx, SA, B8)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := C.Dense(ctx)
	var ab mat.Dense
	ab.Mul(a, b)
	if !mat.EqualApprox(c, &ab, 1e-12) {
		t.Error("C ≠ AB")
	}
	if _, err := B5.Save(ctx, "mem://reblock-test/m/../x"); err == nil || !strings.Contains(err.Error(), "want file:///dir/name") {
		t.Errorf("a URL with .. saved: %v", err)
	}
	if _, err := eng.OpenMatrix(ctx, "mem://reblock-test/m/none"); err == nil || !strings.Contains(err.Error(), "no such matrix") {
		t.Errorf("opening nothing: %v", err)
	}
}
