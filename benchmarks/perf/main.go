// Command perf regenerates the performance tables of benchmarks/README.md:
// npw bench for each algorithm and size on the memory services and, when
// the local cloud is up, on MinIO + fauxqs + Redis with worker processes;
// then pipelining on and off and a block-size sweep. The main table uses
// --block auto and --reference all: every memory row is one npw bench run
// with npw, gonum's LAPACK and the peers (SciPy on OpenBLAS, ScaLAPACK,
// Dask) timed one after the other, and its ratio is npw's time over the
// strongest of them; a local-cloud row is set against the strongest
// reference of the memory row above it.
//
//	eval "$(scripts/local-cloud up)"    # optional: adds the cloud rows
//	go run ./benchmarks/perf > /tmp/perf.md  # n = 4096, 8192, 16384
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/npw-dev/npw"
	"github.com/npw-dev/npw/benchmarks/internal/exp"
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
	Continued        int     `json:"continued"`
	WorkerSeconds    float64 `json:"worker_seconds"`
	WorkerPeakRSS    float64 `json:"worker_peak_rss_mib"`
	RSSBound         float64 `json:"rss_bound_mib"`
	Strongest        string  `json:"strongest"`
	StrongestRatio   float64 `json:"strongest_ratio"`
	Metrics          struct {
		BytesRead int64 `json:"bytes_read"`
		CacheHits int64 `json:"cache_hits"`
	} `json:"metrics"`
}

func main() {
	sizes := flag.String("sizes", "4096,8192,16384", "matrix orders")
	algs := flag.String("algs", "cholesky,gemm,qr,lu", "algorithms")
	tags := flag.String("tags", "openblas", "build tags of npw (empty: pure Go)")
	sweepN := flag.Int("sweep-n", 8192, "order of the pipelining and block-size runs (0: skip them)")
	cloudMax := flag.Int("cloud-max", 16384, "largest order run on the local cloud")
	memory := flag.Bool("memory", true, "run the memory services' rows (false: only the local cloud's)")
	refs := flag.String("reference", "all", "npw bench --reference of the main table")
	flag.Parse()
	bin, err := exp.BuildNPW(*tags)
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(bin))
	cloud := os.Getenv("NPW_STORE") != "" && os.Getenv("NPW_QUEUE") != "" && os.Getenv("NPW_STATE") != ""

	fmt.Println("| algorithm | n | block | services | npw (s) | gonum (s) | strongest reference (s) | npw / strongest | npw GFLOP/s | of DGEMM peak | residual | tasks (continued) | GB read (tiles from caches) | worker peak RSS / target (MiB) |")
	fmt.Println("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, alg := range strings.Split(*algs, ",") {
		for _, s := range strings.Split(*sizes, ",") {
			n, err := strconv.Atoi(s)
			if err != nil {
				fatal(err)
			}
			var best peer
			if *memory {
				best = row(bin, "memory", alg, n, peer{}, "--reference", *refs, "--store", "mem://", "--queue", "mem://", "--state", "mem://")
			}
			if cloud && n <= *cloudMax {
				if best.secs > 0 {
					row(bin, "local cloud, processes", alg, n, best, "--no-reference", "--launch", "process")
				} else {
					row(bin, "local cloud, processes", alg, n, peer{}, "--reference", *refs, "--launch", "process")
				}
			}
		}
	}
	if *sweepN == 0 {
		return
	}
	fmt.Printf("\nPipelining, Cholesky n=%d, --block auto:\n\n", *sweepN)
	fmt.Println("| services | pipeline | block | npw (s) | reference (s) | ratio | npw GFLOP/s | worker-s | tasks (continued) | worker peak RSS / target (MiB) |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	services := []struct {
		name  string
		flags []string
	}{{"memory", []string{"--store", "mem://", "--queue", "mem://", "--state", "mem://"}}}
	if cloud {
		services = append(services, struct {
			name  string
			flags []string
		}{"local cloud, processes", []string{"--launch", "process"}})
	}
	for _, sv := range services {
		for _, p := range []int{1, 2, 3} {
			r, err := bench(bin, "cholesky", *sweepN, "auto", append([]string{"--pipeline", strconv.Itoa(p)}, sv.flags...)...)
			if err != nil {
				fmt.Printf("| %s | %d | failed: %v |\n", sv.name, p, err)
				continue
			}
			fmt.Printf("| %s | %d | %d | %.2f | %.2f | %.2f | %.1f | %.1f | %d (%d) | %s |\n", sv.name, p, r.Block, r.NPWSeconds, r.ReferenceSeconds, r.Ratio, r.NPWGflops, r.WorkerSeconds, r.Tasks, r.Continued, rss(r))
		}
	}
	fmt.Printf("\nBlock size, n=%d, memory services (auto picks %s):\n\n", *sweepN, autoBlocks(*sweepN))
	fmt.Println("| algorithm | block | tasks | npw (s) | reference (s) | ratio | npw GFLOP/s | of DGEMM peak |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, alg := range []string{"cholesky", "gemm"} {
		for _, b := range []int{256, 512, 1024, 2048, 4096} {
			r, err := bench(bin, alg, *sweepN, strconv.Itoa(b), "--store", "mem://", "--queue", "mem://", "--state", "mem://")
			if err != nil {
				fmt.Printf("| %s | %d | failed: %v |\n", alg, b, err)
				continue
			}
			fmt.Printf("| %s | %d | %d | %.2f | %.2f | %.2f | %.1f | %.0f%% |\n", alg, b, r.Tasks, r.NPWSeconds, r.ReferenceSeconds, r.Ratio, r.NPWGflops, 100*r.PeakFraction)
		}
	}
}

