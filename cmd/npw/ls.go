package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	engine "github.com/npw-dev/npw"
)

func newLsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ls URL",
		Short: "List the matrices stored at or under a URL",
		Long: `Ls lists the matrices stored at a URL or under it (a directory, a
bucket prefix): their URLs, shapes, blocks and sizes. A manifest that
cannot be read is listed with its error, and the command fails.`,
		Example: `  npw ls file:///data/npw
  npw ls 's3://bucket/matrices?endpoint=http://127.0.0.1:9000'`,
		Args: exactly(1, "a URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(cmd.Context(), cmd.OutOrStdout(), args[0])
		},
	}
}

func runLs(ctx context.Context, stdout io.Writer, url string) error {
	if !isURL(url) {
		return usagef("ls %s: want a URL, such as file:///dir", url)
	}
	found, err := engine.List(ctx, url)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "URL\tSHAPE\tBLOCK\tSIZE")
	bad := 0
	for _, l := range found {
		if l.Err != nil {
			fmt.Fprintf(w, "%s\t%v\t\t\n", l.URL, l.Err)
			bad++
			continue
		}
		fmt.Fprintf(w, "%s\t%d×%d\t%d\t%s\n", l.URL, l.Meta.Shape[0], l.Meta.Shape[1], l.Meta.Block, bytesText(l.Meta.Bytes()))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d manifests under %s cannot be read", bad, len(found), url)
	}
	return nil
}
