package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/spf13/cobra"
)

// controlSocket is --socket, or node.control_socket of the config.
func controlSocket(cmd *cobra.Command, socket string) (string, error) {
	if socket != "" {
		return socket, nil
	}
	cfg, err := config.Load(configPath(cmd))
	if err != nil {
		return "", err
	}
	return cfg.Node.ControlSocket, nil
}

// printResult shows an operator command's result (JSON for scripts); err
// is the command's own error, returned after the result is shown.
func printResult(w io.Writer, r *control.OperatorResult, asJSON bool, err error) error {
	if r == nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if e := enc.Encode(r); e != nil {
			return e
		}
		return err
	}
	if r.Message != "" {
		fmt.Fprintln(w, r.Message)
	}
	m := ""
	if r.Maintenance {
		m = ", in maintenance"
	}
	fmt.Fprintf(w, "failover: %s (partner %s)%s; fit: %v\n", r.State, r.PartnerState, m, r.Fit)
	if r.VRRPState != "" {
		fmt.Fprintf(w, "vrrp: %s, master %s\n", r.VRRPState, r.VRRPMaster)
	}
	return err
}

func newMaintenanceCmd() *cobra.Command {
	var asJSON bool
	var socket string
	cmd := &cobra.Command{
		Use:   "maintenance start|stop",
		Short: "hand service and the VIP to the partner (start) and take them back (stop), e.g. for an upgrade",
		Long: `maintenance start tells the partner (failover maintenance flag), lowers this
box's VRRP priority so the partner takes the VIP, and waits until it has.
Replication keeps flowing both ways, so this box stays in sync. It is refused
while the partner is not in NORMAL over a live sync link.
maintenance stop takes the box back into service; a box with the higher
VRRP priority takes the VIP back.`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"start", "stop"},
		RunE: func(cmd *cobra.Command, args []string) error {
			var start bool
			switch args[0] {
			case "start":
				start = true
			case "stop":
			default:
				return usageError{fmt.Errorf("maintenance: %q, want start or stop", args[0])}
			}
			path, err := controlSocket(cmd, socket)
			if err != nil {
				return err
			}
			r, err := control.Maintenance(path, start)
			return printResult(cmd.OutOrStdout(), r, asJSON, err)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().StringVar(&socket, "socket", "", "control socket (default: node.control_socket of the config)")
	return cmd
}
