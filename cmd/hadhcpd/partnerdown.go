package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// errNotConfirmed: the operator did not confirm partner-down.
var errNotConfirmed = errors.New("partner-down not confirmed: nothing done")

func newPartnerDownCmd() *cobra.Command {
	var asJSON, yes bool
	var socket string
	cmd := &cobra.Command{
		Use:   "partner-down",
		Short: "declare the partner dead (PARTNER-DOWN): this box then serves alone",
		Long: `partner-down declares that the partner box is known to be dead (powered off,
unplugged). This box moves to PARTNER-DOWN and serves every client alone; the
partner's addresses become usable once MCLT has passed since it was last heard.
Declaring a partner down that still serves can give one address to two
clients: the agent refuses while the partner is heard on the sync link or by
VRRP, and asks you to type the partner's address (failover.peer) to confirm.
--yes skips the question, for scripts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(configPath(cmd))
			if err != nil && socket == "" {
				return err
			}
			path := socket
			if path == "" {
				path = cfg.Node.ControlSocket
			}
			if !yes {
				if cfg == nil || cfg.Failover == nil {
					return usageError{errors.New("partner-down: the config has no failover: section, nothing to confirm against (a single server has no partner)")}
				}
				if len(cfg.Failover.Relationships) > 0 {
					return usageError{errors.New("partner-down: this box is in several failover relationships (failover.relationships), and partner-down per relationship is not available yet")}
				}
				if err := confirm(os.Stdin, cmd.ErrOrStderr(), partnerName(cfg.Failover.Peer)); err != nil {
					return err
				}
			}
			r, err := control.PartnerDown(path)
			return printResult(cmd.OutOrStdout(), r, asJSON, err)
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation (scripts)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().StringVar(&socket, "socket", "", "control socket (default: node.control_socket of the config)")
	return cmd
}

// partnerName is what the operator types: the host of failover.peer.
func partnerName(peer string) string {
	if h, _, err := net.SplitHostPort(peer); err == nil {
		return h
	}
	return peer
}

// confirm asks on a terminal for the partner's name; anything else, or a
// stdin that is not a terminal, is no.
func confirm(in *os.File, out io.Writer, name string) error {
	if _, err := unix.IoctlGetTermios(int(in.Fd()), unix.TCGETS); err != nil {
		return usageError{fmt.Errorf("%w: stdin is not a terminal; pass --yes to confirm from a script", errNotConfirmed)}
	}
	fmt.Fprintf(out, "Declare the partner %s DOWN? This box will serve alone; if the partner still serves, "+
		"two clients may get one address.\nType the partner's address (%s) to confirm: ", name, name)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("%w: %v", errNotConfirmed, err)
	}
	if strings.TrimSpace(line) != name {
		return errNotConfirmed
	}
	return nil
}
