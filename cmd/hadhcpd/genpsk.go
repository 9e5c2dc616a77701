package main

import (
	"fmt"

	"github.com/hadhcpd/hadhcpd/sync/psk"
	"github.com/spf13/cobra"
)

// newGenPSKCmd writes a new failover.auth.psk_file: a key the peer link
// accepts, readable by its owner only, never printed.
func newGenPSKCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "gen-psk FILE",
		Short: "write a new pre-shared key for failover.auth.psk_file (32 random bytes, base64, mode 0600)",
		Long: `gen-psk writes a new pre-shared key for the peer link to FILE: 32 bytes from
the system's random source, base64 on one line, mode 0600. Copy the same file
to the partner (scp -p) and point failover.auth.psk_file at it on both boxes.
An existing FILE is kept unless --force is given.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := psk.Write(args[0], force); err != nil {
				return fmt.Errorf("gen-psk: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: new pre-shared key (mode 0600); copy it to the partner\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing key file")
	return cmd
}
