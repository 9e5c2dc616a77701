package peer

// The link's connections: the secondary accepts, the primary dials, and
// refused peers are logged (rate-limited per source) and counted.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
)

// Run runs the link until ctx ends: the primary dials Peer (from Listen's
// host address), the secondary accepts on Listen. Only the primary dials,
// so two connections never race (doc.go "Connections").
func (l *Link) Run(ctx context.Context) error {
	if l.opts.Role == Secondary {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", l.opts.Listen)
		if err != nil {
			return fmt.Errorf("peer: listen %s: %w", l.opts.Listen, err)
		}
		return l.Serve(ctx, ln)
	}
	return l.dialLoop(ctx)
}

// Serve accepts partner connections on ln until ctx ends, then closes ln
// and the current session.
func (l *Link) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			ln.Close()
			wg.Wait()
			l.shutdown()
			return fmt.Errorf("peer: accept: %w", err)
		}
		wg.Go(func() { _ = l.HandleConn(ctx, c, false) })
	}
	l.shutdown()
	wg.Wait()
	return nil
}

func (l *Link) dialLoop(ctx context.Context) error {
	d := net.Dialer{Timeout: l.opts.MaxResponseDelay}
	if host, _, err := net.SplitHostPort(l.opts.Listen); err == nil && host != "" {
		if ip, err := netip.ParseAddr(host); err == nil {
			d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0))
		}
	}
	pause := max(l.opts.MaxResponseDelay/3, 100*time.Millisecond)
	logged := false
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "tcp", l.opts.Peer)
		if err == nil {
			logged = false
			// HandleConn's error is logged and counted inside; the loop
			// redials either way.
			_ = l.HandleConn(ctx, c, true)
		} else if !logged && ctx.Err() == nil {
			// Once per outage: the partner may be down for hours.
			l.lg.Warn("peer link: cannot reach partner", "op", "dial", "peer", l.opts.Peer, "err", err)
			logged = true
		}
		t := l.clock.NewTimer(pause)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
		}
	}
	l.shutdown()
	return nil
}

func (l *Link) shutdown() {
	l.mu.Lock()
	l.closed = true
	cur := l.cur
	l.failCallsLocked()
	l.mu.Unlock()
	if cur != nil {
		cur.close(ErrClosed)
	}
}

func (l *Link) emit(ev Event) {
	if l.opts.OnEvent == nil {
		return
	}
	l.evMu.Lock()
	defer l.evMu.Unlock()
	l.opts.OnEvent(ev)
}

// refusals rate-limits the refusal log: one line per source address and
// reason per refuseLogEvery.
type refusals struct {
	clock clock.Clock
	mu    sync.Mutex
	last  map[string]time.Time
}

const refuseLogEvery = time.Minute

func newRefusals(c clock.Clock) *refusals {
	return &refusals{clock: c, last: make(map[string]time.Time)}
}

func (r *refusals) shouldLog(src string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	if t, ok := r.last[src]; ok && now.Sub(t) < refuseLogEvery {
		return false
	}
	if len(r.last) > 1024 { // bound the map under a scan from many sources
		for k, t := range r.last {
			if now.Sub(t) >= refuseLogEvery {
				delete(r.last, k)
			}
		}
	}
	r.last[src] = now
	return true
}

func (l *Link) refuse(remote net.Addr, reason string, err error) {
	l.m.Refused.WithLabelValues(reason).Inc()
	src := "unknown"
	if remote != nil {
		src = remote.String()
		if h, _, e := net.SplitHostPort(src); e == nil {
			src = h
		}
	}
	if l.refused.shouldLog(src + " " + reason) {
		l.lg.Warn("peer link: refused partner connection", "op", "auth", "ip", src, "reason", reason, "err", err)
	}
}

// isEOF tells an orderly close from a failure, for the Down reason.
func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}
