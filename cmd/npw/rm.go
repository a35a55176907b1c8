package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	engine "github.com/npw-dev/npw"
)

func newRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rm URL ...",
		Short: "Delete stored matrices",
		Long: `Rm deletes the matrices stored at the URLs: each manifest first, so that
a removal cut short leaves no matrix with missing tiles, then its tiles.
A URL that holds no matrix is an error.`,
		Example: `  npw rm file:///data/npw/A file:///data/npw/L`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("rm takes one or more URLs")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRm(cmd.Context(), cmd.OutOrStdout(), args)
		},
	}
}

func runRm(ctx context.Context, stdout io.Writer, urls []string) error {
	for _, url := range urls {
		if !isURL(url) {
			return usagef("rm %s: want a URL, such as file:///dir/name", url)
		}
	}
	for _, url := range urls {
		if err := engine.Remove(ctx, url); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s\n", url)
	}
	return nil
}
