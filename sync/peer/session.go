package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// session is one connection to the partner: the handshake, then a reader
// (the goroutine that called HandleConn), a writer and a watchdog. Only
// the writer writes to the connection; the reader and the watchdog queue
// control frames and wake it.
type session struct {
	l      *Link
	c      net.Conn
	fr     *frameReader
	nudge  *nudgeReader // fr's input
	remote net.Addr

	wake       chan struct{} // cap 1
	done       chan struct{} // closed by close
	writerDone chan struct{}
	closeOnce  sync.Once
	why        error // close's reason: set before done is closed, read after
	// release frees the connection's admission slot (Serve's admission);
	// nil for a dialed connection. Called once, at authentication or at
	// the end, whichever comes first.
	release     func()
	releaseOnce sync.Once
	lastHeard   atomic.Int64 // clock.Now().UnixNano() of the last frame read
	// The reader's side of liveness (liveness.go): busy while it handles
	// a frame, ready when it last finished one (UnixNano).
	busy atomic.Bool
	// writerIdle: the writer waits for work (nothing gathered is unsent);
	// idle gets a token each time it starts to wait.
	writerIdle atomic.Bool
	idle       chan struct{}
	ready      atomic.Int64

	dialed bool // this end opened the connection: the PSK initiator

	// Guarded by l.mu.
	plain        []byte  // handshake frames waiting for the writer, sent before ctrl and never sealed
	tx           *sealer // PSK: seals ctrl and everything after it (set once, then the writer's)
	ctrl         []byte  // encoded control frames waiting for the writer
	established  bool
	syncTarget   int  // our records [0,syncTarget) existed when the session began
	syncPending  bool // we still owe FrameSyncDone
	snap         *snapOut
	partnerState uint8
	suspect      bool // the VRRP path says the partner is silent (Link.PartnerSilent)

	// Reader goroutine only.
	authed       bool // the partner proved its key
	ours, theirs hello
	streamSet    bool // the partner's FrameStream arrived
	inSnapshot   bool
	nextPage     uint32
	lastPage     bool
	inRecords    int
	ackOwed      bool
	// Updates read but not applied yet: the reader applies every update
	// frame already in its buffer in one Store.Apply (one fsync) before
	// it acks, instead of one fsync per frame while the later ones wait.
	pend      []lease.Lease
	pendLast  uint64
	pendAddrs map[netip.Addr]struct{}
}

// HandleConn runs one session over c until it ends and returns why. Run
// and Serve call it for every connection; tests call it with net.Pipe.
// dialed says this end opened the connection (the TLS client).
func (l *Link) HandleConn(ctx context.Context, c net.Conn, dialed bool) error {
	return l.handleConn(ctx, c, dialed, nil)
}

// handleConn is HandleConn with the admission slot the connection holds
// until its partner is authenticated (nil: none).
func (l *Link) handleConn(ctx context.Context, c net.Conn, dialed bool, release func()) error {
	s := &session{
		l: l, c: c, remote: c.RemoteAddr(), release: release, dialed: dialed,
		wake: make(chan struct{}, 1), done: make(chan struct{}), writerDone: make(chan struct{}), idle: make(chan struct{}, 1),
	}
	defer s.releaseSlot()
	s.lastHeard.Store(l.clock.Now().UnixNano())
	// The watchdog bounds the handshake too: a connection that has not
	// authenticated within max_response_delay is closed.
	go s.watchdog()
	stop := context.AfterFunc(ctx, func() { s.close(ErrClosed) })
	defer stop()
	if l.opts.TLS != nil {
		var tc *tls.Conn
		if dialed {
			tc = tls.Client(c, l.opts.TLS)
		} else {
			tc = tls.Server(c, l.opts.TLS)
		}
		if err := tc.HandshakeContext(ctx); err != nil {
			s.close(err)
			if errors.Is(s.closedBy(), ErrTimeout) {
				l.refuse(s.remote, "timeout", fmt.Errorf("%w: TLS handshake unfinished", ErrTimeout))
				return fmt.Errorf("%w: tls: %w", ErrTimeout, err)
			}
			if ctx.Err() == nil {
				l.refuse(s.remote, "tls", err)
			}
			return fmt.Errorf("%w: tls: %w", ErrAuth, err)
		}
		s.c = tc
	}
	s.nudge = &nudgeReader{c: s.c, owed: s.partnerOwesAck, every: l.nudge, now: time.Now}
	s.fr = newHandshakeReader(s.nudge)
	go s.writer()
	err := s.run()
	s.close(err)
	<-s.writerDone
	return err
}

