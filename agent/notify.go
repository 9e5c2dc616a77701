package agent

import (
	"context"
	"net"
	"os"
	"strconv"
	"time"
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
// still making progress; a stuck agent stops pinging and systemd restarts it.
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
