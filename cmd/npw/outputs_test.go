package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Every output path is checked before anything runs: a file that cannot
// be written fails the command at once with one line and exit 1, and
// nothing — neither the other outputs nor the bad one — is written.
func TestOutputPathsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(70, 70))
	a := writeNPY(t, dir, "a.npy", randomGaussian(rng, 40, 40))
	spd := writeNPY(t, dir, "spd.npy", randomSPD(rng, 16))
	missing := filepath.Join(dir, "no", "such", "dir")
	good := func(name string) string { return filepath.Join(dir, "out", name) }
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	aDir := filepath.Join(dir, "out", "a-dir")
	if err := os.Mkdir(aDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string // regexp of the one stderr line
	}{
		{"cholesky -o", []string{"cholesky", "--n", "2048", "--block", "256", "-o", missing + "/l.npy"},
			`^npw: -o \S+/no/such/dir/l.npy: no directory \S+/no/such/dir$`},
		{"qr --q", []string{"qr", a, "--block", "8", "-o", good("r.npy"), "--q", missing + "/q.npy"}, `^npw: --q \S+/q.npy: no directory`},
		{"lu --u", []string{"lu", a, "--block", "8", "--l", good("l.npy"), "--u", missing + "/u.npy", "--p", good("p.npy")}, `^npw: --u \S+/u.npy: no directory`},
		{"lu --p into a directory", []string{"lu", a, "--block", "8", "--l", good("l.npy"), "--p", aDir}, `^npw: --p \S+/a-dir: a directory is in the way$`},
		{"solve -o", []string{"solve", "--n", "40", "--block", "8", "-o", missing + "/x.npy"}, `^npw: -o \S+/x.npy: no directory`},
		{"svd -o under a file", []string{"svd", a, "--block", "8", "-o", a + "/s.npy"}, `^npw: -o \S+/a.npy/s.npy: \S+/a.npy is not a directory$`},
		{"gemm --timeline", []string{"gemm", "--m", "40", "--k", "40", "--n", "40", "--block", "8", "-o", good("c.npy"), "--timeline", missing + "/t.csv"}, `^npw: --timeline \S+/t.csv: no directory`},
		{"tsqr --trace", []string{"tsqr", "--m", "80", "--n", "4", "--block", "8", "-o", good("r2.npy"), "--trace", missing + "/t.csv"}, `^npw: --trace \S+/t.csv: no directory`},
		{"run --out", []string{"run", "cholesky", "N=2", "--in", "S=" + spd, "--block", "8", "--out", "O=" + good("o.npy"), "--out", "S[1]=" + missing + "/s.npy"}, `^npw: --out \S+/s.npy: no directory`},
		{"bench --cpuprofile", []string{"bench", "cholesky", "--n", "2048", "--block", "256", "--peak-n", "0", "--cpuprofile", missing + "/cpu.pprof"}, `^npw: --cpuprofile \S+/cpu.pprof: no directory`},
		{"dag --dot", []string{"dag", "cholesky", "N=4", "--dot", missing + "/g.dot"}, `^npw: --dot \S+/g.dot: no directory`},
		{"deploy --zip", []string{"deploy", "lambda", "--zip", missing + "/npw.zip", "--binary", os.Args[0]}, `^npw: --zip \S+/npw.zip: no directory`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, stdout, stderr := npw(t, tc.args...)
			if code != exitFailure || stdout != "" {
				t.Errorf("exit %d, want %d; stdout %q", code, exitFailure, stdout)
			}
			if lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n"); len(lines) != 1 || !regexp.MustCompile(tc.want).MatchString(lines[0]) {
				t.Errorf("stderr %q, want one line matching %q", stderr, tc.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v to refuse: the command ran before checking its outputs", d)
			}
			if left, _ := os.ReadDir(filepath.Join(dir, "out")); len(left) != 1 {
				t.Errorf("files written: %v", left)
			}
		})
	}
}

// The check leaves files as they are: an existing output is not
// truncated when the command then fails, and a new one is not created.
func TestOutputCheckWritesNothing(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(71, 71))
	wide := writeNPY(t, dir, "wide.npy", randomGaussian(rng, 3, 4))
	existing := filepath.Join(dir, "l.npy")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "fresh.csv")
	code, _, stderr := npw(t, "cholesky", wide, "-o", existing, "--timeline", fresh)
	if code != exitFailure || !strings.Contains(stderr, "cholesky needs a square matrix") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if data, err := os.ReadFile(existing); err != nil || !bytes.Equal(data, []byte("keep me")) {
		t.Errorf("the existing output was changed: %q, %v", data, err)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("the check left %s behind: %v", fresh, err)
	}
}
