package main

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/spf13/cobra"

	"github.com/npw-dev/npw/analysis"
	lp "github.com/npw-dev/npw/lambdapack"
)

type checkOptions struct {
	prog     string
	args     map[string]lp.Value
	maxTasks int64
}

func newCheckCmd() *cobra.Command {
	var opts checkOptions
	cmd := &cobra.Command{
		Use:   "check PROG [NAME=VALUE ...]",
		Short: "Check a program; with sizes, also verify that every tile is written once",
		Long: `Check parses and checks a LAmbdaPACK program: syntax, names, kernels and
their arities, and index types. Errors are printed as file:line:col: message.

With values for the program's scalar parameters it also runs the program
sequentially, task by task, and reports every tile written twice, every
task that reads its own output and every tile read before it is written.`,
		Example: `  npw check cholesky
  npw check cholesky N=16
  npw check my.lp N=7 alpha=0.5`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.prog, opts.args, err = programArgs(args, false); err != nil {
				return err
			}
			return runCheck(cmd.OutOrStdout(), opts)
		},
	}
	cmd.Flags().Int64Var(&opts.maxTasks, "max-tasks", analysis.DefaultMaxTasks, "most tasks to enumerate: a bigger program is refused before it starts")
	return cmd
}

func runCheck(w io.Writer, opts checkOptions) error {
	filename, src, err := lp.ReadSource(opts.prog)
	if err != nil {
		return err
	}
	prog, err := lp.Load(filename, src)
	if err != nil {
		return err
	}
	if len(opts.args) == 0 {
		fmt.Fprintf(w, "%s: ok: %s with %d kernel calls\n", filename, signature(prog), len(prog.Calls))
		return nil
	}
	plan, err := analysis.NewPlan(prog, opts.args)
	if err != nil {
		return err
	}
	if err := checkPlanSize(plan, opts.maxTasks, true); err != nil {
		return err
	}
	o, err := analysis.BuildOracle(plan, int(min(opts.maxTasks, math.MaxInt32)))
	if err != nil {
		return err
	}
	if o.ProblemCount > 0 {
		list := lp.ErrorList(o.Problems)
		if more := o.ProblemCount - len(o.Problems); more > 0 {
			list = append(list, &lp.Error{Pos: lp.Position{File: filename}, Msg: fmt.Sprintf("%d more write-once violations not shown", more)})
		}
		return list
	}
	fmt.Fprintf(w, "%s: ok: %s: %d tasks; every tile is written once, after any read of it\n", filename, argString(opts.args), o.Len())
	return nil
}

func signature(prog *lp.Program) string {
	var params []string
	for _, p := range prog.Params {
		params = append(params, p.Name.Name+": "+p.Type.String())
	}
	return fmt.Sprintf("def %s(%s)", prog.Name, strings.Join(params, ", "))
}
