package peer

import (
	"testing"

	"github.com/hadhcpd/hadhcpd/clock/clocktest"
)

// TestNoWallClock: heartbeats, link-down verdicts, redial pauses and the
// clocks carried in frames all come from Options.Clock (STYLE.md §3).
// The exceptions are real time on purpose: two time how long something
// took for a histogram (a monotonic duration, which a fake clock would
// stop at zero), and the socket's read deadlines are the kernel's clock.
func TestNoWallClock(t *testing.T) {
	clocktest.NoWallClock(t, ".", map[string]string{
		"link.go:Link.Send":            "AckSeconds: the ack round trip",
		"recv.go:session.applyPending": "ApplySeconds: the Store's apply",
		"session.go:Link.handleConn":   "the nudge reader's net.Conn read deadlines",
	})
}
