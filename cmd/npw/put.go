package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	engine "github.com/npw-dev/npw"
)

type putOptions struct {
	file, url string
	block     int
}

func newPutCmd() *cobra.Command {
	var opts putOptions
	cmd := &cobra.Command{
		Use:   "put FILE.npy URL --block B",
		Short: "Store a .npy file as a tiled matrix at a URL",
		Long: `Put stores a .npy array (2-D, or 1-D as one column; any float, int, uint
or bool dtype, C or Fortran order) as a matrix of B×B float64 tiles at a
URL: file:///dir/name, s3://bucket/prefix/name or mem://store/name. The
file is read tile by tile at its offsets, so a file far larger than
memory is stored with a few tiles in memory. A matrix stored there
before is replaced. Jobs take it with --in NAME=URL or as A.`,
		Example: `  npw put a.npy file:///data/npw/A --block 4096
  npw put a.npy 's3://bucket/matrices/A?endpoint=http://127.0.0.1:9000' --block 4096`,
		Args: exactly(2, "a file and a URL, FILE.npy URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.file, opts.url = args[0], args[1]
			return runPut(cmd.Context(), cmd.OutOrStdout(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.block, "block", 1024, "tile size `B` (tiles are B×B)")
	return cmd
}

func runPut(ctx context.Context, stdout io.Writer, opts putOptions) error {
	if opts.block <= 0 {
		return usagef("--block must be positive, got %d", opts.block)
	}
	if !isURL(opts.url) {
		return usagef("put %s %s: the second argument must be a URL, such as file:///dir/name", opts.file, opts.url)
	}
	start := time.Now()
	meta, err := engine.PutNPY(ctx, opts.file, opts.url, opts.block)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s → %s: %s\n", opts.file, opts.url, transferText(meta.Shape, meta.Block, meta.Bytes(), time.Since(start)))
	return nil
}

// transferText describes a matrix moved in elapsed: its shape, block,
// size and the rate.
func transferText(shape [2]int, block int, bytes int64, elapsed time.Duration) string {
	rate := float64(bytes) / max(elapsed.Seconds(), 1e-9)
	return fmt.Sprintf("%d×%d in blocks of %d, %s in %.2f s (%s/s)", shape[0], shape[1], block, bytesText(bytes), elapsed.Seconds(), bytesText(int64(rate)))
}
