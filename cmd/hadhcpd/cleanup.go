package main

// STUB: owned by the VRRP work (issue 5), which replaces this file.

import "github.com/spf13/cobra"

func newCleanupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cleanup",
		Short: "remove configured virtual IPs and hadhcpd's firewall table (for ExecStopPost)",
		RunE:  func(cmd *cobra.Command, args []string) error { return nil },
	}
}
