package main

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

// TestInv inverts SPD matrices with potri and general ones through LU,
// on ragged tiles, whole ones and one tile, verified by ‖AX − I‖, and
// refuses what has no inverse with one line.
func TestInv(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--n", "100", "--block", "32", "--spd"}, "inv 100×100, potri"},
		{[]string{"--n", "96", "--block", "32", "--spd"}, "inv 96×96, potri"},
		{[]string{"--n", "20", "--block", "32", "--spd"}, "inv 20×20, potri"},
		{[]string{"--n", "77", "--block", "32"}, "inv 77×77, LU with tournament pivoting"},
		{[]string{"--n", "20", "--block", "32"}, "inv 20×20, LU with tournament pivoting"},
	} {
		args := append([]string{"inv", "--verify", "-o", filepath.Join(dir, "x.npy")}, tc.args...)
		code, stdout, stderr := npw(t, args...)
		if code != 0 {
			t.Errorf("npw %v: exit %d: %s", args, code, stderr)
			continue
		}
		for _, w := range []string{tc.want, "‖AX − I‖/(‖A‖·‖X‖·n·ε) =", "(ok; exact, bound 30)"} {
			if !strings.Contains(stdout, w) {
				t.Errorf("npw %v: output lacks %q:\n%s", args, w, stdout)
			}
		}
	}
	rng := rand.New(rand.NewPCG(8, 8))
	wide := writeNPY(t, dir, "wide.npy", randomGaussian(rng, 3, 4))
	singular := randomGaussian(rng, 40, 40)
	copy(singular.Data[7*40:8*40], singular.Data[3*40:4*40]) // two equal rows
	sing := writeNPY(t, dir, "singular.npy", singular)
	gauss := writeNPY(t, dir, "gauss.npy", randomGaussian(rng, 40, 40))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"inv", wide}, "inv: the matrix must be square, got 3×4"},
		{[]string{"inv", sing, "--block", "16"}, "singular"},
		{[]string{"inv", gauss, "--block", "16", "--spd"}, "not positive definite"},
	} {
		code, _, stderr := npw(t, tc.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		last := lines[len(lines)-1]
		if code == 0 || !strings.Contains(last, tc.want) {
			t.Errorf("npw %v: exit %d, stderr %q, want a line with %q", tc.args, code, stderr, tc.want)
		}
	}
}
