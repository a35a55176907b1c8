package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/npw-dev/npw/analysis"
	lp "github.com/npw-dev/npw/lambdapack"
)

// Exit statuses: 1 for a failed command, 2 for a command used wrongly.
const (
	exitFailure = 1
	exitUsage   = 2
)

// A usageError is a mistake in how a command was called.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// run executes the command line and returns the exit status. Errors are
// printed as one line each; program errors as file:line:col: message.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	switch e := err.(type) {
	case lp.ErrorList: // already file:line:col: message, one per line
		for _, e := range e {
			fmt.Fprintln(stderr, e)
		}
	case *lp.Error:
		fmt.Fprintln(stderr, e)
	default:
		fmt.Fprintf(stderr, "npw: %v\n", err)
	}
	var usage usageError
	var badArgs *analysis.ArgsError
	if errors.As(err, &usage) || errors.As(err, &badArgs) {
		fmt.Fprintf(stderr, "Run 'npw %s --help' for usage.\n", commandPath(root, args))
		return exitUsage
	}
	return exitFailure
}

func commandPath(root *cobra.Command, args []string) string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == root {
		return "help"
	}
	return strings.TrimPrefix(cmd.CommandPath(), "npw ")
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "npw",
		Short: "npw runs dense linear algebra on serverless workers",
		Long: `npw runs dense linear algebra (Cholesky, QR, GEMM, ...) written in
LAmbdaPACK as an implicit task DAG on short-lived workers.

Programs are given as a .lp file or by the short name of a shipped
program (` + strings.Join(lp.Shipped(), ", ") + `).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newCheckCmd(), newBenchCmd(), newDagCmd(), newProgramsCmd(), newRunCmd(), newCholeskyCmd(), newGemmCmd(), newTsqrCmd(),
		newQRCmd(), newSVDCmd(), newSolveCmd(), newLUCmd(), newWorkerCmd(), newDeployCmd())
	return root
}

// programArgs validates "PROG [NAME=VALUE ...]" and splits it.
func programArgs(args []string, needSizes bool) (prog string, scalars map[string]lp.Value, err error) {
	if len(args) == 0 {
		return "", nil, usagef("missing program: give a .lp file or one of %s", strings.Join(lp.Shipped(), ", "))
	}
	if needSizes && len(args) == 1 {
		return "", nil, usagef("missing sizes: give the program's int parameters, e.g. N=8")
	}
	scalars, err = lp.ParseArgs(args[1:])
	if err != nil {
		return "", nil, usageError{err}
	}
	return args[0], scalars, nil
}
