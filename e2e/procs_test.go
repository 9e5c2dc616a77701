package e2e

import (
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestIntegrationAgentProcs: `hadhcpd run` applies its GOMAXPROCS rule
// (cmd/hadhcpd agentProcs, pinned by TestAgentProcs there: half the cores,
// at least one, when GOMAXPROCS is unset) and says so in its start line.
func TestIntegrationAgentProcs(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set in the test's environment; the agent keeps it")
	}
	l := newSoloLab(t, "1h")
	want := max(1, runtime.GOMAXPROCS(0)/2)
	l.waitLog(`msg="hadhcpd running" .*gomaxprocs=`+strconv.Itoa(want)+`\b`, 5*time.Second)
}
