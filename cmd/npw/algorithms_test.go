package main

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/npw-dev/npw/blockstore"
)

func TestAlgorithmCommands(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(30, 30))
	a := writeNPY(t, dir, "a.npy", randomGaussian(rng, 40, 40))
	tall := writeNPY(t, dir, "tall.npy", randomGaussian(rng, 50, 20))
	b := writeNPY(t, dir, "b.npy", randomGaussian(rng, 40, 2))
	bt := writeNPY(t, dir, "bt.npy", randomGaussian(rng, 50, 1))
	spd := writeNPY(t, dir, "spd.npy", randomSPD(rng, 40))
	p := filepath.Join(dir, "p.npy")
	s := filepath.Join(dir, "s.npy")
	w := filepath.Join(dir, "w.npy")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"qr", tall, "--block", "8", "--verify", "-o", filepath.Join(dir, "r.npy"), "--q", filepath.Join(dir, "q.npy")},
			[]string{"qr 50×20, block 8: done", "in 3 jobs: qr (", "generate (", "qr_apply_q (", "R → ", "(20×20)", "Q → ", "(50×20)", "‖A − QR‖", "‖QᵀQ − I‖"}},
		// 70×60 in tiles of 8 has 8 column tiles, at least 2 a worker: blocked
		{[]string{"qr", "--m", "70", "--n", "60", "--block", "8", "--workers", "2", "--verify", "-o", filepath.Join(dir, "r8.npy"), "--q", filepath.Join(dir, "q8.npy")},
			[]string{"qr 70×60, block 8: done", "in 3 jobs: geqrf (", "wy_apply_q (", "(ok", "‖A − QR‖", "‖QᵀQ − I‖"}},
		{[]string{"qr", tall, "--block", "8", "--compare"}, []string{"lapack64.Geqrf on the same input", "npw/reference = "}},
		{[]string{"svd", tall, "--block", "8", "--verify", "-o", s, "--compare"},
			[]string{"svd 50×20, block 8: done", "stack_t 3", "S → " + s + " (20 values, largest first)", "(ok; bound 1e-12)", "lapack64.Gesvd (values only)", "npw/reference = "}},
		// eigh reads a's lower triangle (its check too); 40 is 5 tiles of 8,
		// 37 is ragged, and 6 is one tile
		{[]string{"eigh", a, "--block", "8", "--verify", "--values", w, "--compare"},
			[]string{"eigh 40×40, block 8: done", "syr2k 20", "sband_values 1", "W → " + w + " (40 values, ascending)", "(ok; bound 1e-12)", "lapack64.Syev (values only)"}},
		{[]string{"eigh", "--n", "37", "--block", "8", "--verify", "--vectors", filepath.Join(dir, "v.npy"), "--compare"},
			[]string{"eigh 37×37, block 8: done", "in 3 jobs: sytrb (", "syevv (", "tri_vectors 5", "wy_apply_q (", "V → ", "(37×37)", "‖AV − VΛ‖", "‖VᵀV − I‖", "(ok; bound 1e-12)", "Syev (with vectors)"}},
		{[]string{"eigh", "--n", "6", "--block", "8", "--verify", "--vectors", filepath.Join(dir, "v6.npy")}, []string{"in 2 jobs: sytrb (", "‖AV − VΛ‖", "(ok; bound 1e-12)"}},
		{[]string{"eigh", "--n", "6", "--block", "8", "--verify", "-o", filepath.Join(dir, "w6.npy")}, []string{"(6 values, ascending)", "(ok; bound 1e-12)"}},
		{[]string{"svd", tall, "--block", "8", "--verify", "--u", filepath.Join(dir, "u.npy"), "--vt", filepath.Join(dir, "vt.npy"), "--compare"},
			[]string{"in 5 jobs: bdfac (", "svdv (", "bi_vectors 3", "wy_apply_q (", "transpose (", "U → ", "(50×20)", "VT → ", "(20×20)", "‖A − UΣVᵀ‖", "‖UᵀU − I‖", "‖VᵀV − I‖", "(ok; bound 1e-12)", "Gesvd (thin vectors)"}},
		{[]string{"svd", "--m", "13", "--n", "30", "--block", "8", "--verify", "--vt", filepath.Join(dir, "vtw.npy")}, []string{"svd 13×30, block 8: done", "(13×30)", "‖A − UΣVᵀ‖", "(ok; bound 1e-12)"}},
		{[]string{"svd", "--m", "7", "--n", "5", "--block", "8", "--verify", "--u", filepath.Join(dir, "u1.npy")}, []string{"(7×5)", "‖VᵀV − I‖", "(ok; bound 1e-12)"}},
		{[]string{"solve", a, b, "--block", "8", "--verify", "--compare"}, []string{"LU with tournament pivoting", "in 3 jobs", "‖AX − B‖", "lapack64.Getrf+Getrs"}},
		{[]string{"solve", spd, b, "--block", "8", "--spd", "--verify", "--compare"}, []string{"Cholesky", "chol 5, trsm", "solve_lower_t", "‖AX − B‖", "lapack64.Potrf+Potrs"}},
		{[]string{"solve", tall, bt, "--block", "8", "--verify", "--compare"}, []string{"least squares through QR", "‖Aᵀ(AX − B)‖", "lapack64.Gels"}},
		{[]string{"lu", a, "--block", "8", "--verify", "--p", p, "--compare"}, []string{"lu 40×40, block 8: done", "lu_pivots", "P → " + p, "‖A[P,:] − LU‖", "growth factor", "lapack64.Getrf on"}},
	} {
		code, stdout, stderr := npw(t, tc.args...)
		if code != 0 {
			t.Errorf("npw %v: exit %d\n%s", tc.args, code, stderr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("npw %v: output lacks %q:\n%s", tc.args[0], w, stdout)
			}
		}
		if strings.Contains(stdout, "TOO LARGE") {
			t.Errorf("npw %v: a check failed:\n%s", tc.args[0], stdout)
		}
	}
	perm, err := blockstore.ReadNPYFile(p)
	if err != nil || len(perm.Shape) != 1 || perm.Shape[0] != 40 {
		t.Fatalf("P.npy: %v, %v", perm.Shape, err)
	}
	ev, err := blockstore.ReadNPYFile(w)
	if err != nil || len(ev.Shape) != 1 || ev.Shape[0] != 40 || ev.Data[0] > ev.Data[39] {
		t.Fatalf("W.npy: %v %v, %v", ev.Shape, ev.Data, err)
	}
	sv, err := blockstore.ReadNPYFile(s)
	if err != nil || len(sv.Shape) != 1 || sv.Shape[0] != 20 || sv.Data[0] < sv.Data[19] {
		t.Fatalf("S.npy: %v %v, %v", sv.Shape, sv.Data, err)
	}
	// Bad input: one line, non-zero exit.
	singular := randomGaussian(rng, 16, 16)
	for i := range 16 {
		singular.Data[i*16+3] = singular.Data[i*16+9]
	}
	sing := writeNPY(t, dir, "sing.npy", singular)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"lu", tall}, "lu: the matrix must be square, got 50×20"},
		{[]string{"solve", a, bt}, "solve: B has 50 rows, A has 40"},
		{[]string{"solve", writeNPY(t, dir, "wide.npy", randomGaussian(rng, 10, 20)), writeNPY(t, dir, "b10.npy", randomGaussian(rng, 10, 1))}, "more columns than rows"},
		{[]string{"solve", tall, bt, "--spd"}, "solve: --spd needs a square A, got 50×20"},
		{[]string{"lu", sing, "--block", "8"}, "singular to working precision"},
		{[]string{"solve", sing, writeNPY(t, dir, "b16.npy", randomGaussian(rng, 16, 1)), "--block", "8"}, "singular to working precision"},
		{[]string{"svd"}, "give A.npy or sizes: --m and --n"},
		{[]string{"eigh", tall}, "eigh: the matrix must be square, got 50×20"},
		{[]string{"eigh", a, "--values", w, "-o", s}, "give --values or -o, not both"},
	} {
		code, _, stderr := npw(t, tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
			t.Errorf("npw %v: exit %d, stderr %q; want %q", tc.args, code, stderr, tc.want)
		}
	}
}
