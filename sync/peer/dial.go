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
	"os"
	"sync"
	"syscall"
	"time"
)

// Run runs the link until ctx ends: the primary dials Peer (from Listen's
// host address), the secondary accepts on Listen. Only the primary dials,
// so two connections never race (doc.go "Connections"). It returns early,
// with an error naming failover.listen, only when the link can never work
// as configured (the address is not this box's, the listener broke); the
// agent then stops.
func (l *Link) Run(ctx context.Context) error {
	if l.opts.Role == Secondary {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", l.opts.Listen)
		if err != nil {
			l.shutdown()
			return fmt.Errorf("peer: failover.listen %s: %w", l.opts.Listen, err)
		}
		return l.Serve(ctx, ln)
	}
	return l.dialLoop(ctx)
}

// Accept errors are retried after a pause that doubles from
// acceptPauseMin up to acceptPauseMax: short enough to take the partner's
// connection soon after descriptors are free again, long enough not to
// spin while the process is out of them.
const (
	acceptPauseMin = 5 * time.Millisecond
	acceptPauseMax = time.Second
)

// Serve accepts partner connections on ln until ctx ends, then closes ln
// and the current session. Connections beyond the unauthenticated limits
// (admit.go) are closed at once. A transient accept error (out of
// descriptors or memory, a connection aborted in the queue) is retried
// with backoff; any other ends Serve at once, its sessions with it.
func (l *Link) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var (
		err    error
		streak int // accept errors in a row
		pause  time.Duration
	)
	for {
		c, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() != nil {
				break
			}
			if !transientAccept(aerr) {
				err = fmt.Errorf("peer: failover.listen %s: accept: %w", ln.Addr(), aerr)
				break
			}
			l.m.AcceptErrors.Inc()
			if streak == 0 {
				// Once per streak: under a descriptor limit this
				// repeats every second until the limit is lifted.
				l.lg.Warn("peer link: cannot accept connections; retrying", "op", "accept",
					"listen", ln.Addr().String(), "err", aerr)
			}
			streak++
			pause = min(max(2*pause, acceptPauseMin), acceptPauseMax)
			t := l.clock.NewTimer(pause)
			select {
			case <-t.C():
			case <-ctx.Done():
				t.Stop()
			}
			continue
		}
		if streak > 0 {
			l.lg.Info("peer link: accepting connections again", "op", "accept", "listen", ln.Addr().String(), "failed", streak)
			streak, pause = 0, 0
		}
		remote := c.RemoteAddr()
		release, reason, rerr := l.admit.admit(addrIP(remote))
		if reason != "" {
			c.Close()
			l.refuse(remote, reason, rerr)
			continue
		}
		wg.Go(func() { _ = l.handleConn(ctx, c, false, release) })
	}
	// Also on a permanent error: end the handshakes and the session now,
	// so the caller learns of it at once, not when ctx ends.
	cancel()
	ln.Close()
	l.shutdown()
	wg.Wait()
	return err
}

// transientAccept reports whether an accept error may go away by itself:
// a timeout, a lack of descriptors, buffers or memory, or an error of the
// connection being accepted (accept(2) says to retry those).
func transientAccept(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.EINTR, syscall.EAGAIN,
		syscall.EPROTO, syscall.EPERM, syscall.ENETDOWN, syscall.ENETUNREACH,
		syscall.EHOSTDOWN, syscall.EHOSTUNREACH, syscall.ENOPROTOOPT, syscall.EOPNOTSUPP:
		return true
	}
	return false
}

// badSource reports whether a dial failed because the source address
// (the host of failover.listen) is not one of this box's, which no retry
// mends.
func badSource(err error) bool {
	var se *os.SyscallError
	return errors.As(err, &se) && se.Syscall == "bind" && errors.Is(se.Err, syscall.EADDRNOTAVAIL)
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
		if err != nil && badSource(err) {
			l.shutdown()
			return fmt.Errorf("peer: failover.listen %s: not an address of this box: %w", l.opts.Listen, err)
		}
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

func (l *Link) refuse(remote net.Addr, reason string, err error) {
	l.m.Refused.WithLabelValues(reason).Inc()
	src := "unknown"
	if remote != nil {
		src = remote.String()
		if h, _, e := net.SplitHostPort(src); e == nil {
			src = h
		}
	}
	if l.refused.Allow(src + " " + reason) {
		l.lg.Warn("peer link: refused partner connection", "op", "auth", "ip", src, "reason", reason, "err", err)
	}
}

// isEOF tells an orderly close from a failure, for the Down reason.
func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}
