package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	lp "github.com/npw-dev/npw/lambdapack"
)

type programsOptions struct {
	name string // a program to print; empty to list them
}

func newProgramsCmd() *cobra.Command {
	var opts programsOptions
	return &cobra.Command{
		Use:   "programs [NAME]",
		Short: "List the shipped programs, or print one",
		Args:  atMost(1, "one program name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.name = arg(args, 0)
			return runPrograms(cmd.OutOrStdout(), &opts)
		},
	}
}

func runPrograms(w io.Writer, opts *programsOptions) error {
	if opts.name != "" {
		src, ok := lp.ShippedSource(opts.name)
		if !ok {
			return fmt.Errorf("no shipped program %s (shipped: %s)", opts.name, strings.Join(lp.Shipped(), ", "))
		}
		fmt.Fprint(w, src)
		return nil
	}
	for _, name := range lp.Shipped() {
		prog, err := lp.LoadProgram(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%-10s %s\n", name, signature(prog))
	}
	return nil
}
