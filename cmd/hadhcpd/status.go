package main

import (
	"encoding/json"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/spf13/cobra"
)

func newStatusCmd() *cobra.Command {
	var asJSON bool
	var socket string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "show VRRP, failover and pool state of the running agent (--json for scripts)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if socket == "" {
				cfg, err := config.Load(configPath(cmd))
				if err != nil {
					return err
				}
				socket = cfg.Node.ControlSocket
			}
			st, err := control.QueryStatus(socket)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			return control.WriteStatus(cmd.OutOrStdout(), st, time.Now())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (layout versioned by its \"schema\" field)")
	cmd.Flags().StringVar(&socket, "socket", "", "control socket (default: node.control_socket of the config)")
	return cmd
}
