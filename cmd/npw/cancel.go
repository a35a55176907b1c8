package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	engine "github.com/npw-dev/npw"
)

func newCancelCmd() *cobra.Command {
	var opts jobFlags
	var keep bool
	cmd := &cobra.Command{
		Use:   "cancel ID ...",
		Short: "Cancel jobs: stop their workers, delete their queues, state and tiles",
		Long: `Cancel ends jobs from any machine that reaches their state store: each
is marked failed (its workers and its provisioner stop), and its queue,
state, record and tiles are deleted. Outputs the job already saved to
their URLs, or kept in the store, are removed too unless --keep-outputs.`,
		Example: `  npw cancel 4cf84da5d426`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("cancel takes one or more job ids")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCancel(cmd.Context(), cmd.OutOrStdout(), opts, args, keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep-outputs", false, "keep the outputs the job has saved or kept")
	opts.register(cmd)
	return cmd
}

func runCancel(ctx context.Context, stdout io.Writer, opts jobFlags, ids []string, keep bool) error {
	for _, id := range ids {
		if err := engine.Cancel(ctx, opts.state, id, keep); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "cancelled job %s: its queue, state and tiles are removed\n", id)
	}
	return nil
}
