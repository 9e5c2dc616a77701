package main

import (
	"errors"
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
			if err == nil {
				return agent.Cleanup(cfg, agent.NewLogger(os.Stderr, cfg.Node))
			}
			// An invalid file still names the virtual IPs this box may
			// hold: remove them, then report the file (exit 2).
			raw, rerr := config.Read(configPath(cmd))
			if rerr != nil {
				return err
			}
			log := agent.NewLogger(os.Stderr, raw.Node)
			log.Warn("cleanup: the config file is not valid; removing the virtual IPs it names anyway", "err", err)
			return errors.Join(agent.Cleanup(raw, log), err)
		},
	}
}
