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
	var socket, rel string
	cmd := &cobra.Command{
		Use:   "partner-down [--relationship NAME]",
		Short: "declare the partner dead (PARTNER-DOWN): this box then serves alone",
		Long: `partner-down declares that the partner box is known to be dead (powered off,
unplugged). This box moves to PARTNER-DOWN and serves every client alone; the
partner's addresses become usable once MCLT has passed since it was last heard.
Declaring a partner down that still serves can give one address to two
clients: the agent refuses while the partner is heard on the sync link or by
VRRP, and asks you to type the partner's address (failover.peer) to confirm.
--yes skips the question, for scripts.

On a box in several failover relationships (failover.relationships),
--relationship names the one whose partner is dead; the others go on as
they are. Without it the command is refused and lists the names.`,
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
				peer, err := partnerOf(cfg.Failover, rel)
				if err != nil {
					return usageError{fmt.Errorf("partner-down: %w", err)}
				}
				if err := confirm(os.Stdin, cmd.ErrOrStderr(), partnerName(peer)); err != nil {
					return err
				}
			} else if cfg != nil && cfg.Failover != nil {
				// --yes skips the question, not the choice of relationship:
				// the agent refuses too, this says so before dialing.
				if _, err := partnerOf(cfg.Failover, rel); err != nil {
					return usageError{fmt.Errorf("partner-down: %w", err)}
				}
			}
			r, err := control.PartnerDown(path, rel)
			return printResult(cmd.OutOrStdout(), r, asJSON, err)
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation (scripts)")
	cmd.Flags().StringVar(&rel, "relationship", "", "the failover relationship whose partner is down (failover.relationships[].name; required on a box in several)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().StringVar(&socket, "socket", "", "control socket (default: node.control_socket of the config)")
	return cmd
}

// partnerOf is the peer (failover.peer, or the relationship's) of the
// relationship named; "" names the single failover: section's.
func partnerOf(f *config.FailoverConfig, rel string) (string, error) {
	if len(f.Relationships) == 0 {
		if rel != "" {
			return "", fmt.Errorf("--relationship %s: this box has a single failover: section (no failover.relationships); leave --relationship out", rel)
		}
		return f.Peer, nil
	}
	names := make([]string, len(f.Relationships))
	for i, r := range f.Relationships {
		peer := r.Peer
		if peer == "" {
			peer = f.Peer // the section's keys are the relationships' defaults
		}
		if r.Name == rel {
			return peer, nil
		}
		names[i] = r.Name + " (partner " + partnerName(peer) + ")"
	}
	if rel == "" {
		return "", fmt.Errorf("this box is in several failover relationships: name the one whose partner is down with --relationship, one of: %s", strings.Join(names, ", "))
	}
	return "", fmt.Errorf("--relationship %s: no such failover relationship in the config; one of: %s", rel, strings.Join(names, ", "))
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
