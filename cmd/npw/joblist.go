package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	engine "github.com/npw-dev/npw"
)

func newJobsCmd() *cobra.Command {
	var opts jobFlags
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List the jobs a state store holds",
		Long: `Jobs lists the jobs whose records the state store holds: those running,
and those that ended without a client to collect them (kept a day for
npw wait): id, program, phase, tasks done, age and provisioner.`,
		Example: `  npw jobs --state redis://127.0.0.1:6379/0`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runJobs(cmd.Context(), cmd.OutOrStdout(), opts)
		},
	}
	opts.register(cmd)
	return cmd
}

func runJobs(ctx context.Context, stdout io.Writer, opts jobFlags) error {
	snaps, err := engine.ListJobs(ctx, opts.state)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tPROGRAM\tPHASE\tDONE\tAGE\tPROVISIONER")
	now := time.Now()
	for _, snap := range snaps {
		r := snap.Record
		s := statusOf(snap, now)
		fmt.Fprintf(w, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", r.ID, r.Program, s.Phase, s.Done, s.Tasks, now.Sub(r.Created).Round(time.Second), r.Provisioner)
	}
	return w.Flush()
}
