package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/npw-dev/npw/analysis"
	lp "github.com/npw-dev/npw/lambdapack"
)

type dagOptions struct {
	prog     string
	args     map[string]lp.Value
	json     bool
	dot      string
	oracle   bool
	maxTasks int64
}

// maxDotTasks bounds --dot: a drawing of more tasks is unreadable.
const maxDotTasks = 100_000

func newDagCmd() *cobra.Command {
	var opts dagOptions
	cmd := &cobra.Command{
		Use:   "dag PROG NAME=VALUE ... [--json] [--dot FILE]",
		Short: "Describe a program's task DAG for given sizes",
		Long: `Dag visits every task of the program's implicit DAG, computing each
task's children and parents by solving index equations, as the workers
do at run time. It prints the number of tasks and edges, the starters and
terminators, the critical path and the parallelism profile (tasks ready
at each step with unlimited workers), the solver's time per task, and
the size of the compiled plan.

--json prints one JSON object instead. --dot writes the DAG in Graphviz
format (up to 100000 tasks). --oracle also builds the DAG by brute-force
enumeration, checks that it agrees, and reports its time.`,
		Example: `  npw dag cholesky N=8
  npw dag gemm M=4 N=4 K=8 G=2 --json
  npw dag tsqr N=16 --dot tsqr.dot`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.prog, opts.args, err = programArgs(args, true); err != nil {
				return err
			}
			return runDag(cmd.OutOrStdout(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.json, "json", false, "print one JSON object")
	f.StringVar(&opts.dot, "dot", "", "write the DAG as Graphviz to `FILE`")
	f.BoolVar(&opts.oracle, "oracle", false, "also enumerate the DAG by brute force, compare and time it")
	f.Int64Var(&opts.maxTasks, "max-tasks", analysis.DefaultMaxTasks, "most tasks to visit: a bigger program is refused before it starts")
	return cmd
}

// dagReport is the --json output.
type dagReport struct {
	Program string            `json:"program"`
	Args    map[string]string `json:"args"`
	*analysis.Summary
	OracleSeconds *float64 `json:"oracle_seconds,omitempty"`
}

func runDag(w io.Writer, opts dagOptions) error {
	if err := checkOutputs(outputPath{"--dot", opts.dot}); err != nil {
		return err
	}
	filename, src, err := lp.ReadSource(opts.prog)
	if err != nil {
		return err
	}
	plan, err := analysis.Compile(filename, src, opts.args)
	if err != nil {
		return err
	}
	if err := checkPlanSize(plan, opts.maxTasks, opts.oracle); err != nil {
		return err
	}
	sum, err := analysis.Summarize(plan)
	if err != nil {
		return err
	}
	report := dagReport{Program: plan.Program().Name, Args: map[string]string{}, Summary: sum}
	for name, v := range plan.Args() {
		report.Args[name] = v.String()
	}
	if opts.oracle {
		secs, err := compareOracle(plan, sum, int(min(opts.maxTasks, math.MaxInt32)))
		if err != nil {
			return err
		}
		report.OracleSeconds = &secs
	}
	if opts.dot != "" {
		if err := writeDotFile(plan, sum, opts.dot); err != nil {
			return err
		}
	}
	if opts.json {
		enc := json.NewEncoder(w)
		return enc.Encode(report)
	}
	printDagSummary(w, filename, plan, report)
	return nil
}

// compareOracle builds the explicit DAG and checks it against the summary
// found by the solver; it returns the time the oracle took to build.
func compareOracle(plan *analysis.Plan, sum *analysis.Summary, limit int) (float64, error) {
	t0 := time.Now()
	o, err := analysis.BuildOracle(plan, limit)
	if err != nil {
		return 0, err
	}
	secs := time.Since(t0).Seconds()
	if o.ProblemCount > 0 {
		return 0, lp.ErrorList(o.Problems)
	}
	got := [3]int64{sum.Nodes, sum.Edges, sum.Starters}
	want := [3]int64{int64(o.Len()), o.Edges(), int64(len(o.Starters()))}
	if got != want {
		return 0, fmt.Errorf("the solver and the oracle disagree: tasks, edges, starters %v by solving, %v by enumeration", got, want)
	}
	return secs, nil
}

func printDagSummary(w io.Writer, filename string, plan *analysis.Plan, r dagReport) {
	s := r.Summary
	fmt.Fprintf(w, "%s %s: %d tasks, %d edges\n", filename, argString(plan.Args()), s.Nodes, s.Edges)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(w, "  %-22s %s\n", name, fmt.Sprintf(format, args...))
	}
	row("starters", "%d", s.Starters)
	row("terminators", "%d", s.Terminators)
	row("critical path", "%d tasks", s.CriticalPath)
	row("max parallelism", "%d tasks", s.MaxParallelism)
	var names, kernels []string // in program order
	for _, call := range plan.Program().Calls {
		if name := call.Stmt.Kernel.Name; !slices.Contains(names, name) && s.TasksByKernel[name] > 0 {
			names = append(names, name)
			kernels = append(kernels, fmt.Sprintf("%s %d", name, s.TasksByKernel[name]))
		}
	}
	row("tasks by kernel", "%s", strings.Join(kernels, ", "))
	row("children + parents", "%.3f s for all tasks, %d ns per task", s.SolveSeconds, s.SolveNsPerNode)
	row("fallback enumerations", "%d", s.FallbackEnumerations)
	row("compiled plan", "%d bytes", s.PlanBytes)
	if r.OracleSeconds != nil {
		row("oracle (brute force)", "%.3f s to enumerate; agrees", *r.OracleSeconds)
	}
	fmt.Fprintln(w, "  parallelism profile (tasks ready per step, unlimited workers):")
	printProfile(w, s.Profile)
}

// printProfile draws the profile as bars, merging steps into at most 24
// rows (each showing its widest step).
func printProfile(w io.Writer, profile []int) {
	const rows, width = 24, 50
	per := max(1, (len(profile)+rows-1)/rows)
	peak := slices.Max(append([]int{1}, profile...))
	for start := 0; start < len(profile); start += per {
		end := min(start+per, len(profile))
		m := slices.Max(profile[start:end])
		label := fmt.Sprintf("%d", start+1)
		if end-start > 1 {
			label = fmt.Sprintf("%d-%d", start+1, end)
		}
		bar := strings.Repeat("#", max(1, m*width/peak))
		fmt.Fprintf(w, "    %11s %8d %s\n", label, m, bar)
	}
}

func writeDotFile(plan *analysis.Plan, sum *analysis.Summary, path string) error {
	if sum.Nodes > maxDotTasks {
		return fmt.Errorf("--dot: the DAG has %d tasks; only DAGs of up to %d tasks are drawn", sum.Nodes, maxDotTasks)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	err = writeDot(bw, plan)
	if err2 := bw.Flush(); err == nil {
		err = err2
	}
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err != nil {
		return fmt.Errorf("--dot: %w", err)
	}
	return nil
}

func writeDot(w io.Writer, plan *analysis.Plan) error {
	fmt.Fprintf(w, "digraph %q {\n  node [shape=box, fontname=\"monospace\"];\n", plan.Program().Name)
	var children []analysis.Node
	err := plan.Walk(func(n analysis.Node) error {
		fmt.Fprintf(w, "  %q [label=%q];\n", n.Key(), plan.Describe(n))
		var err error
		children, err = plan.Children(n, children[:0])
		for _, c := range children {
			fmt.Fprintf(w, "  %q -> %q;\n", n.Key(), c.Key())
		}
		return err
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, "}")
	return err
}

func argString(args map[string]lp.Value) string { return analysis.ArgString(args) }
