package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	engine "github.com/npw-dev/npw"
)

func newGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get URL FILE.npy",
		Short: "Write a stored matrix to a .npy file",
		Long: `Get writes the matrix stored at a URL (npw put, or a job's -o URL) to a
2-D float64 .npy file, tile by tile at the tiles' offsets, so a matrix
far larger than memory is written with a few tiles in memory. Tiles
never stored (the zero triangle of a factor) are the file's zeros.`,
		Example: `  npw get file:///data/npw/L l.npy`,
		Args:    exactly(2, "a URL and a file, URL FILE.npy"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGet(cmd.Context(), cmd.OutOrStdout(), args[0], args[1])
		},
	}
}

func runGet(ctx context.Context, stdout io.Writer, url, file string) error {
	if !isURL(url) {
		return usagef("get %s %s: the first argument must be a URL, such as file:///dir/name", url, file)
	}
	if err := checkOutputs(outputPath{"FILE.npy", file}); err != nil {
		return err
	}
	start := time.Now()
	meta, err := engine.GetNPY(ctx, url, file)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s → %s: %s\n", url, file, transferText(meta.Shape, meta.Block, meta.Bytes(), time.Since(start)))
	return nil
}
