package main

import (
	"fmt"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/spf13/cobra"
)

func newCheckConfigCmd() *cobra.Command {
	var noFiles bool
	cmd := &cobra.Command{
		Use:   "check-config",
		Short: "validate the configuration file and the key or certificate files it names, without changing the system",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := configPath(cmd)
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			// The unit's ExecStartPre: what `run` would refuse to start
			// with (a missing or world-readable key) is refused here too.
			if !noFiles {
				if err := cfg.CheckFiles(); err != nil {
					return err
				}
			}
			for _, w := range cfg.Warnings() {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&noFiles, "no-files", false,
		"check the configuration file alone, not the key or certificate files it names (a config prepared for another box, or just imported)")
	return cmd
}
