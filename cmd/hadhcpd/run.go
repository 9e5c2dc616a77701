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
		Short: "run the agent in the foreground (systemd starts it this way); SIGHUP reloads the dhcp section",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := configPath(cmd)
			cfg, err := agent.Load(path)
			if err != nil {
				return err
			}
			log := agent.NewLogger(os.Stderr, cfg.Node)
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			return agent.RunReload(ctx, cfg, log, agent.Reload{C: hup, Load: func() (*agent.Config, error) { return agent.Load(path) }})
		},
	}
}
