// Command hadhcpd is the HA DHCPv4 appliance agent. It only parses the
// command line; everything else lives in package agent.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hadhcpd/hadhcpd/agent"
	"github.com/spf13/cobra"
)

// Exit codes: 1 for a failure while running, 2 for a bad configuration or
// bad command line (so scripts and systemd can tell them apart).
const (
	exitFailure = 1
	exitConfig  = 2
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := &cobra.Command{
		Use:           "hadhcpd",
		Short:         "highly available DHCPv4 server with a native VRRPv3 speaker",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringP("config", "c", agent.DefaultConfigPath, "configuration file")
	root.AddCommand(newRunCmd(), newCheckConfigCmd(), newCleanupCmd(), newLeasesCmd(), newStatusCmd(), newImportCmd(), newVersionCmd(), newMaintenanceCmd(), newPartnerDownCmd())
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		// One problem a line, so every bad key of a config is visible.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(os.Stderr, "hadhcpd:", line)
		}
		if errors.Is(err, agent.ErrConfig) || isUsage(err) {
			return exitConfig
		}
		return exitFailure
	}
	return 0
}

// usageError marks command-line mistakes.
type usageError struct{ error }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func configPath(cmd *cobra.Command) string {
	p, _ := cmd.Flags().GetString("config")
	return p
}
