package peer

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// nudgeEvery is how long the session's reader waits in the runtime's
// network poller, while the partner owes us an ack, before it tries the
// socket again on its own (see nudgeReader).
const nudgeEvery = time.Millisecond

// nudgeReader is the session reader's input. While the partner owes us an
// ack, the reader's Read carries a deadline nudgeEvery ahead, renewed each
// time it passes; a Read that ends on that deadline with nothing read is
// simply tried again.
//
// Why: the agent runs Go with one thread for goroutines on a two-core box
// (cmd/hadhcpd agentProcs), and under load that thread is the DHCP
// reader's: it handles requests, yields with runtime.Gosched (which
// requeues it at once) and blocks in ppoll(2) holding the P. Go's
// scheduler asks the network poller only when it has nothing else to run,
// or from sysmon every 10 ms, so the partner's ack sat in our socket for
// 5 ms on average (a Go execution trace of the active box at 12,000
// DORA/s: the link reader woke every 10.1 ms, p50 3.7 ms after the partner
// wrote its ack), and every client's ACK of the batch waited with it, then
// left in a burst. Timers, unlike the poller, are run on every scheduling
// round: the expiring deadline wakes the reader, and the retried read(2)
// takes the ack the poller had not reported. Nothing owed, no deadline:
// an idle link costs no wakeups.
//
// Deadlines are ours alone once the session is established (the watchdog
// closes the connection rather than setting one), and TLS keeps working
// after a read timeout (crypto/tls treats it as temporary). A timeout
// while no deadline of ours is set goes to the caller as it is.
type nudgeReader struct {
	c net.Conn
	// owed reports whether the partner owes us an ack (records or a
	// snapshot page in flight); it takes the link's lock.
	owed  func() bool
	every time.Duration
	// now is the deadline's clock: the runtime's, not the link's
	// injected one (a deadline is plumbing, like the engine's pacing).
	now func() time.Time

	mu    sync.Mutex
	armed bool // a deadline of ours is on c
}

// arm puts a deadline on the reader's wait: the writer calls it after it
// wrote what the partner will ack, so a reader already waiting in the
// poller is nudged too.
func (r *nudgeReader) arm() {
	if r.every <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.c.SetReadDeadline(r.now().Add(r.every)); err == nil {
		r.armed = true
	}
}

func (r *nudgeReader) Read(p []byte) (int, error) {
	for {
		n, err := r.c.Read(p)
		if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) || !r.rearm() {
			return n, err
		}
	}
}

// rearm runs after a read ended on a deadline: it reports whether the
// deadline was ours (then the read is tried again), renewing it while an
// ack is owed and clearing it otherwise.
func (r *nudgeReader) rearm() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.armed {
		return false
	}
	d := time.Time{}
	if r.owed() {
		d = r.now().Add(r.every)
	}
	if err := r.c.SetReadDeadline(d); err != nil {
		return false
	}
	r.armed = !d.IsZero()
	return true
}

// partnerOwesAck reports whether the partner owes this session an ack: an update
// sent and not acknowledged, or a snapshot page in flight.
func (s *session) partnerOwesAck() bool {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur == s && s.established && (l.sent > l.acked || (s.snap != nil && s.snap.inflight))
}