// autoBlocks says what --block auto picks for the sweep's algorithms on
// this machine's cores.
func autoBlocks(n int) string {
	var parts []string
	for _, alg := range []string{"cholesky", "gemm"} {
		parts = append(parts, fmt.Sprintf("%s %d", alg, npw.AutoBlock(alg, n, n, runtime.GOMAXPROCS(0), false)))
	}
	return strings.Join(parts, ", ")
}

// A peer is a reference's name and time.
type peer struct {
	name string
	secs float64
}

// row prints one line of the main table, the tile size --block auto, and
// returns the strongest reference: the run's own, or against, when its
// time is set, the one given.
func row(bin, services, alg string, n int, against peer, flags ...string) peer {
	r, err := bench(bin, alg, n, "auto", flags...)
	if err != nil {
		fmt.Printf("| %s | %d | auto | %s | failed: %v |\n", alg, n, services, err)
		return peer{}
	}
	best := against
	if best.secs == 0 && r.StrongestRatio > 0 {
		best = peer{r.Strongest, r.NPWSeconds / r.StrongestRatio}
	}
	gonum, strongest, ratio := "—", "—", "—"
	if r.ReferenceSeconds > 0 {
		gonum = fmt.Sprintf("%.2f", r.ReferenceSeconds)
	}
	if best.secs > 0 {
		strongest, ratio = fmt.Sprintf("%.2f (%s)", best.secs, best.name), fmt.Sprintf("%.2f", r.NPWSeconds/best.secs)
	}
	fmt.Printf("| %s | %d | %d | %s | %.2f | %s | %s | %s | %.1f | %.0f%% | %.2g | %d (%d) | %.2f (%d) | %s |\n", alg, n, r.Block, services,
		r.NPWSeconds, gonum, strongest, ratio, r.NPWGflops, 100*r.PeakFraction, r.Residual, r.Tasks, r.Continued,
		float64(r.Metrics.BytesRead)/1e9, r.Metrics.CacheHits, rss(r))
	return best
}

// rss is a worker process's peak RSS against its target, if measured.
func rss(r result) string {
	if r.WorkerPeakRSS == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f / %.0f", r.WorkerPeakRSS, r.RSSBound)
}

func bench(bin, alg string, n int, block string, flags ...string) (result, error) {
	var r result
	err := exp.NPWJSON(bin, append([]string{"bench", alg, "--n", strconv.Itoa(n), "--block", block, "--json"}, flags...), &r)
	return r, err
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "perf:", err)
	os.Exit(1)
}
