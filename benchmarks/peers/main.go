// Command peers sets npw against the strongest single-machine peers on
// this machine, the paper's Tables 1 and 2 made local: ScaLAPACK
// (Debian's libscalapack-openmpi, 2 MPI ranks on a 1×2 grid), NumPy/SciPy
// (OpenBLAS's own LAPACK on both cores), Dask array (threaded scheduler,
// 2 threads) and gonum LAPACK over OpenBLAS, for Cholesky, GEMM, QR, LU
// and the SVD's values, timed on the same sizes one after the other.
// npw and gonum come from `npw bench ALG --json` (one run, the same
// input) on npw's OpenBLAS build, the SVD from `npw svd --compare`; each
// peer runs in a process of its own, timed around its call alone, wall
// time and CPU time (core-seconds). It installs the peers (Debian
// packages) when they are missing.
//
//	go run ./benchmarks/peers                            # n = 4096, 8192: 7.5 min
//	go run ./benchmarks/peers -n 16384 -ops cholesky,lu  # 8 min
//	go run ./benchmarks/peers -n 16384 -ops gemm         # 11 min
//	go run ./benchmarks/peers -n 16384 -ops qr           # 8 min
//	go run ./benchmarks/peers -ops qr -block auto        # npw.AutoBlock's tiles
//
// It writes benchmarks/results/peers.md, or, for other sizes or
// operations, peers-SIZES-OPS.md (peers-16384-qr.md): all five
// operations at three sizes take over 25 minutes on two cores, so the
// largest size is split in runs of at most 15.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/npw-dev/npw/benchmarks/internal/exp"
	"github.com/npw-dev/npw/internal/peers"
)

// A timing is one peer's run: wall seconds, and core-seconds (the
// process's user and system CPU time) when known.
type timing struct {
	secs, cpu float64
	err       error
}

func (t timing) cell() string {
	if t.err != nil {
		return "failed"
	}
	if t.secs == 0 {
		return "—"
	}
	if t.cpu == 0 {
		return fmt.Sprintf("%.2f", t.secs)
	}
	return fmt.Sprintf("%.2f (%.1f)", t.secs, t.cpu)
}

