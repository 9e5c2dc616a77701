package main

import (
	"context"
	"encoding/json"
	"errors"
	"os/signal"
	"syscall"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/spf13/cobra"
)

func newEventsCmd() *cobra.Command {
	var (
		socket string
		q      control.EventsQuery
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "print the running agent's events as JSON lines: lease changes, VRRP and failover transitions (--follow: keep printing)",
		Long: "Print the running agent's event stream, one JSON object a line: lease changes (granted, renewed,\n" +
			"released, expired, declined) and VRRP and failover transitions, as GET /v1/events serves them\n" +
			"(on a box in several failover relationships each failover event names its \"relationship\").\n" +
			"Without --follow it prints the last --recent events the agent holds and exits; with --follow it\n" +
			"then prints each new one until interrupted. A reader too slow to keep up is dropped by the agent.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.Recent < 0 || q.Recent > 1000 {
				return usageError{errRecent}
			}
			if socket == "" {
				cfg, err := config.Load(configPath(cmd))
				if err != nil {
					return err
				}
				socket = cfg.Node.ControlSocket
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			return control.FollowEvents(ctx, socket, q, func(line json.RawMessage) error {
				_, err := out.Write(append(line, '\n'))
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&q.Follow, "follow", "f", false, "keep printing new events until interrupted")
	cmd.Flags().IntVar(&q.Recent, "recent", 20, "print this many past events first (0 to 1000)")
	cmd.Flags().Uint64Var(&q.Since, "since", 0, "print the events after this seq instead (what a reader missed, while the agent holds them)")
	cmd.Flags().StringVar(&socket, "socket", "", "control socket (default: node.control_socket of the config)")
	return cmd
}

var errRecent = errors.New("--recent: want 0 to 1000")
