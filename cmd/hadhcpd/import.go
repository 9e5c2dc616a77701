package main

import (
	"errors"
	"io"

	"github.com/hadhcpd/hadhcpd/migrate"
	"github.com/hadhcpd/hadhcpd/migrate/isc"
	"github.com/hadhcpd/hadhcpd/migrate/kea"
	"github.com/hadhcpd/hadhcpd/migrate/keepalived"
	"github.com/hadhcpd/hadhcpd/migrate/leasedb"
	"github.com/spf13/cobra"
)

// importFlags are shared by the three import subcommands.
type importFlags struct {
	conf, leases, node, out, stateDir, vrrpFrom, report, root, vip string
	partner                                                        string
	ifaces                                                         []string
	force                                                          bool
}

func newImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "turn an ISC dhcpd, Kea or keepalived setup into hadhcpd.yaml and a lease database",
		Long: `import reads another server's configuration (and lease file) and writes
hadhcpd.yaml plus, with a lease file, hadhcpd's lease database in --state-dir.
It prints a report: every statement mapped (file:line -> key), every one not
carried over with why, and the node-local values it had to invent. When the
source holds something hadhcpd cannot express it exits non-zero and writes
nothing, unless --force.`,
	}
	cmd.AddCommand(
		importSub(isc.Format(), "ISC dhcpd 3.x/4.x: dhcpd.conf and dhcpd.leases", true),
		importSub(kea.Format(), "Kea DHCPv4: kea-dhcp4.conf (with the HA hook) and the memfile CSV", true),
		importSub(keepalived.Format(), "keepalived.conf: vrrp_instance and vrrp_sync_group", false),
	)
	return cmd
}

func importSub(format migrate.Format, short string, dhcp bool) *cobra.Command {
	var f importFlags
	c := &cobra.Command{
		Use:   format.Name,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runImport(format, f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.conf, "conf", "", "source configuration file (required)")
	fl.StringVar(&f.node, "node", "", "node.name of this box (default: gw1, or gw2 for a failover secondary)")
	fl.StringVarP(&f.out, "output", "o", "hadhcpd.yaml", "where to write the config ('-' = stdout)")
	fl.StringVar(&f.stateDir, "state-dir", migrate.DefaultStateDir, "node.state_dir; leases are written here")
	fl.StringVar(&f.report, "report", "", "also write the report to this file")
	fl.BoolVar(&f.force, "force", false, "write the output although some statements cannot be carried over; merge into a non-empty lease database")
	if dhcp {
		fl.StringVar(&f.leases, "leases", "", "source lease file (optional)")
		fl.StringSliceVar(&f.ifaces, "interface", nil, "dhcp.interfaces when the source does not name them")
		fl.StringVar(&f.vrrpFrom, "vrrp-from", "", "take the vrrp section from this keepalived.conf")
		fl.StringVar(&f.root, "root", "", "a copy of the old server's file system: absolute include paths are read under it")
		fl.StringVar(&f.vip, "vip", "", "virtual IP of the invented VRRP instance (ADDRESS[/LEN], or 'router' when these boxes are the subnet's router); default: an address the source uses nowhere, reported as a placeholder")
	}
	if format.ParsePair != nil {
		fl.StringVar(&f.partner, "partner-conf", "", "the failover partner's configuration file: importing a secondary, the settings the primary alone holds (mclt, split) are taken from it")
	}
	_ = c.MarkFlagRequired("conf")
	return c
}

func runImport(format migrate.Format, f importFlags, stdout, stderr io.Writer) error {
	d := migrate.Defaults{NodeName: f.node, StateDir: f.stateDir, Interfaces: f.ifaces, VIP: f.vip}
	job := migrate.Job{
		Input:       migrate.Input{Format: format, Conf: f.conf, Leases: f.leases, Defaults: d, Root: f.root, Partner: f.partner},
		Output:      f.out,
		ReportFile:  f.report,
		Force:       f.force,
		WriteLeases: leasedb.WriteDir,
		Stdout:      stdout,
		Stderr:      stderr,
	}
	if f.vrrpFrom != "" {
		job.VRRPFrom = &migrate.Input{Format: keepalived.Format(), Conf: f.vrrpFrom, Defaults: d}
	}
	if err := job.Run(); err != nil {
		if errors.Is(err, migrate.ErrInput) {
			return usageError{err}
		}
		return err
	}
	return nil
}
