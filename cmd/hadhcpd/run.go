package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hadhcpd/hadhcpd/agent"
	"github.com/spf13/cobra"
)

func newRunCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "run the agent in the foreground (systemd starts it this way)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := agent.Load(configPath(cmd))
			if err != nil {
				return err
			}
			log := agent.NewLogger(os.Stderr, cfg.Node)
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return agent.Run(ctx, cfg, log)
		},
	}
}
