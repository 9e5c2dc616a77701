package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/hadhcpd/hadhcpd/agent"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/spf13/cobra"
)

// clockOffsetFlag is the hidden flag of the clock skew tests (e2e/skew_test.go):
// Go reads the time with vDSO calls libfaketime cannot intercept, so a
// skewed box is made by the agent itself (agent.Options.ClockOffset).
const clockOffsetFlag = "clock-offset"

func newRunCmd() *cobra.Command {
	var offset time.Duration
	cmd := &cobra.Command{
		Use:   "run",
		Short: "run the agent in the foreground (systemd starts it this way); SIGHUP reloads the dhcp section",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := agent.Options{ClockOffset: offset}
			if err := opts.Validate(); err != nil {
				return usageError{fmt.Errorf("--%s: %w", clockOffsetFlag, err)}
			}
			path := configPath(cmd)
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			runtime.GOMAXPROCS(agentProcs(os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0)))
			log := agent.NewLogger(os.Stderr, cfg.Node)
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			opts.Reload = agent.Reload{C: hup, Load: func() (*config.Config, error) { return config.Load(path) }}
			return agent.RunWith(ctx, cfg, log, opts)
		},
	}
	cmd.Flags().DurationVar(&offset, clockOffsetFlag, 0,
		"FOR TESTS ONLY: run with this agent's wall time = real time + DURATION (lease times, failover, the clock sent to the partner; timers keep normal speed), to test clock skew between the boxes")
	// Hidden: a test hook, not a setting (a skewed box is a fault to
	// survive, not a way to run).
	_ = cmd.Flags().MarkHidden(clockOffsetFlag)
	return cmd
}

// agentProcs is the agent's GOMAXPROCS: half of the CPUs Go would use
// (runtime, the cgroup quota or the CPU affinity mask), at least one,
// unless the environment sets GOMAXPROCS (then Go's reading of it stays).
//
// The agent runs at nice -10 while it speaks VRRP (vrrpNice), and it
// shares a gateway with packet forwarding and the rest of the appliance.
// With a goroutine-running thread per core, a burst of DHCP work took both
// cores of a two-core box at that priority: under perfdhcp on two cores
// (scripts/bench-ha.sh, unpinned) the load generator, starved, lost
// 1,700-7,000 replies per run at its full socket (1-7 % drops), and the
// agent paid ~10 % more CPU per DORA in cross-core wakeups. With one, the
// same runs lost 0-145; one core gives over 20,000 DORA/s, far beyond a
// real segment's need. ISC dhcpd, Kea (by default) and keepalived each
// take one core, too.
func agentProcs(env string, current int) int {
	if env != "" {
		return current
	}
	return max(1, current/2)
}
