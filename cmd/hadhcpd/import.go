package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
	"github.com/hadhcpd/hadhcpd/migrate/isc"
	"github.com/hadhcpd/hadhcpd/migrate/kea"
	"github.com/hadhcpd/hadhcpd/migrate/keepalived"
	"github.com/hadhcpd/hadhcpd/migrate/leasedb"
	"github.com/spf13/cobra"
)

// importFlags are shared by the three import subcommands.
type importFlags struct {
	conf, leases, node, out, stateDir, vrrpFrom, report string
	ifaces                                              []string
	force                                               bool
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
		importSub("isc", "ISC dhcpd 3.x/4.x: dhcpd.conf and dhcpd.leases", true),
		importSub("kea", "Kea DHCPv4: kea-dhcp4.conf (with the HA hook) and the memfile CSV", true),
		importSub("keepalived", "keepalived.conf: vrrp_instance and vrrp_sync_group", false),
	)
	return cmd
}

func importSub(kind, short string, dhcp bool) *cobra.Command {
	var f importFlags
	c := &cobra.Command{
		Use:   kind,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runImport(kind, f, cmd.OutOrStdout(), cmd.ErrOrStderr())
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
	}
	_ = c.MarkFlagRequired("conf")
	return c
}

func runImport(kind string, f importFlags, stdout, stderr io.Writer) error {
	d := migrate.Defaults{NodeName: f.node, StateDir: f.stateDir, Interfaces: f.ifaces}
	var vrrpRes *migrate.Result
	if f.vrrpFrom != "" {
		var err error
		if vrrpRes, err = keepalived.Import(keepalived.Options{Conf: f.vrrpFrom, Defaults: d}); err != nil {
			return usageError{err}
		}
	}
	var res *migrate.Result
	var err error
	switch kind {
	case "isc":
		res, err = isc.Import(isc.Options{Conf: f.conf, Leases: f.leases, Defaults: d, VRRP: vrrpConfig(vrrpRes)})
	case "kea":
		res, err = kea.Import(kea.Options{Conf: f.conf, Leases: f.leases, Defaults: d, VRRP: vrrpConfig(vrrpRes)})
	case "keepalived":
		res, err = keepalived.Import(keepalived.Options{Conf: f.conf, Defaults: d})
	}
	if err != nil {
		return usageError{err}
	}
	if vrrpRes != nil {
		res.Report.Merge(vrrpRes.Report)
	}
	if err := res.Report.WriteText(stderr); err != nil {
		return err
	}
	if f.report != "" {
		if err := writeReport(f.report, res.Report); err != nil {
			return err
		}
	}
	if err := res.Report.Err(); err != nil && !f.force {
		return usageError{err}
	}
	y, err := migrate.MarshalConfig(res.Config, fmt.Sprintf("written by `hadhcpd import %s --conf %s`; see the import report", kind, f.conf))
	if err != nil {
		return err
	}
	if res.Leases != nil {
		n, err := leasedb.WriteDir(res.Config.Node.StateDir, res.Leases, f.force)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "\nwrote %d leases to the lease database in %s\n", n, res.Config.Node.StateDir)
	}
	if f.out == "-" {
		_, err = stdout.Write(y)
		return err
	}
	if _, err := os.Stat(f.out); err == nil && !f.force {
		return usageError{fmt.Errorf("%s exists (--force overwrites it)", f.out)}
	}
	if err := writeFileAtomic(f.out, y); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s (check it with: hadhcpd check-config -c %s)\n", f.out, f.out)
	return nil
}

// vrrpConfig is the vrrp section --vrrp-from imported, or nil.
func vrrpConfig(r *migrate.Result) *config.VRRPConfig {
	if r == nil {
		return nil
	}
	return &r.Config.VRRP
}

func writeReport(path string, r *migrate.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := r.WriteText(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeFileAtomic writes a config so a crash never leaves half a file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".hadhcpd-import-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o640)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return errors.Join(fmt.Errorf("write %s", path), werr)
	}
	return nil
}
