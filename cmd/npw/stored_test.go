package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Matrices stored at URLs: put, ls, a Cholesky from and to the store
// (read in place, nothing uploaded), a QR and a solve reading a stored
// matrix, run with --in and --out URLs, get, rm; the store holds only
// what was stored.
func TestStoredCommands(t *testing.T) {
	dir := t.TempDir()
	store := "file://" + dir + "/store"
	rng := rand.New(rand.NewPCG(7, 7))
	a := writeNPY(t, dir, "a.npy", randomSPD(rng, 45))
	b := writeNPY(t, dir, "b.npy", randomGaussian(rng, 45, 3))
	steps := []struct {
		args []string
		want []string
	}{
		{[]string{"put", a, store + "/A", "--block", "16"}, []string{a + " → " + store + "/A: 45×45 in blocks of 16"}},
		{[]string{"put", b, store + "/B", "--block", "16"}, []string{"45×3 in blocks of 16"}},
		{[]string{"ls", store}, []string{store + "/A  45×45  16     16.2 KB", store + "/B"}},
		{[]string{"cholesky", store + "/A", "-o", store + "/L", "--store", store, "--verify"},
			[]string{"cholesky 45×45, block 16: done", "inputs uploaded 0 B", "O → " + store + "/L (45×45, block 16, stored)", "(ok; exact"}},
		{[]string{"qr", store + "/A", "--block", "8", "--verify", "-o", filepath.Join(dir, "r.npy")}, []string{"qr 45×45, block 8: done", "(ok; exact"}},
		{[]string{"solve", store + "/A", b, "--spd", "--verify", "-o", store + "/X"}, []string{"solve 45×45 with 3 right-hand sides, Cholesky, block 16", "(ok; exact"}},
		{[]string{"run", "cholesky", "N=3", "--in", "S=" + store + "/A", "--out", "O=" + store + "/L2", "--block", "16", "--store", store}, []string{"O → " + store + "/L2 (45×45, block 16, stored)"}},
		{[]string{"get", store + "/L", filepath.Join(dir, "l.npy")}, []string{"45×45 in blocks of 16"}},
		{[]string{"get", store + "/L2", filepath.Join(dir, "l2.npy")}, []string{"45×45 in blocks of 16"}},
		{[]string{"rm", store + "/A", store + "/B", store + "/L", store + "/L2", store + "/X"}, []string{"removed " + store + "/X"}},
	}
	for _, s := range steps {
		code, stdout, stderr := npw(t, s.args...)
		if code != 0 || !onlyAnnouncements(stderr) {
			t.Fatalf("npw %v: exit %d\n%s%s", s.args, code, stdout, stderr)
		}
		for _, w := range s.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("npw %v: output lacks %q:\n%s", s.args, w, stdout)
			}
		}
	}
	l, l2 := readNPY(t, filepath.Join(dir, "l.npy")), readNPY(t, filepath.Join(dir, "l2.npy"))
	if !slices.Equal(l.Data, l2.Data) {
		t.Error("npw cholesky and npw run cholesky stored different factors")
	}
	if r := choleskyResidual(readNPY(t, a), l); !(r.value <= 30) {
		t.Errorf("stored L: residual %v", r)
	}
	if left, _ := os.ReadDir(dir + "/store"); len(left) != 0 {
		t.Errorf("the store holds %v after rm", left)
	}
}

// Bad URLs and stored matrices fail with one line each, before any job.
func TestStoredErrors(t *testing.T) {
	dir := t.TempDir()
	a := writeNPY(t, dir, "a.npy", randomSPD(rand.New(rand.NewPCG(8, 8)), 10))
	store := "file://" + dir + "/store"
	if code, _, stderr := npw(t, "put", a, store+"/A", "--block", "4"); code != 0 {
		t.Fatal(stderr)
	}
	meta := filepath.Join(dir, "store", "A", "matrix.json")
	good, _ := os.ReadFile(meta)
	for _, tc := range []struct {
		args []string
		meta string // matrix.json of A for this case, if not good
		code int
		want string
	}{
		{[]string{"get", store + "/none", filepath.Join(dir, "x.npy")}, "", 1, "no such matrix (no matrix.json)"},
		{[]string{"cholesky", "file:///no/such/dir/A"}, "", 1, "no such matrix (no directory /no/such/dir)"},
		{[]string{"cholesky", store + "/A"}, `{"format"`, 1, "corrupt matrix.json"},
		{[]string{"cholesky", store + "/A"}, strings.Replace(string(good), "10,", "7,", 1), 1, "tile 2_0 is stored"},
		{[]string{"cholesky", store + "/A"}, strings.Replace(string(good), "<f8", ">i2", 1), 1, `dtype ">i2"`},
		{[]string{"put", a, "a2.npy"}, "", 2, "the second argument must be a URL"},
		{[]string{"put", a, store + "/B", "--block", "0"}, "", 2, "--block must be positive"},
		{[]string{"put", filepath.Join(dir, "none.npy"), store + "/B"}, "", 1, "no such file"},
		{[]string{"get", store + "/A"}, "", 2, "get takes a URL and a file"},
		{[]string{"rm", store + "/none"}, "", 1, "no such matrix"},
		{[]string{"ls", dir}, "", 2, "want a URL"},
		{[]string{"gemm", store + "/A", "-o", "file:///"}, "", 2, "give two files"},
		{[]string{"cholesky", store + "/A", "-o", "s3:///x"}, "", 1, "-o: matrix URL"},
		{[]string{"cholesky", store + "/A", "-o", "s3://bucket/x?endpoint=http://127.0.0.1:1"}, "", 1, "-o: tile store"},
	} {
		os.WriteFile(meta, good, 0o644)
		if tc.meta != "" {
			os.WriteFile(meta, []byte(tc.meta), 0o644)
		}
		code, _, stderr := npw(t, tc.args...)
		first := errorLine(stderr)
		if code != tc.code || !strings.Contains(first, tc.want) {
			t.Errorf("npw %v: exit %d, want %d; stderr %q, want %q", tc.args, code, tc.code, stderr, tc.want)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "store")); len(left) != 1 {
		t.Errorf("the store holds %v, want A alone", left)
	}
}
