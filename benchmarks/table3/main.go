// Command table3 reproduces Table 3 of the numpywren paper with npw's
// numbers: for Cholesky on N x N tiles (65k to 1M rows at block 4096), the
// task count, the time to compute the children and parents of every task
// with the implicit DAG, the compiled plan's size, and the time and memory
// of the brute-force enumeration that builds the explicit DAG instead.
//
//	go run ./benchmarks/table3 > benchmarks/table3.md
//
// It runs on one core (GOMAXPROCS=1) unless told otherwise, since the
// target is a single core.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/npw-dev/npw/analysis"
	lp "github.com/npw-dev/npw/lambdapack"
)

// paper holds Table 3 of the paper, by tiles per side (block 4096):
// full-DAG time (s), LAmbdaPACK time (s), DAG size (nodes), expanded DAG
// (MB), compiled program (MB).
var paper = map[int][5]string{
	16:  {"3.56", "0.019", "4k", "0.6", "0.027"},
	32:  {"4.02", "0.027", "32k", "4.6", "0.027"},
	64:  {"12.57", "0.065", "256k", "36.3", "0.027"},
	128: {"49.0", "0.15", "2M", "286", "0.027"},
	256: {"450", "0.44", "16M", "2270", "0.027"},
}

func main() {
	sizes := flag.String("n", "16,32,64,128,256", "tiles per side, comma-separated")
	oracleMax := flag.Int("oracle-max", 256, "largest N for which the brute-force oracle runs")
	procs := flag.Int("procs", 1, "GOMAXPROCS")
	flag.Parse()
	runtime.GOMAXPROCS(*procs)
	prog, err := lp.LoadProgram("cholesky")
	if err != nil {
		fatal(err)
	}
	fmt.Printf("Cholesky, block 4096; npw on %d core(s), %s, %s.\n\n", *procs, runtime.Version(), time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| N (tiles) | rows | tasks | edges | children+parents, all tasks (s) | per task (ns) | whole traversal (s) | fallbacks | plan (bytes) | brute-force oracle (s) | oracle heap (MB) | paper: full DAG (s) | paper: nodes | paper: expanded DAG (MB) | paper: program (MB) |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, field := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(field)
		if err != nil {
			fatal(fmt.Errorf("bad size %q", field))
		}
		plan, err := analysis.NewPlan(prog, map[string]lp.Value{"N": lp.Int(int64(n))})
		if err != nil {
			fatal(err)
		}
		sum, err := analysis.Summarize(plan)
		if err != nil {
			fatal(err)
		}
		oracleSecs, oracleMB := "-", "-"
		if n <= *oracleMax {
			secs, mb, err := timeOracle(plan, sum)
			if err != nil {
				fatal(err)
			}
			oracleSecs, oracleMB = fmt.Sprintf("%.2f", secs), fmt.Sprintf("%.0f", mb)
		}
		p := paper[n]
		fmt.Printf("| %d | %d | %d | %d | %.2f | %d | %.2f | %d | %d | %s | %s | %s | %s | %s | %s |\n",
			n, n*4096, sum.Nodes, sum.Edges, sum.SolveSeconds, sum.SolveNsPerNode, sum.TotalSeconds,
			sum.FallbackEnumerations, sum.PlanBytes, oracleSecs, oracleMB, p[0], p[2], p[3], p[4])
	}
}

// timeOracle builds the explicit DAG, checks that it has the summary's
// tasks and edges, and returns its build time and heap size.
func timeOracle(plan *analysis.Plan, sum *analysis.Summary) (float64, float64, error) {
	debug.FreeOSMemory()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	o, err := analysis.BuildOracle(plan, 0)
	if err != nil {
		return 0, 0, err
	}
	secs := time.Since(t0).Seconds()
	runtime.ReadMemStats(&after)
	if int64(o.Len()) != sum.Nodes || o.Edges() != sum.Edges {
		return 0, 0, fmt.Errorf("oracle has %d tasks and %d edges, the solver %d and %d", o.Len(), o.Edges(), sum.Nodes, sum.Edges)
	}
	mb := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	runtime.KeepAlive(o)
	return secs, mb, nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "table3:", err)
	os.Exit(1)
}
