package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hadhcpd/hadhcpd/agent/pair"
)

// notifier speaks systemd's sd_notify protocol: datagrams on the unix socket
// named by $NOTIFY_SOCKET (sd_notify(3)). A few lines, no dependency. With
// no socket (not started by systemd) every call is a no-op.
type notifier struct {
	addr     *net.UnixAddr
	watchdog time.Duration // $WATCHDOG_USEC; 0 = no watchdog
}

func newNotifier(getenv func(string) string) *notifier {
	n := &notifier{}
	if s := getenv("NOTIFY_SOCKET"); s != "" {
		if s[0] == '@' { // abstract namespace
			s = "\x00" + s[1:]
		}
		n.addr = &net.UnixAddr{Name: s, Net: "unixgram"}
	}
	// WATCHDOG_PID, when set, names the process the watchdog is for.
	if pid := getenv("WATCHDOG_PID"); pid == "" || pid == strconv.Itoa(os.Getpid()) {
		if us, err := strconv.ParseInt(getenv("WATCHDOG_USEC"), 10, 64); err == nil && us > 0 {
			n.watchdog = time.Duration(us) * time.Microsecond
		}
	}
	return n
}

func (n *notifier) send(state string) error {
	if n.addr == nil {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

// keepalive sends WATCHDOG=1 at half the watchdog interval (sd_watchdog_enabled(3)
// recommends it) until ctx ends. alive reports whether the agent's parts are
// still making progress (liveness.alive); a stuck agent stops pinging and
// systemd restarts it (WatchdogSec with Restart=on-failure: a watchdog
// timeout counts as a failure).
func (n *notifier) keepalive(ctx context.Context, alive func() bool) {
	if n.addr == nil || n.watchdog == 0 {
		return
	}
	t := time.NewTicker(n.watchdog / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if alive() {
				_ = n.send("WATCHDOG=1")
			}
		}
	}
}

// Why the watchdog stops: a part's loop that does not go round, and the
// lease database's sticky write failure.
var (
	ErrStuck   = errors.New("no progress")
	ErrLeaseDB = errors.New("lease database failed")
)

// probeBound is how long a part's loop may leave a ping unanswered. A
// healthy loop answers within microseconds (it does a no-op, or the
// DHCP loop's next one-second tick); five seconds is a loop that is
// stuck, not slow, and is still well inside systemd's WatchdogSec (10 s in
// systemd/hadhcpd.service: pings go on while a ping is merely pending).
// Paths that may wait for the partner by design (the commit path, up to
// failover.max_response_delay) get that on top.
const probeBound = 5 * time.Second

// probe is one part's liveness check. ping asks the part's loop for
// proof of progress and returns a ticket; pong is the last ticket the loop
// answered (a loop answers every ping made before its latest iteration).
// fail, when set, reports a failure no progress undoes (the lease
// database's) or a path that stopped completing; now is the agent's time.
// All three must be cheap and never block: they run on every keepalive
// tick.
type probe struct {
	name  string
	bound time.Duration
	ping  func() uint64
	pong  func() uint64
	fail  func(now time.Time) error

	// Owned by liveness.check.
	ticket  uint64
	askedAt time.Time
	asked   bool
}

// liveness is the watchdog's decision: ping systemd while every part
// makes progress. Pure but for the probes' own functions: time is given,
// so tests drive it with any clock. Not safe for concurrent use (the
// keepalive goroutine owns it).
type liveness struct {
	probes []*probe
	log    *slog.Logger
	why    string // the failure last logged; "" while alive
}

// check returns nil while every part is alive at now, else the first
// failure, naming the part. A part is alive while its last ping was
// answered, or is pending for at most its bound; an answered part is
// pinged again. The first check only pings.
func (l *liveness) check(now time.Time) error {
	for _, p := range l.probes {
		if p.fail != nil {
			if err := p.fail(now); err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
		}
		if p.ping == nil {
			continue
		}
		if p.asked && p.pong() < p.ticket {
			if waited := now.Sub(p.askedAt); waited > p.bound {
				return fmt.Errorf("%s: %w: a no-op sent %v ago is still unanswered (bound %v)", p.name, ErrStuck, waited.Round(time.Millisecond), p.bound)
			}
			continue
		}
		p.ticket, p.askedAt, p.asked = p.ping(), now, true
	}
	return nil
}

// alive is check, logged: at WARN once when the agent stops being alive
// (which part, why: systemd will restart it), at INFO if it recovers
// before systemd acted.
func (l *liveness) alive(now time.Time) bool {
	err := l.check(now)
	switch {
	case err != nil && l.why == "":
		l.why = err.Error()
		l.log.Warn("watchdog: a part is not making progress; no more WATCHDOG=1, systemd will restart the agent", "err", err)
	case err == nil && l.why != "":
		l.log.Info("watchdog: every part makes progress again", "was", l.why)
		l.why = ""
	}
	return err == nil
}

// pairProbes is the failover loop's liveness check: the pair answers a
// ping with the next step of its loop (pair.Pair.Ping).
func pairProbes(fo *pair.Pair) []*probe {
	if fo == nil {
		return nil
	}
	return []*probe{{name: "failover machine loop", bound: probeBound, ping: fo.Ping, pong: fo.Pong}}
}

// progress is the ping/pong pair of a loop that wakes by itself (the DHCP
// part's one-second tick): ping needs no poke. Two atomics, no allocation.
type progress struct {
	asked    atomic.Uint64
	answered atomic.Uint64
}

func (p *progress) ping() uint64 { return p.asked.Add(1) }
func (p *progress) pong() uint64 { return p.answered.Load() }

// answer is called by the loop at every iteration.
func (p *progress) answer() { p.answered.Store(p.asked.Load()) }
