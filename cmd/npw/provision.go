package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/job"
)

// jobFlags are the flags of the commands that act on a job by its id:
// the state store that keeps its record.
type jobFlags struct {
	id, state string
}

func (j *jobFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&j.state, "state", envOr("NPW_STATE", "mem://"), "the state store `URL` that keeps the job (default $NPW_STATE)")
}

func newProvisionCmd() *cobra.Command {
	var opts jobFlags
	var verbose bool
	cmd := &cobra.Command{
		Use:   "provision --job ID",
		Short: "Provision a submitted job's workers until it ends, then finish it",
		Long: `Provision runs the paper's provisioning policy for a job submitted with
--detach (the detached client starts it) or whose client died: it starts
workers the way the job's record says (processes or Lambda invocations),
as many as the queued tasks need and the job allows, until the job ends;
then it saves the job's outputs to their URLs, removes its queue, state
and scratch tiles, and leaves the job's end in its record for npw wait.
It prints the job's summary.`,
		Example: `  npw provision --job 4cf84da5d426 --state redis://127.0.0.1:6379/0`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProvision(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), opts, verbose)
		},
	}
	cmd.Flags().StringVar(&opts.id, "job", "", "the job's `ID`")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log the provisioner's and the workers' events")
	opts.register(cmd)
	return cmd
}

func runProvision(ctx context.Context, stdout, stderr io.Writer, opts jobFlags, verbose bool) error {
	if opts.id == "" {
		return usagef("provision needs --job ID")
	}
	var log *slog.Logger
	if verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	snap, err := engine.Inspect(ctx, opts.state, opts.id) // where it runs, for its cost
	if err != nil {
		return err
	}
	res, err := engine.Provision(ctx, opts.state, opts.id, log)
	if res != nil {
		results := []*job.Result{res}
		lines := []summaryLine{defaultCost.costLine(results, snap.Record.Store, snap.Record.Launch.Kind)}
		printSummary(stdout, fmt.Sprintf("job %s: %s", res.ID, res.Program), results, res.Uploaded, lines)
	}
	return err
}
