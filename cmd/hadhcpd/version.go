package main

import (
	"fmt"
	"runtime"

	"github.com/hadhcpd/hadhcpd/agent"
	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "hadhcpd %s (%s)\n", agent.Version, runtime.Version())
		},
	}
}
