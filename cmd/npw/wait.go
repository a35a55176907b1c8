package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/job"
)

func newWaitCmd() *cobra.Command {
	var opts jobFlags
	var quiet bool
	cmd := &cobra.Command{
		Use:   "wait ID",
		Short: "Follow a job until it ends, then print its summary",
		Long: `Wait follows a job from any machine that reaches its state store, with
its progress on stderr, until it ends; then it prints the job's summary
and where its outputs were saved, and removes the job's record. A job
that failed makes wait fail with its error. Ctrl-C stops waiting; the
job runs on.`,
		Example: `  npw wait 4cf84da5d426`,
		Args:    exactly(1, "a job id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.id = args[0]
			return runWait(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), opts, quiet)
		},
	}
	opts.register(cmd)
	cmd.Flags().BoolVar(&quiet, "quiet", false, "show no progress (by default a live bar on a terminal, otherwise a line every 5 s)")
	return cmd
}

func runWait(ctx context.Context, stdout, stderr io.Writer, opts jobFlags, quiet bool) error {
	view := newProgressView(progressMode(stderr, quiet), stderr)
	res, rec, err := engine.WaitJob(ctx, opts.state, opts.id, view.update)
	view.end()
	if res == nil {
		return err
	}
	var lines []summaryLine
	for _, o := range rec.Outputs {
		if o.Target != "" && err == nil {
			lines = append(lines, summaryLine{"output", fmt.Sprintf("%s → %s (stored)", o.Name, o.Target)})
		}
	}
	lines = append(lines, defaultCost.costLine([]*job.Result{res}, rec.Store, rec.Launch.Kind))
	printSummary(stdout, fmt.Sprintf("job %s: %s", res.ID, res.Program), []*job.Result{res}, res.Uploaded, lines)
	return err
}
