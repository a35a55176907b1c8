// Command perf regenerates the performance tables of benchmarks/README.md:
// npw bench for each algorithm and size on the memory services and, when
// the local cloud is up, on MinIO + fauxqs + Redis with worker processes;
// then pipelining on and off and a block-size sweep. Every row is one npw
// bench run: npw and the single-node reference on the same matrix in the
// same process, so ratios are from one run.
//
//	eval "$(scripts/local-cloud up)"    # optional: adds the cloud rows
//	go run ./benchmarks/perf -sizes 4096,8192,16384 > /tmp/perf.md
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// result is the part of npw bench --json the tables show.
type result struct {
	Alg              string  `json:"alg"`
	N                int     `json:"n"`
	Block            int     `json:"block"`
	BLAS             string  `json:"blas"`
	Pipeline         int     `json:"pipeline"`
	NPWSeconds       float64 `json:"npw_seconds"`
	ReferenceSeconds float64 `json:"reference_seconds"`
	Ratio            float64 `json:"ratio"`
	NPWGflops        float64 `json:"npw_gflops"`
	PeakGflops       float64 `json:"peak_gflops"`
	PeakFraction     float64 `json:"peak_fraction"`
	Residual         float64 `json:"residual"`
	Tasks            int64   `json:"tasks"`
	WorkerSeconds    float64 `json:"worker_seconds"`
}

func main() {
	sizes := flag.String("sizes", "4096,8192,16384", "matrix orders")
	algs := flag.String("algs", "cholesky,gemm,qr,lu", "algorithms")
	tags := flag.String("tags", "openblas", "build tags of npw (empty: pure Go)")
	sweepN := flag.Int("sweep-n", 8192, "order of the pipelining and block-size runs (0: skip them)")
	flag.Parse()
	bin, err := build(*tags)
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(bin))
	cloud := os.Getenv("NPW_STORE") != "" && os.Getenv("NPW_QUEUE") != "" && os.Getenv("NPW_STATE") != ""

	fmt.Println("| algorithm | n | block | services | npw (s) | reference (s) | ratio | npw GFLOP/s | of DGEMM peak | residual |")
	fmt.Println("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
	for _, alg := range strings.Split(*algs, ",") {
		for _, s := range strings.Split(*sizes, ",") {
			n, err := strconv.Atoi(s)
			if err != nil {
				fatal(err)
			}
			block := blockFor(alg, n)
			mem := []string{"--store", "mem://", "--queue", "mem://", "--state", "mem://"}
			row(bin, "memory", alg, n, block, mem...)
			if cloud {
				row(bin, "local cloud, processes", alg, n, block, "--launch", "process")
			}
		}
	}
	if *sweepN == 0 {
		return
	}
	fmt.Printf("\nPipelining, Cholesky n=%d, memory services:\n\n", *sweepN)
	fmt.Println("| pipeline | block | npw (s) | reference (s) | ratio | npw GFLOP/s | worker-s |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|")
	for _, p := range []int{1, 2, 3} {
		r, err := bench(bin, "cholesky", *sweepN, 512, "--pipeline", strconv.Itoa(p), "--store", "mem://", "--queue", "mem://", "--state", "mem://")
		if err != nil {
			fmt.Printf("| %d | 512 | failed: %v |\n", p, err)
			continue
		}
		fmt.Printf("| %d | %d | %.2f | %.2f | %.2f | %.1f | %.1f |\n", p, r.Block, r.NPWSeconds, r.ReferenceSeconds, r.Ratio, r.NPWGflops, r.WorkerSeconds)
	}
	fmt.Printf("\nBlock size, n=%d, memory services:\n\n", *sweepN)
	fmt.Println("| algorithm | block | tasks | npw (s) | reference (s) | ratio | npw GFLOP/s |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, alg := range []string{"cholesky", "gemm"} {
		for _, b := range []int{256, 512, 1024, 2048} {
			r, err := bench(bin, alg, *sweepN, b, "--store", "mem://", "--queue", "mem://", "--state", "mem://")
			if err != nil {
				fmt.Printf("| %s | %d | failed: %v |\n", alg, b, err)
				continue
			}
			fmt.Printf("| %s | %d | %d | %.2f | %.2f | %.2f | %.1f |\n", alg, b, r.Tasks, r.NPWSeconds, r.ReferenceSeconds, r.Ratio, r.NPWGflops)
		}
	}
}

// blockFor is the tile size of the main table: large enough that a task
// runs at the BLAS's speed, small enough to leave parallelism.
func blockFor(alg string, n int) int {
	switch {
	case alg == "gemm":
		return max(n/4, 512)
	case n >= 16384:
		return 2048
	default:
		return 1024
	}
}

func row(bin, services, alg string, n, block int, flags ...string) {
	r, err := bench(bin, alg, n, block, flags...)
	if err != nil {
		fmt.Printf("| %s | %d | %d | %s | failed: %v |\n", alg, n, block, services, err)
		return
	}
	fmt.Printf("| %s | %d | %d | %s | %.2f | %.2f | %.2f | %.1f | %.0f%% | %.2g |\n", alg, n, block, services,
		r.NPWSeconds, r.ReferenceSeconds, r.Ratio, r.NPWGflops, 100*r.PeakFraction, r.Residual)
}

func bench(bin, alg string, n, block int, flags ...string) (result, error) {
	args := append([]string{"bench", alg, "--n", strconv.Itoa(n), "--block", strconv.Itoa(block), "--json"}, flags...)
	cmd := exec.Command(bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	fmt.Fprintf(os.Stderr, "perf: npw %s\n", strings.Join(args, " "))
	err := cmd.Run()
	var r result
	if jerr := json.Unmarshal(out.Bytes(), &r); jerr != nil {
		if err == nil {
			err = jerr
		}
		return r, fmt.Errorf("%v: %s", err, strings.TrimSpace(errOut.String()))
	}
	return r, err
}

func build(tags string) (string, error) {
	dir, err := os.MkdirTemp("", "npw-perf-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "npw")
	cmd := exec.Command("go", "build", "-tags", tags, "-o", bin, "./cmd/npw")
	cmd.Stderr = os.Stderr
	return bin, cmd.Run()
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "perf:", err)
	os.Exit(1)
}