// releaseSlot frees the admission slot, once.
func (s *session) releaseSlot() {
	if s.release != nil {
		s.releaseOnce.Do(s.release)
	}
}

// closedBy is the reason close was called with, or nil while the session
// is open.
func (s *session) closedBy() error {
	select {
	case <-s.done:
		return s.why
	default:
		return nil
	}
}

func (s *session) wakeWriter() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// queueLocked appends a control frame for the writer. l.mu held.
func (s *session) queueLocked(t FrameType, p []byte) {
	s.ctrl = appendFrame(s.ctrl, t, p)
	s.wakeWriter()
}

func (s *session) queue(t FrameType, p []byte) {
	s.l.mu.Lock()
	s.queueLocked(t, p)
	s.l.mu.Unlock()
}

// queuePlain queues a handshake frame, which goes out before every
// control frame and, after a PSK handshake, unsealed.
func (s *session) queuePlain(t FrameType, p []byte) {
	s.l.mu.Lock()
	s.plain = appendFrame(s.plain, t, p)
	s.wakeWriter()
	s.l.mu.Unlock()
}

// close ends the session once; when it was the link's current session the
// link goes down: waiting Replicate calls fail, and Down is emitted.
func (s *session) close(err error) {
	s.closeOnce.Do(func() {
		s.why = err
		close(s.done)
		s.c.Close()
		l := s.l
		l.mu.Lock()
		wasUp := false
		if l.cur == s {
			l.cur = nil
			l.sent = l.acked
			l.failCallsLocked()
			wasUp = s.established
		}
		l.mu.Unlock()
		if !wasUp {
			return
		}
		l.m.LinkUp.Set(0)
		if isEOF(err) {
			err = fmt.Errorf("peer: connection closed: %w", err)
		}
		l.lg.Warn("peer link down", "op", "link", "peer", s.theirs.Name, "err", err)
		l.emit(Down{Reason: err})
	})
}

func (s *session) heard() { s.lastHeard.Store(s.l.clock.Now().UnixNano()) }

// recheckSilent applies the liveness verdict once, after d (the session
// was marked suspect by Link.PartnerSilent), unless the session ended.
func (s *session) recheckSilent(d time.Duration) {
	l := s.l
	t := l.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.done:
		return
	case <-t.C():
	}
	l.mu.Lock()
	lv := s.livenessLocked()
	l.mu.Unlock()
	if err := lv.verdict(l.clock.Now(), l.opts.MaxResponseDelay); err != nil {
		s.close(err)
	}
}

// livenessLocked is what the watchdog knows now. l.mu held.
func (s *session) livenessLocked() liveness {
	l := s.l
	lv := liveness{
		heard: time.Unix(0, s.lastHeard.Load()), ready: time.Unix(0, s.ready.Load()),
		busy: s.busy.Load(), suspect: s.suspect,
	}
	if l.cur != s || !s.established {
		return lv
	}
	if l.acked < l.sent {
		lv.pending = l.log[l.acked].sentAt
	}
	if sn := s.snap; sn != nil && sn.inflight && (lv.pending.IsZero() || sn.sentAt.Before(lv.pending)) {
		lv.pending = sn.sentAt
	}
	return lv
}
