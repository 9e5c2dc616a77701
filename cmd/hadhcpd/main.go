// Command hadhcpd is the HA DHCPv4 appliance agent. It only parses the
// command line; the work is in packages agent, config, control and migrate.
package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/spf13/cobra"
)

// Exit codes: 1 for a failure while running, 2 for a bad configuration or
// bad command line (so scripts and systemd can tell them apart: the unit's
// RestartPreventExitStatus=2 does not restart what a restart cannot fix).
const (
	exitFailure = 1
	exitConfig  = 2
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root, err := newRootCmd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hadhcpd:", err)
		return exitFailure
	}
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		// One problem a line, so every bad key of a config is visible.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(os.Stderr, "hadhcpd:", line)
		}
		return exitCode(err)
	}
	return 0
}

// exitCode maps an error of the command line to the process's exit code.
func exitCode(err error) int {
	if errors.Is(err, config.ErrConfig) || isUsage(err) {
		return exitConfig
	}
	return exitFailure
}

// newRootCmd builds the command tree with every command-line mistake
// marked as a usage error: a malformed or unknown flag, a wrong number of
// arguments, an unknown command. Cobra reports those as plain errors, which
// would exit 1 like a failure while running.
func newRootCmd() (*cobra.Command, error) {
	root := &cobra.Command{
		Use:           "hadhcpd",
		Short:         "highly available DHCPv4 server with a native VRRPv3 speaker",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Runnable so that an unknown command reaches Args (cobra's own
		// check of the root's arguments is not an error value we can
		// tell from others); without arguments it shows the help, as
		// cobra does for a root without Run.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
			}
			return usageError{errors.New(msg)}
		},
	}
	root.PersistentFlags().StringP("config", "c", config.DefaultConfigPath, "configuration file")
	root.AddCommand(newRunCmd(), newCheckConfigCmd(), newCleanupCmd(), newLeasesCmd(), newStatusCmd(), newImportCmd(), newVersionCmd(), newMaintenanceCmd(), newPartnerDownCmd(), newEventsCmd(), newGenPSKCmd())
	// Inherited by every subcommand: a value the flag's type cannot parse
	// (--clock-offset soon) or a flag that does not exist.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.SuggestionsMinimumDistance = 2
	markUsage(root)
	if err := checkFlagValues(root); err != nil {
		return nil, err
	}
	return root, nil
}

// markUsage wraps every command's argument check so its error is a usage
// error (cobra.NoArgs, cobra.ExactArgs, ...).
func markUsage(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markUsage(sub)
	}
}

// flagChecks are the string flags whose values have a syntax: they are
// checked while the flags are parsed, so a malformed value is reported as
// the flag's (exit 2) before the command loads its config or touches
// anything, like a malformed duration. The commands parse the values
// again for their own use.
var flagChecks = []struct {
	cmd, flag string
	check     func(string) error
}{
	{"leases", "state", func(s string) error { _, err := control.ParseLeaseState(s); return err }},
	{"leases", "ip", func(s string) error {
		if _, err := netip.ParsePrefix(s); err == nil {
			return nil
		}
		if _, err := netip.ParseAddr(s); err != nil {
			return errors.New("not an address or network (192.0.2.10, 192.0.2.0/25)")
		}
		return nil
	}},
	{"leases", "hw", func(s string) error { _, err := net.ParseMAC(s); return err }},
}

// checkFlagValues puts flagChecks in front of the flags' values. An
// entry naming a command or flag that does not exist is a programming
// error (TestUsageExitCodes catches it).
func checkFlagValues(root *cobra.Command) error {
	for _, fc := range flagChecks {
		var cmd *cobra.Command
		for _, c := range root.Commands() {
			if c.Name() == fc.cmd {
				cmd = c
			}
		}
		if cmd == nil {
			return fmt.Errorf("internal error: flag check for an unknown command %q", fc.cmd)
		}
		f := cmd.Flags().Lookup(fc.flag)
		if f == nil {
			return fmt.Errorf("internal error: flag check for an unknown flag %s --%s", fc.cmd, fc.flag)
		}
		f.Value = checkedValue{flagValue: f.Value, check: fc.check}
	}
	return nil
}

// flagValue is pflag.Value (spelled out: pflag is only an indirect
// dependency of the module).
type flagValue interface {
	String() string
	Set(string) error
	Type() string
}

// checkedValue refuses a value its check refuses; pflag then reports
// `invalid argument "bogus" for "--state" flag: <why>` through the flag
// error function.
type checkedValue struct {
	flagValue
	check func(string) error
}

func (v checkedValue) Set(s string) error {
	if err := v.check(s); err != nil {
		return err
	}
	return v.flagValue.Set(s)
}

// usageError marks command-line mistakes.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func configPath(cmd *cobra.Command) string {
	p, _ := cmd.Flags().GetString("config")
	return p
}
