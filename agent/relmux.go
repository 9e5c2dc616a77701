package agent

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
	"github.com/hadhcpd/hadhcpd/sync/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// connMux is one failover.listen socket shared by the relationships this
// box is the secondary of. The partner of each dials from its own
// address (sync/peer: the primary dials from failover.listen's host), so
// a connection's source address names its relationship; config refuses
// two relationships with one partner on one listener. The connection
// then goes through that relationship's link exactly as on a listener of
// its own: its admission limits, its key (a peer proves the key of the
// relationship it reached, and is trusted for that relationship's
// records only, relView.Apply). A connection from any other address is
// closed at once, logged (peer.RefusalLog: once per source a minute) and
// counted.
type connMux struct {
	ln      net.Listener
	log     *slog.Logger
	unknown prometheus.Counter
	routes  map[netip.Addr]*subListener
	refused *peer.RefusalLog // the log of refusals, by source
}

// subBacklog is how many connections may wait for one relationship's
// link to take them; more are closed (its link admits a few at a time
// anyway).
const subBacklog = 8

func newConnMux(ln net.Listener, log *slog.Logger, unknown prometheus.Counter, clk clock.Clock) *connMux {
	return &connMux{ln: ln, log: log, unknown: unknown, routes: map[netip.Addr]*subListener{}, refused: peer.NewRefusalLog(clk)}
}

// route is the listener of the relationship whose partner is peer.
func (m *connMux) route(partner netip.Addr) net.Listener {
	s := &subListener{addr: m.ln.Addr(), conns: make(chan net.Conn, subBacklog), done: make(chan struct{})}
	m.routes[partner.Unmap()] = s
	return s
}

// run accepts until ctx ends, then closes the socket and every route.
// An accept error other than the socket's close is retried after a pause
// that doubles up to a second (out of descriptors, a connection aborted
// in the queue), logged once per streak.
func (m *connMux) run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { m.ln.Close() })
	defer stop()
	defer m.closeRoutes(net.ErrClosed)
	var pause time.Duration
	for {
		c, err := m.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				m.closeRoutes(err)
				return err
			}
			if pause == 0 {
				m.log.Warn("peer link: cannot accept connections; retrying", "err", err)
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			continue
		}
		pause = 0
		m.dispatch(c)
	}
}

func (m *connMux) dispatch(c net.Conn) {
	var src netip.Addr
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		src = ta.AddrPort().Addr().Unmap()
	}
	s := m.routes[src]
	if s == nil {
		c.Close()
		m.unknown.Inc()
		if m.refused.Allow(src.String()) {
			m.log.Warn("peer link: refused connection from an address that is no relationship's partner", "ip", src.String())
		}
		return
	}
	select {
	case <-s.done:
		c.Close()
		return
	default:
	}
	select {
	case s.conns <- c:
	default:
		c.Close() // the link is not taking connections as fast as they come
	}
}

func (m *connMux) closeRoutes(err error) {
	for _, s := range m.routes {
		s.fail(err)
	}
}

// subListener is one relationship's share of a connMux: what its link
// Serves.
type subListener struct {
	addr  net.Addr
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
	err   error // set before done closes
}

func (s *subListener) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.done:
		return nil, s.err
	}
}

// Close stops this route (the link's Serve closes its listener when it
// ends); the shared socket stays for the others.
func (s *subListener) Close() error {
	s.fail(net.ErrClosed)
	return nil
}

func (s *subListener) fail(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
		for {
			select {
			case c := <-s.conns:
				c.Close()
			default:
				return
			}
		}
	})
}

func (s *subListener) Addr() net.Addr { return s.addr }
