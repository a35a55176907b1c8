package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// python runs a Python script with NumPy and zarr-python (scripts/test
// installs Debian's python3-numpy and python3-zarr) in dir and returns
// its output.
func python(t *testing.T, dir, script string) string {
	t.Helper()
	py := os.Getenv("NPW_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	cmd := exec.Command(py, "-c", "import numpy as np, zarr\n"+script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s with numpy and zarr (scripts/test installs python3-numpy and python3-zarr): %v\n%s", py, err, out)
	}
	return string(out)
}

// Zarr arrays written by zarr-python — with its default compressor
// (Blosc, LZ4, byte shuffle) and uncompressed, in chunks equal to the
// block and not — go through npw cholesky, gemm and qr to Zarr and .npy
// results that NumPy and zarr-python check by scaled residuals.
func TestZarrThroughJobs(t *testing.T) {
	dir := t.TempDir()
	python(t, dir, `
rng = np.random.default_rng(5)
n, k = 150, 70
a = rng.uniform(-1, 1, (n, n)); a = (a + a.T) / 2; a[np.diag_indices(n)] = n
g = rng.standard_normal((n, k))
np.save('a.npy', a); np.save('g.npy', g)
zarr.save_array('spd_default.zarr', a, chunks=(32, 32))
z = zarr.open('spd_raw.zarr', mode='w', shape=a.shape, chunks=(40, 25), dtype='<f8', compressor=None); z[:] = a
zarr.save_array('g.zarr', g, chunks=(50, 50))
z = zarr.open('g_f4.zarr', mode='w', shape=g.shape, chunks=(32, 32), dtype='<f4', dimension_separator='/'); z[:] = g
`)
	url := func(name string) string { return "file://" + filepath.Join(dir, name) }
	for _, tc := range []struct {
		args   []string
		out    string // the result's name in dir
		verify string // Python: r is the scaled residual of the result x
	}{
		{[]string{"cholesky", url("spd_default.zarr")}, "l1", "a = np.load('a.npy'); r = np.linalg.norm(a - x @ x.T) / (np.linalg.norm(a) * a.shape[0] * 2.2e-16)"},
		{[]string{"cholesky", url("spd_raw.zarr"), "--block", "32"}, "l2", "a = np.load('a.npy'); r = np.linalg.norm(a - x @ x.T) / (np.linalg.norm(a) * a.shape[0] * 2.2e-16)"},
		{[]string{"gemm", url("spd_raw.zarr"), url("g.zarr"), "--block", "32"}, "c", "a = np.load('a.npy'); g = np.load('g.npy'); r = np.linalg.norm(x - a @ g) / (np.linalg.norm(a) * np.linalg.norm(g) * a.shape[0] * 2.2e-16)"},
		{[]string{"qr", url("g_f4.zarr"), "--block", "32"}, "r", "g = np.load('g.npy').astype(np.float32).astype(np.float64); r = np.linalg.norm(x.T @ x - g.T @ g) / (np.linalg.norm(g) ** 2 * g.shape[0] * 2.2e-16)"},
		// In the job's store: the workers read the chunks, and cut them
		// into tiles of another block, where they are (views); qr, which
		// writes into A, has them cut by a job of their own first.
		{[]string{"cholesky", url("spd_raw.zarr"), "--block", "32", "--store", url("")}, "l3", "a = np.load('a.npy'); r = np.linalg.norm(a - x @ x.T) / (np.linalg.norm(a) * a.shape[0] * 2.2e-16)"},
		{[]string{"gemm", url("spd_default.zarr"), url("g.zarr"), "--block", "32", "--store", url("")}, "c2", "a = np.load('a.npy'); g = np.load('g.npy'); r = np.linalg.norm(x - a @ g) / (np.linalg.norm(a) * np.linalg.norm(g) * a.shape[0] * 2.2e-16)"},
		{[]string{"qr", url("g_f4.zarr"), "--block", "32", "--store", url("")}, "r2", "g = np.load('g.npy').astype(np.float32).astype(np.float64); r = np.linalg.norm(x.T @ x - g.T @ g) / (np.linalg.norm(g) ** 2 * g.shape[0] * 2.2e-16)"},
	} {
		for _, ext := range []string{".zarr", ".npy"} {
			out := filepath.Join(dir, tc.out+ext)
			target := out
			if ext == ".zarr" {
				target = "file://" + out
			}
			args := append(append([]string(nil), tc.args...), "-o", target)
			code, stdout, stderr := npw(t, args...)
			if code != 0 {
				t.Fatalf("npw %v: exit %d\n%s%s", args, code, stdout, stderr)
			}
			if slices.Contains(args, "--store") && !strings.Contains(stdout, "inputs uploaded 0 B") {
				t.Errorf("npw %v: inputs in the store were uploaded:\n%s", args, stdout)
			}
			load := "x = np.load('" + out + "')"
			if ext == ".zarr" {
				load = "z = zarr.open('" + out + "', mode='r'); assert z.dtype == np.float64; x = z[:]"
			}
			got := strings.TrimSpace(python(t, dir, load+"\n"+tc.verify+"\nprint(r)"))
			if r, err := strconv.ParseFloat(got, 64); err != nil || !(r < 30) {
				t.Errorf("npw %v: residual checked by Python %q", args, got)
			}
		}
	}
}

// A .zarray npw cannot read, or that lies about the shape, is one clear
// line, before any job.
func TestZarrRefused(t *testing.T) {
	dir := t.TempDir()
	python(t, dir, `zarr.save_array('a.zarr', np.eye(40), chunks=(16, 16))`)
	meta := filepath.Join(dir, "a.zarr", ".zarray")
	good, err := os.ReadFile(meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"40", "20", "but " + "a.zarr/2.0 is stored"},
		{`"C"`, `"F"`, "order F: npw reads C-order Zarr arrays"},
		{`"lz4"`, `"zstd"`, `cname "zstd"`},
		{`"<f8"`, `"<c16"`, `dtype "<c16"`},
		{`"zarr_format": 2`, `"zarr_format": 3`, "zarr_format"},
		{"{", "[", ".zarray"},
	} {
		os.WriteFile(meta, []byte(strings.Replace(string(good), tc.from, tc.to, 1)), 0o644)
		code, _, stderr := npw(t, "cholesky", "file://"+filepath.Join(dir, "a.zarr"))
		if code != 1 || !strings.Contains(errorLine(stderr), tc.want) || strings.Contains(stderr, "started") {
			t.Errorf("%s → %s: exit %d, stderr %q, want %q", tc.from, tc.to, code, stderr, tc.want)
		}
	}
}
