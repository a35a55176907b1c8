package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/analysis"
	lp "github.com/npw-dev/npw/lambdapack"

	"github.com/npw-dev/npw/internal/secret"
)

// Exit statuses: 1 for a failed command, 2 for a command used wrongly.
const (
	exitFailure = 1
	exitUsage   = 2
)

// A usageError is a mistake in how a command was called.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// start runs npw: inside AWS Lambda it serves worker invocations, and
// elsewhere the command line, returning the exit status.
func start(args []string, stdout, stderr io.Writer) int {
	tuneGC()
	if inLambda() {
		serveLambda()
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends npw at once
	}()
	return runContext(ctx, args, stdout, stderr)
}

// exitInterrupted is the status of a command stopped by Ctrl-C (128 +
// SIGINT), as shells report it.
const exitInterrupted = 130

// run executes the command line and returns the exit status. Errors are
// printed as one line each; program errors as file:line:col: message.
// A usage error adds a line that says where the usage is.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run until ctx ends (Ctrl-C): the command in progress is
// cancelled, its jobs with it, and what they made is removed.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "npw: interrupted%s\n", interruptedJobs())
		return exitInterrupted
	}
	var detached *engine.Detached
	if errors.As(err, &detached) {
		printDetached(stdout, detached)
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
		fmt.Fprintf(stderr, "npw: %s\n", secret.RedactIn(err.Error(), serviceURLs(root, args)...))
	}
	var usage usageError
	var badArgs *analysis.ArgsError
	if errors.As(err, &usage) || errors.As(err, &badArgs) {
		fmt.Fprintln(stderr, usageHint(root, args))
		return exitUsage
	}
	return exitFailure
}

// usageHint names the help of the command the arguments call.
func usageHint(root *cobra.Command, args []string) string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == root {
		return "Run 'npw help' for usage."
	}
	return fmt.Sprintf("Run 'npw %s --help' for usage.", strings.TrimPrefix(cmd.CommandPath(), "npw "))
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "npw",
		Short: "npw runs dense linear algebra on serverless workers",
		Long: `npw runs dense linear algebra (Cholesky, QR, GEMM, ...) written in
LAmbdaPACK as an implicit task DAG on short-lived workers.

Programs are given as a .lp file or by the short name of a shipped
program (` + strings.Join(lp.Shipped(), ", ") + `).`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	commandGroup(root)
	root.SetVersionTemplate("npw {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newCheckCmd(), newBenchCmd(), newDagCmd(), newSimulateCmd(), newProgramsCmd(), newRunCmd(), newCholeskyCmd(), newGemmCmd(), newTsqrCmd(),
		newQRCmd(), newSVDCmd(), newEighCmd(), newSolveCmd(), newInvCmd(), newLUCmd(), newWorkerCmd(), newDeployCmd(),
		newPutCmd(), newGetCmd(), newLsCmd(), newRmCmd(),
		newProvisionCmd(), newStatusCmd(), newWaitCmd(), newCancelCmd(), newJobsCmd(), newDashboardCmd())
	redactDefaults(root)
	return root
}

// serviceFlags are the flags that take a service's URL, which may hold a
// password.
var serviceFlags = []string{"store", "queue", "state"}

// redactDefaults masks the passwords of the service URLs that --help
// shows as defaults (from $NPW_STORE, $NPW_QUEUE, $NPW_STATE).
func redactDefaults(cmd *cobra.Command) {
	for _, name := range serviceFlags {
		if f := cmd.Flags().Lookup(name); f != nil {
			f.DefValue = secret.Redact(f.DefValue)
		}
	}
	for _, c := range cmd.Commands() {
		redactDefaults(c)
	}
}

// serviceURLs are the service URLs the command line and the environment
// give, whose secrets an error must not print.
func serviceURLs(root *cobra.Command, args []string) []string {
	urls := []string{os.Getenv("NPW_STORE"), os.Getenv("NPW_QUEUE"), os.Getenv("NPW_STATE")}
	if cmd, _, err := root.Find(args); err == nil {
		for _, name := range serviceFlags {
			if f := cmd.Flags().Lookup(name); f != nil {
				urls = append(urls, f.Value.String())
			}
		}
	}
	return urls
}

// commandGroup makes cmd, a command of subcommands, refuse an unknown
// subcommand as a usage error of one line (cobra prints help, or several
// lines of suggestions), and print its help when called alone.
func commandGroup(cmd *cobra.Command) {
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return unknownCommand(cmd, args[0])
	}
}

func unknownCommand(group *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, group.CommandPath())
	if group.SuggestionsMinimumDistance <= 0 {
		group.SuggestionsMinimumDistance = 2
	}
	if s := group.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageError{errors.New(msg)}
}

// flagError makes a bad flag a usage error. On a command of subcommands
// after an unknown subcommand, the subcommand is the mistake.
func flagError(cmd *cobra.Command, err error) error {
	if cmd.HasSubCommands() && cmd.Flags().NArg() > 0 {
		return unknownCommand(cmd, cmd.Flags().Arg(0))
	}
	return usageError{err}
}

// atMost accepts up to n arguments, named by what in the error.
func atMost(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usagef("%s takes at most %s, got %d arguments: %s", cmd.Name(), what, len(args), strings.Join(args, " "))
		}
		return nil
	}
}

// runE is the RunE of an algorithm command: it takes the file arguments,
// A.npy and B.npy, into opts and calls run.
func runE[O interface{ flags() *algFlags }](opts O, run func(ctx context.Context, stdout, stderr io.Writer, opts O) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		f := opts.flags()
		f.a, f.b = arg(args, 0), arg(args, 1)
		return run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), opts)
	}
}

// newAlgCmd completes cmd, the command of an algorithm on one matrix
// whose options are algFlags alone: it takes at most one file, A.npy,
// and the size flags sizes, --compare if routines names the reference's
// LAPACK routines, and run runs it.
func newAlgCmd(cmd *cobra.Command, sizes, routines string, run func(ctx context.Context, stdout, stderr io.Writer, opts *algFlags) error) *cobra.Command {
	var opts algFlags
	cmd.Args = atMost(1, "one file, A.npy")
	cmd.RunE = runE(&opts, run)
	opts.register(cmd, sizes)
	if routines != "" {
		opts.registerCompare(cmd, routines)
	}
	return cmd
}

// noneOrTwo accepts no arguments or two; usage says what to give.
func noneOrTwo(usage string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 0 && len(args) != 2 {
			return usageError{errors.New(usage)}
		}
		return nil
	}
}

// exactly accepts n arguments, named by what in the error.
func exactly(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %s, got %d arguments", cmd.Name(), what, len(args))
		}
		return nil
	}
}

// noArgs refuses arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %s", cmd.Name(), strings.Join(args, " "))
	}
	return nil
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

// version is the version of the module npw was built from, or "devel"
// and the VCS revision for a build from a checkout.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return versionOf(info)
}

func versionOf(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(len(s.Value), 12)]
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	return "devel " + rev + modified
}
