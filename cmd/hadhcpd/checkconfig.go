package main

import (
	"fmt"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/spf13/cobra"
)

func newCheckConfigCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check-config",
		Short: "validate the configuration file without touching the system",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := config.Load(configPath(cmd)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", configPath(cmd))
			return nil
		},
	}
}
