package main

import (
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

func TestAgentProcs(t *testing.T) {
	for _, c := range []struct {
		env           string
		current, want int
	}{
		{"", 1, 1}, // pinned to one core (taskset, a cgroup quota of one CPU)
		{"", 2, 1}, // the two-core gateway: the other core is left to forwarding
		{"", 3, 1},
		{"", 8, 4},
		{"2", 2, 2}, // the operator's GOMAXPROCS stands
		{"8", 8, 8},
	} {
		if got := agentProcs(c.env, c.current); got != c.want {
			t.Errorf("agentProcs(%q, %d) = %d, want %d", c.env, c.current, got, c.want)
		}
	}
}

// TestIntegrationAgentProcs: `hadhcpd run` applies agentProcs and says so
// in its start line.
func TestIntegrationAgentProcs(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set in the test's environment; the agent keeps it")
	}
	l := newLab(t, "1h")
	want := agentProcs("", runtime.GOMAXPROCS(0))
	l.waitLog(`msg="hadhcpd running" .*gomaxprocs=`+strconv.Itoa(want)+`\b`, 5*time.Second)
}
