package npw

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/job"
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

// getNPY reads the stored matrix at url through GetNPY and a .npy file.
func getNPY(t *testing.T, url string) blockstore.Array {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.npy")
	if _, err := GetNPY(context.Background(), url, path); err != nil {
		t.Fatal(err)
	}
	arr, err := blockstore.ReadNPYFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return arr
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
				arr := getNPY(t, out)
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
	B5, err := B.Reblock(5)
	if err != nil {
		t.Fatal(err)
	}
	A5, err := SA.Reblock(5)
	if err != nil {
		t.Fatal(err)
	}
	var ab mat.Dense
	ab.Mul(a, b)
	// Blocks 8 and 5 on tiles of 8: the workers cut the tiles they read.
	for _, in := range [][2]*Matrix{{SA, B}, {A5, B5}} {
		C, err := eng.GEMM(ctx, in[0], in[1])
		if err != nil {
			t.Fatal(err)
		}
		if C.Job.Uploaded != 0 {
			t.Errorf("block %d: the job uploaded %d bytes", C.Block, C.Job.Uploaded)
		}
		c, _ := C.Dense(ctx)
		if !mat.EqualApprox(c, &ab, 1e-12) {
			t.Errorf("block %d: C ≠ AB", C.Block)
		}
		C.Release(ctx)
	}
	B5.Release(ctx) // shares B's tiles: deletes nothing
	if d, err := B.Dense(ctx); err != nil || !mat.Equal(d, b) {
		t.Errorf("B after releasing B5: %v", err)
	}
	if _, err := B.Save(ctx, "mem://reblock-test/m/../x"); err == nil || !strings.Contains(err.Error(), "want file:///dir/name") {
		t.Errorf("a URL with .. saved: %v", err)
	}
	if _, err := eng.OpenMatrix(ctx, "mem://reblock-test/m/none"); err == nil || !strings.Contains(err.Error(), "no such matrix") {
		t.Errorf("opening nothing: %v", err)
	}
}

// A program that writes into its input's grid gets the input as tiles of
// its own: from a stored matrix of another block, the workers cut them in
// a job of their own (retile.lp), and the stored tiles stay as they were.
func TestReblockedInputWrittenInto(t *testing.T) {
	ctx := context.Background()
	var jobs []string
	eng, err := Open(ctx, Options{Store: "mem://cut-test", OnJob: func(r *job.Result) { jobs = append(jobs, r.Program) }})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	a := randDense(rand.New(rand.NewPCG(6, 6)), 12, 8)
	A, _ := eng.Upload(ctx, "A", a, 3)
	S, err := A.Save(ctx, "mem://cut-test/m/A")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := S.Dense(ctx)
	A4, _ := S.Reblock(4)
	dir := t.TempDir()
	prog := filepath.Join(dir, "grow.lp")
	os.WriteFile(prog, []byte(`
def grow(A: BigMatrix, O: BigMatrix, N: int):
    for j in range(0, N):
        A[j, 1] = scale(A[j, 0], 2.0)
        O[j, 0] = add(A[j, 1], A[j, 0])
`), 0o644)
	res, err := eng.Run(ctx, prog, map[string]int{"N": 3}, 4, map[string]*Matrix{"A": A4}, "O")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(jobs, []string{"retile", "grow"}) || res.Uploaded != 0 {
		t.Errorf("jobs %v, %d bytes uploaded; want the retile job, then grow, and nothing uploaded", jobs, res.Uploaded)
	}
	O, err := eng.Output(ctx, res, "O", nil)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := O.Dense(ctx)
	for i := range 12 {
		for j := range 4 {
			if got, want := o.At(i, j), 3*a.At(i, j); math.Abs(got-want) > 1e-15*math.Abs(want) {
				t.Fatalf("O[%d,%d] = %g, want %g", i, j, got, want)
			}
		}
	}
	if after, _ := S.Dense(ctx); !mat.Equal(before, after) {
		t.Error("the job wrote into the stored matrix")
	}
	eng.Release(ctx, res)
	if keys, _ := eng.Tiles().List(ctx, "jobs/"); len(keys) != 0 {
		t.Errorf("tiles left: %v", keys)
	}
}

// A matrix saved as a Zarr array in the engine's store is encoded and
// written chunk by chunk by the workers, in a job of its own; saved to
// another store, by this process. Both arrays hold the same chunks, read
// back as the factor, and nothing else is left.
func TestSaveZarrOnWorkers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{1, 13, 40} {
		var programs []string
		eng, err := Open(ctx, Options{Store: "file://" + dir + "/store", Workers: 2,
			OnJob: func(r *job.Result) { programs = append(programs, r.Program) }})
		if err != nil {
			t.Fatal(err)
		}
		a := spdDense(rng, n)
		A, err := eng.Upload(ctx, "A", a, 8)
		if err != nil {
			t.Fatal(err)
		}
		L, err := eng.Cholesky(ctx, A)
		if err != nil {
			t.Fatal(err)
		}
		programs = nil
		here, there := "file://"+dir+"/store/L.zarr", "file://"+dir+"/other/L.zarr"
		for _, out := range []string{here, there} {
			S, err := L.Save(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			S.Release(ctx)
		}
		if !slices.Equal(programs, []string{"retile"}) {
			t.Errorf("n=%d: saving ran the jobs %v, want one retile job (for the array in the engine's store)", n, programs)
		}
		for _, out := range []string{here, there} {
			if r := choleskyError(a, mat.NewDense(n, n, getNPY(t, out).Data)); r > 30 {
				t.Errorf("n=%d, %s: residual %.3g", n, out, r)
			}
		}
		for _, chunk := range []string{".zarray", "0.0", "0.1"} {
			x, err1 := os.ReadFile(filepath.Join(dir, "store", "L.zarr", chunk))
			y, err2 := os.ReadFile(filepath.Join(dir, "other", "L.zarr", chunk))
			if (err1 == nil) != (err2 == nil) || !bytes.Equal(x, y) {
				t.Errorf("n=%d: chunk %s differs between the workers' array and this process's (%v, %v)", n, chunk, err1, err2)
			}
		}
		L.Release(ctx)
		A.Release(ctx)
		eng.Close()
		for _, u := range []string{here, there} {
			if err := Remove(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		if found, err := List(ctx, "file://"+dir); err != nil || len(found) != 0 {
			t.Errorf("n=%d: left behind: %+v %v", n, found, err)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "store", "*")); len(left) != 0 {
			t.Errorf("n=%d: files left in the store: %v", n, left)
		}
	}
}
