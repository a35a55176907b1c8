// Package peers runs the single-machine peers npw's benchmarks measure
// themselves against, each in a process of its own, timed around its call
// alone: OpenBLAS's own LAPACK through SciPy and NumPy on all cores,
// ScaLAPACK (Debian's libscalapack-openmpi) on one MPI rank per core, and
// Dask array on the threaded scheduler. Each draws its random n×n input
// from the same distribution as `npw bench` (uniform in [-1, 1], n added to
// the diagonal of a symmetric one for Cholesky), so the flops and the
// memory traffic are those of npw's input; the values differ.
//
// Install puts the Debian packages in place when they are missing; New
// builds the ScaLAPACK program with mpicc and writes the Python script
// into a directory of the caller's.
package peers

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

//go:embed src/scalapack.c
var scalapackC []byte

//go:embed src/peers.py
var peersPy []byte

// Python is the interpreter of the Python peers: Debian's, whose
// python3-scipy and python3-dask Install puts in place.
const Python = "/usr/bin/python3"

// The peers.
const (
	OpenBLAS  = "openblas"  // scipy.linalg and numpy over OpenBLAS, all cores
	ScaLAPACK = "scalapack" // pdpotrf, pdgemm, pdgeqrf, pdgetrf on 1×cores MPI ranks
	Dask      = "dask"      // dask.array on the threaded scheduler
)

// All are the peers, in the order reports list them.
var All = []string{OpenBLAS, ScaLAPACK, Dask}

// Has reports whether the peer has the operation (cholesky, gemm, qr, lu
// or svd, values only) for a square matrix.
func Has(peer, op string) bool {
	switch peer {
	case OpenBLAS:
		return slices.Contains([]string{"cholesky", "gemm", "qr", "lu", "svd"}, op)
	case ScaLAPACK:
		return scalapackOp[op] != ""
	case Dask:
		return slices.Contains([]string{"cholesky", "gemm", "lu"}, op)
	}
	return false
}

var scalapackOp = map[string]string{"cholesky": "potrf", "gemm": "gemm", "qr": "geqrf", "lu": "getrf"}

// Describe says what a peer runs for op, for reports.
func Describe(peer, op string, nb, chunk int) string {
	switch peer {
	case OpenBLAS:
		call := map[string]string{"cholesky": "scipy.linalg.cholesky", "gemm": "numpy.matmul", "qr": "scipy.linalg.qr, R only",
			"lu": "scipy.linalg.lu_factor", "svd": "scipy.linalg.svd, values only"}[op]
		return call + ", OpenBLAS on all cores"
	case ScaLAPACK:
		return fmt.Sprintf("pd%s, %d MPI ranks, block %d", scalapackOp[op], runtime.NumCPU(), nb)
	case Dask:
		call := map[string]string{"cholesky": "linalg.cholesky", "gemm": "matmul", "lu": "linalg.lu"}[op]
		return fmt.Sprintf("dask.array %s, chunks %d, threaded scheduler", call, chunk)
	}
	return peer
}

// packages are the Debian packages each peer needs, with a probe that
// succeeds when the package is in place.
var packages = map[string][]struct {
	pkg   string
	probe []string
}{
	OpenBLAS: {
		{"libopenblas-dev", []string{"dpkg", "-s", "libopenblas-dev"}},
		{"python3-scipy", []string{Python, "-c", "import scipy.linalg"}},
	},
	ScaLAPACK: {
		{"libscalapack-openmpi-dev", []string{"dpkg", "-s", "libscalapack-openmpi-dev"}},
		{"openmpi-bin", []string{"mpirun", "--version"}},
		{"libopenmpi-dev", []string{"dpkg", "-s", "libopenmpi-dev"}},
		{"libopenblas-dev", []string{"dpkg", "-s", "libopenblas-dev"}},
	},
	Dask: {
		{"python3-dask", []string{Python, "-c", "import dask.array"}},
	},
}

