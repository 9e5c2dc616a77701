package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/spf13/cobra"
)

func newLeasesCmd() *cobra.Command {
	var ip, hw, state string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "leases",
		Short: "list leases from the lease database (read-only)",
		Long: "List the leases stored in node.state_dir. The database is read from a copy, so this\n" +
			"is safe while hadhcpd runs and changes nothing.\n\n" +
			"If part of the database cannot be read, the leases that survived are listed all\n" +
			"the same, each damaged part is named on stderr (file, offset, what was lost), and\n" +
			"the command exits 1: the list is incomplete.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(configPath(cmd))
			if err != nil {
				return err
			}
			var f control.LeaseFilter
			if ip != "" {
				if p, err := netip.ParsePrefix(ip); err == nil {
					f.Addr = p
				} else if a, err := netip.ParseAddr(ip); err == nil {
					f.Addr = netip.PrefixFrom(a, 32)
				} else {
					return usageError{fmt.Errorf("--ip %q is not an address or network", ip)}
				}
			}
			if hw != "" {
				if f.HWAddr, err = net.ParseMAC(hw); err != nil {
					return usageError{fmt.Errorf("--hw %q is not a hardware address", hw)}
				}
			}
			if state != "" {
				if f.State, err = control.ParseLeaseState(state); err != nil {
					return usageError{err}
				}
			}
			ls, damage, err := control.ReadLeases(cfg.Node.StateDir, f)
			if err != nil {
				return err
			}
			if err := printLeases(cmd.OutOrStdout(), ls, asJSON); err != nil {
				return err
			}
			return damageError(damage)
		},
	}
	cmd.Flags().StringVar(&ip, "ip", "", "only this address or network (192.0.2.10, 192.0.2.0/25)")
	cmd.Flags().StringVar(&hw, "hw", "", "only this hardware address")
	cmd.Flags().StringVar(&state, "state", "", "only this state (active, expired, released, abandoned, free, reset, backup)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "JSON output")
	return cmd
}

func printLeases(out io.Writer, ls []control.LeaseInfo, asJSON bool) error {
	if asJSON {
		if ls == nil {
			ls = []control.LeaseInfo{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(ls)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IP\tSTATE\tHW ADDRESS\tCLIENT ID\tHOSTNAME\tEXPIRY")
	for _, l := range ls {
		exp := "-"
		if !l.Expiry.IsZero() {
			exp = l.Expiry.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.IP, l.State, dash(l.HWAddr), dash(l.ClientID), dash(l.Hostname), exp)
	}
	return tw.Flush()
}

// damageError is the error of a listing of a damaged database, one line a
// damaged part (main prints each line on stderr). It makes the command
// fail (exit 1) after the list is out, so that a script cannot take an
// incomplete list for the whole database (invariant 7); the stdout format,
// table or --json array, stays the same, so a script that wants what
// survived still parses it.
func damageError(damage []control.LeaseDamage) error {
	if len(damage) == 0 {
		return nil
	}
	lines := []string{fmt.Sprintf("lease database damaged: the list above is incomplete (%d damaged part(s); a running hadhcpd asks its partner for a resync)", len(damage))}
	for _, d := range damage {
		lines = append(lines, "damaged: "+d.String())
	}
	return errors.New(strings.Join(lines, "\n"))
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
