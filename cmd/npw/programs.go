package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	lp "github.com/npw-dev/npw/lambdapack"
)

func newProgramsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "programs [NAME]",
		Short: "List the shipped programs, or print one",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				src, ok := lp.ShippedSource(args[0])
				if !ok {
					return fmt.Errorf("no shipped program %s (shipped: %s)", args[0], strings.Join(lp.Shipped(), ", "))
				}
				fmt.Fprint(cmd.OutOrStdout(), src)
				return nil
			}
			for _, name := range lp.Shipped() {
				prog, err := lp.LoadProgram(name)
				if err != nil {
					return err
				}
				var params []string
				for _, p := range prog.Params {
					params = append(params, p.Name.Name+": "+p.Type.String())
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-10s def %s(%s)\n", name, prog.Name, strings.Join(params, ", "))
			}
			return nil
		},
	}
}
