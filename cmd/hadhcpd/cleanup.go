package main

import (
	"os"

	"github.com/hadhcpd/hadhcpd/agent"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/spf13/cobra"
)

// newCleanupCmd is for systemd's ExecStopPost (and operators after a crash):
// a box that is not running hadhcpd must not keep answering ARP for a
// virtual IP it no longer owns.
func newCleanupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cleanup",
		Short: "remove configured virtual IPs and hadhcpd's firewall table (for ExecStopPost)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(configPath(cmd))
			if err != nil {
				return err
			}
			return agent.Cleanup(cfg, agent.NewLogger(os.Stderr, cfg.Node))
		},
	}
}
