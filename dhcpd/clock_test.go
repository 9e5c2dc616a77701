package dhcpd

import (
	"testing"

	"github.com/hadhcpd/hadhcpd/clock/clocktest"
)

// TestNoWallClock: every lease time the engine stamps or compares comes
// from EngineOptions.Clock (STYLE.md §3). The exceptions pace the socket
// and commit plumbing in real time: they decide when work runs, never a
// lease's times, and a fake clock must not stall them.
func TestNoWallClock(t *testing.T) {
	clocktest.NoWallClock(t, ".", map[string]string{
		"commit.go:Engine.commitLoop":   "the group-commit spacing",
		"server.go:Server.Run":          "the interface-address refresh ticker",
		"server.go:Server.readLoop":     "the back-off after a receive error",
		"server.go:Server.refreshAddrs": "rate-limiting address refreshes",
	})
}