func main() {
	sizes := flag.String("n", defaultSizes, "orders of the matrices")
	ops := flag.String("ops", defaultOps, "operations")
	svdMax := flag.Int("svd-max", 4096, "largest order of the SVD")
	nb := flag.Int("nb", 256, "ScaLAPACK's block")
	chunk := flag.Int("chunk", 1024, "Dask's chunk")
	block := flag.String("block", "1024", "npw's tile size, a number or auto (npw.AutoBlock)")
	flag.Parse()
	began := time.Now()
	dir, err := exp.Results()
	if err != nil {
		exp.Fatal(err)
	}
	if err := peers.Install(peers.All, os.Stderr); err != nil {
		exp.Fatal(err)
	}
	work, err := os.MkdirTemp("", "npw-peers-")
	if err != nil {
		exp.Fatal(err)
	}
	defer os.RemoveAll(work)
	npw, err := build(work)
	if err != nil {
		exp.Fatal(err)
	}
	run, err := peers.New(work, peers.All)
	if err != nil {
		exp.Fatal(err)
	}
	run.NB, run.Chunk = *nb, *chunk
	peer := func(name, op string, n int) timing {
		t, err := run.Time(name, op, n)
		if errors.Is(err, peers.ErrNoOperation) {
			return timing{}
		}
		return timing{secs: t.Seconds, cpu: t.CPUSeconds, err: err}
	}
	t := exp.Table{Head: []string{"operation", "n", "npw", "ScaLAPACK (2 ranks)", "NumPy/SciPy", "Dask array", "gonum LAPACK", "npw / strongest peer", "strongest peer"}}
	type job struct {
		op string
		n  int
	}
	var jobs []job
	for _, n := range ints(*sizes) {
		for _, op := range strings.Split(*ops, ",") {
			if op != "svd" || n <= *svdMax {
				jobs = append(jobs, job{op, n})
			}
		}
	}
	for _, j := range jobs {
		var npwT, gonumT timing
		if j.op == "svd" {
			npwT, gonumT = runSVD(npw, j.n)
		} else {
			npwT, gonumT = runBench(npw, j.op, j.n, *block)
		}
		slT := peer(peers.ScaLAPACK, j.op, j.n)
		npT := peer(peers.OpenBLAS, j.op, j.n)
		daskT := peer(peers.Dask, j.op, j.n) // dask has no QR or SVD of a square matrix
		best, bestName := 0.0, ""
		for _, p := range []struct {
			name string
			t    timing
		}{{"ScaLAPACK", slT}, {"NumPy/SciPy", npT}, {"Dask", daskT}, {"gonum", gonumT}} {
			if p.t.err == nil && p.t.secs > 0 && (best == 0 || p.t.secs < best) {
				best, bestName = p.t.secs, p.name
			}
		}
		ratio := "—"
		if best > 0 && npwT.err == nil && npwT.secs > 0 {
			ratio = fmt.Sprintf("%.2f", npwT.secs/best)
		}
		t.Add(j.op, j.n, npwT.cell(), slT.cell(), npT.cell(), daskT.cell(), gonumT.cell(), ratio, bestName)
		fmt.Printf("%s %d: npw %s, ScaLAPACK %s, NumPy %s, Dask %s, gonum %s\n", j.op, j.n, npwT.cell(), slT.cell(), npT.cell(), daskT.cell(), gonumT.cell())
		for _, p := range []timing{npwT, slT, npT, daskT, gonumT} {
			if p.err != nil {
				fmt.Fprintln(os.Stderr, "peers:", j.op, j.n, p.err)
			}
		}
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# npw against its peers on this machine (the paper's Tables 1 and 2, made local)\n\n")
	fmt.Fprintf(&md, "`%s` on %s.\n\n", command(*sizes, *ops, *block), exp.Machine())
	fmt.Fprintf(&md, "Wall seconds of the operation alone, on one random n×n matrix (symmetric positive definite for Cholesky), every peer on both cores, one after the other; "+
		"in brackets the core-seconds over the call: the CPU time of all the peer's threads and ranks, and for npw its workers' lifetimes (worker-seconds, each worker a core). "+
		"npw: `npw bench ALG --block %s --json` on the OpenBLAS build (memory services, 2 goroutine workers; its time starts with the input in the store and ends with the result there), "+
		"the SVD's values from `npw svd --compare`; gonum LAPACK over OpenBLAS is bench's reference, in the same process run. "+
		"ScaLAPACK 2.2.1 (Debian's libscalapack-openmpi, OPENBLAS_NUM_THREADS=1): pdpotrf, pdgemm, pdgeqrf, pdgetrf on a 1×2 grid of Open MPI ranks, block %d. "+
		"NumPy/SciPy: scipy.linalg cholesky, qr (R only), lu_factor, svd (values), and numpy's matmul. Dask array: linalg.cholesky, matmul, linalg.lu, chunks of %d, threaded scheduler; "+
		"it has no QR or SVD of a square matrix. A dash is a peer without the operation.\n\n", *block, *nb, *chunk)
	md.WriteString(t.String())
	fmt.Fprintf(&md, "\nThe run took %.1f minutes, installing and building included.\n", time.Since(began).Minutes())
	if err := exp.WriteMarkdown(dir, resultName(*sizes, *ops), md.String()); err != nil {
		exp.Fatal(err)
	}
}

const (
	defaultSizes = "4096,8192"
	defaultOps   = "cholesky,gemm,qr,lu,svd"
)

// resultName names the table of a run: peers.md for the default sizes
// and operations, peers-SIZES-OPS.md otherwise.
func resultName(sizes, ops string) string {
	name := "peers"
	if sizes != defaultSizes {
		name += "-" + strings.ReplaceAll(sizes, ",", "-")
	}
	if ops != defaultOps {
		name += "-" + strings.ReplaceAll(ops, ",", "-")
	}
	return name + ".md"
}

// command is the command line of a run.
func command(sizes, ops, block string) string {
	c := "go run ./benchmarks/peers"
	if sizes != defaultSizes {
		c += " -n " + sizes
	}
	if ops != defaultOps {
		c += " -ops " + ops
	}
	if block != "1024" {
		c += " -block " + block
	}
	return c
}

// build builds npw's OpenBLAS binary into dir.
func build(dir string) (string, error) {
	npw := filepath.Join(dir, "npw")
	cmd := exec.Command("go", "build", "-tags", "openblas", "-o", npw, "./cmd/npw")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building npw: %w", err)
	}
	return npw, nil
}

// runBench runs npw bench, which times npw and gonum LAPACK on one input.
func runBench(npw, op string, n int, block string) (npwT, gonumT timing) {
	out, err := exec.Command(npw, "bench", op, "--n", strconv.Itoa(n), "--block", block, "--json").Output()
	if err != nil {
		return timing{err: fmt.Errorf("npw bench %s: %w", op, err)}, timing{err: err}
	}
	var r struct {
		NPW           float64 `json:"npw_seconds"`
		Ref           float64 `json:"reference_seconds"`
		WorkerSeconds float64 `json:"worker_seconds"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return timing{err: err}, timing{err: err}
	}
	return timing{secs: r.NPW, cpu: r.WorkerSeconds}, timing{secs: r.Ref}
}

var compareRE = regexp.MustCompile(`: ([\d.]+) s; npw/reference = ([\d.]+)`)

// runSVD runs npw svd --compare: npw's time is the reference's times the
// ratio it prints.
func runSVD(npw string, n int) (npwT, gonumT timing) {
	out, err := exec.Command(npw, "svd", "--m", strconv.Itoa(n), "--n", strconv.Itoa(n), "--compare", "--quiet").Output()
	if err != nil {
		return timing{err: fmt.Errorf("npw svd: %w", err)}, timing{err: err}
	}
	m := compareRE.FindSubmatch(out)
	if m == nil {
		return timing{err: fmt.Errorf("npw svd --compare printed no comparison: %s", out)}, timing{}
	}
	ref, _ := strconv.ParseFloat(string(m[1]), 64)
	ratio, _ := strconv.ParseFloat(string(m[2]), 64)
	return timing{secs: ref * ratio}, timing{secs: ref}
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v <= 0 {
			exp.Fatal(fmt.Errorf("bad order %q", f))
		}
		out = append(out, v)
	}
	return out
}