// Install installs the Debian packages the peers need that are missing,
// saying which on log.
func Install(peers []string, log io.Writer) error {
	var missing []string
	for _, p := range peers {
		for _, d := range packages[p] {
			cmd := exec.Command(d.probe[0], d.probe[1:]...)
			cmd.Dir = "/" // not a checkout: npw's zarr/ would shadow zarr-python
			if cmd.Run() != nil && !slices.Contains(missing, d.pkg) {
				missing = append(missing, d.pkg)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	fmt.Fprintln(log, "installing", strings.Join(missing, " "), "for the peers")
	args := append([]string{"install", "-y", "-q"}, missing...)
	if exec.Command("apt-get", args...).Run() != nil {
		if out, err := exec.Command("apt-get", "update", "-q").CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get update: %w\n%s", err, out)
		}
		if out, err := exec.Command("apt-get", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get install %s: %w\n%s", strings.Join(missing, " "), err, out)
		}
	}
	return nil
}

// A Runner times peers.
type Runner struct {
	scalapack, script string
	// NB is ScaLAPACK's block (default 256), Chunk Dask's (default 1024).
	NB, Chunk int
}

// New prepares the peers in dir: the ScaLAPACK program, built with mpicc
// when ScaLAPACK is among them, and the Python script.
func New(dir string, peers []string) (*Runner, error) {
	r := &Runner{script: filepath.Join(dir, "peers.py"), NB: 256, Chunk: 1024}
	if err := os.WriteFile(r.script, peersPy, 0o644); err != nil {
		return nil, err
	}
	if slices.Contains(peers, ScaLAPACK) {
		src := filepath.Join(dir, "scalapack.c")
		r.scalapack = filepath.Join(dir, "scalapack")
		if err := os.WriteFile(src, scalapackC, 0o644); err != nil {
			return nil, err
		}
		if out, err := exec.Command("mpicc", "-O2", src, "-o", r.scalapack, "-lscalapack-openmpi", "-lopenblas", "-lm").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building the ScaLAPACK program: mpicc: %w\n%s", err, out)
		}
	}
	return r, nil
}

// A Timing is one peer's run of one operation.
type Timing struct {
	Seconds    float64 // wall time of the call alone
	CPUSeconds float64 // CPU time of all the peer's threads and ranks over the call
}

// ErrNoOperation is the error of a peer without the operation.
var ErrNoOperation = errors.New("the peer has no such operation")

var secondsRE = regexp.MustCompile(`(?m)^seconds ([\d.]+) cpu ([\d.]+)$`)

// Time runs op on an n×n matrix with the peer.
func (r *Runner) Time(peer, op string, n int) (Timing, error) {
	if !Has(peer, op) {
		return Timing{}, fmt.Errorf("%s %s: %w", peer, op, ErrNoOperation)
	}
	cores := strconv.Itoa(runtime.NumCPU())
	var cmd *exec.Cmd
	threads := cores
	switch peer {
	case ScaLAPACK:
		if r.scalapack == "" {
			return Timing{}, errors.New("the runner was not prepared for ScaLAPACK")
		}
		cmd = exec.Command("mpirun", "--allow-run-as-root", "--oversubscribe", "-np", cores, r.scalapack, scalapackOp[op], strconv.Itoa(n), strconv.Itoa(r.NB))
		threads = "1" // a rank per core
	case OpenBLAS:
		cmd = exec.Command(Python, r.script, "numpy", op, strconv.Itoa(n))
	case Dask:
		cmd = exec.Command(Python, r.script, "dask", op, strconv.Itoa(n), strconv.Itoa(r.Chunk), cores)
	}
	cmd.Dir = "/" // not a checkout: npw's zarr/ would shadow zarr-python
	// Open MPI's single-copy transport needs ptrace rights containers
	// often lack; the shared-memory copy works everywhere.
	cmd.Env = append(os.Environ(), "OPENBLAS_NUM_THREADS="+threads, "OMPI_MCA_btl_vader_single_copy_mechanism=none")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		return Timing{}, fmt.Errorf("%s %s: %w: %s", peer, op, err, msg)
	}
	m := secondsRE.FindSubmatch(out)
	if m == nil {
		return Timing{}, fmt.Errorf("%s %s printed no time: %s", peer, op, out)
	}
	var t Timing
	t.Seconds, _ = strconv.ParseFloat(string(m[1]), 64)
	t.CPUSeconds, _ = strconv.ParseFloat(string(m[2]), 64)
	return t, nil
}
