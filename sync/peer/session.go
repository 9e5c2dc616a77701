package peer

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
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
	lastHeard  atomic.Int64 // clock.Now().UnixNano() of the last frame read
	// The reader's side of liveness (liveness.go): busy while it handles
	// a frame, ready when it last finished one (UnixNano).
	busy  atomic.Bool
	ready atomic.Int64

	// Guarded by l.mu.
	ctrl         []byte // encoded control frames waiting for the writer
	established  bool
	syncTarget   int  // our records [0,syncTarget) existed when the session began
	syncPending  bool // we still owe FrameSyncDone
	snap         *snapOut
	partnerState uint8
	suspect      bool // the VRRP path says the partner is silent (Link.PartnerSilent)

	// Reader goroutine only.
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
	pend      [][]byte
	pendLast  uint64
	pendAddrs map[netip.Addr]struct{}
}

// maxPendingApply bounds the records one Store.Apply takes.
const maxPendingApply = 2 * maxRecsPerFrame

// snapOut is the snapshot we send. inflight and done are guarded by l.mu;
// addrs and next belong to the writer.
type snapOut struct {
	page     uint32
	inflight bool
	sentAt   time.Time // when the page in flight was taken (liveness)
	done     bool
	addrs    []netip.Addr
	listed   bool
	next     int
}

// HandleConn runs one session over c until it ends and returns why. Run
// and Serve call it for every connection; tests call it with net.Pipe.
// dialed says this end opened the connection (the TLS client).
func (l *Link) HandleConn(ctx context.Context, c net.Conn, dialed bool) error {
	s := &session{
		l: l, c: c, remote: c.RemoteAddr(),
		wake: make(chan struct{}, 1), done: make(chan struct{}), writerDone: make(chan struct{}),
	}
	s.lastHeard.Store(l.clock.Now().UnixNano())
	// The watchdog bounds the handshake too: a silent connection is
	// closed after max_response_delay.
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
			l.refuse(s.remote, "tls", err)
			s.close(err)
			return fmt.Errorf("%w: tls: %w", ErrAuth, err)
		}
		s.c = tc
	}
	s.nudge = &nudgeReader{c: s.c, owed: s.partnerOwesAck, every: l.nudge, now: time.Now}
	s.fr = newFrameReader(s.nudge)
	go s.writer()
	err := s.run()
	s.close(err)
	<-s.writerDone
	return err
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

// close ends the session once; when it was the link's current session the
// link goes down: waiting Replicate calls fail, and Down is emitted.
func (s *session) close(err error) {
	s.closeOnce.Do(func() {
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

// watchdog runs the liveness rules (liveness.go) every tick: a heartbeat
// (also while our reader is busy applying: the partner's commits may be
// waiting for our ack) and the link-down verdicts.
func (s *session) watchdog() {
	l := s.l
	mrd := l.opts.MaxResponseDelay
	tick := l.clock.NewTimer(tickEvery(mrd))
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-tick.C():
		}
		now := l.clock.Now()
		l.mu.Lock()
		lv := s.livenessLocked()
		if s.established {
			s.queueLocked(FrameHeartbeat, marshalU64(uint64(now.UnixNano())))
		}
		l.mu.Unlock()
		if err := lv.verdict(now, mrd); err != nil {
			s.close(err)
			return
		}
		tick.Reset(tickEvery(mrd))
	}
}

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

// writer owns the connection's write side: control frames first, then
// records of our stream within the window, then a snapshot page, then
// SyncDone; everything gathered at one wake-up leaves in one write.
func (s *session) writer() {
	defer close(s.writerDone)
	for {
		select {
		case <-s.wake:
		case <-s.done:
			return
		}
		for {
			buf, page := s.fill()
			if page != nil {
				buf = s.appendPage(buf, page)
			}
			if len(buf) == 0 {
				break
			}
			if _, err := s.c.Write(buf); err != nil {
				s.close(err)
				return
			}
			if s.partnerOwesAck() {
				s.nudge.arm()
			}
		}
	}
}

const (
	maxRecsPerFrame  = 4096
	maxBytesPerFrame = MaxFrameLen / 2
)

// fill takes what the writer may send now. It returns the snapshot to page
// from when a page is due: the page is read from the store after the
// records before it were taken, so a page never holds an older state than
// an update sent before it.
func (s *session) fill() ([]byte, *snapOut) {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	out := s.ctrl
	s.ctrl = nil
	if !s.established || l.cur != s {
		return out, nil
	}
	room := l.opts.MaxUnacked - (l.sent - l.acked)
	now := l.clock.Now()
	var recs [][]byte
	size := 0
	flush := func() {
		if len(recs) > 0 {
			out = appendFrame(out, FrameUpdate, appendRecords(nil, l.clock.Now().UnixNano(), recs))
			l.m.Sent.Add(float64(len(recs)))
			recs, size = recs[:0], 0
		}
	}
	for room > 0 && l.sent < len(l.log) {
		e := l.log[l.sent]
		if len(recs) == maxRecsPerFrame || size+2+len(e.payload) > maxBytesPerFrame {
			flush()
		}
		recs = append(recs, e.payload)
		size += 2 + len(e.payload)
		e.sentAt = now
		l.sent++
		room--
	}
	flush()
	if sn := s.snap; sn != nil && !sn.done && !sn.inflight && l.sent >= s.syncTarget {
		sn.inflight, sn.sentAt = true, now
		return out, sn
	}
	if s.syncPending && l.sent >= s.syncTarget && (s.snap == nil || s.snap.done) {
		s.syncPending = false
		out = appendFrame(out, FrameSyncDone, nil)
	}
	return out, nil
}

// appendPage reads the next page from the store (writer goroutine, no
// lock held) and appends it.
func (s *session) appendPage(buf []byte, sn *snapOut) []byte {
	l := s.l
	if !sn.listed {
		l.opts.Store.Range(func(ls lease.Lease) bool {
			sn.addrs = append(sn.addrs, ls.Addr)
			return true
		})
		sn.listed = true
	}
	var recs [][]byte
	for len(recs) < l.opts.PageSize && sn.next < len(sn.addrs) {
		ls, ok := l.opts.Store.Get(sn.addrs[sn.next])
		sn.next++
		if !ok {
			continue
		}
		p, err := ls.MarshalBinary()
		if err != nil {
			// The store handed out a lease its own codec refuses: skip
			// it rather than stall the snapshot; the log says which.
			l.lg.Error("peer link: snapshot: lease does not encode", "op", "snapshot", "ip", ls.Addr, "err", err)
			continue
		}
		recs = append(recs, p)
	}
	last := sn.next >= len(sn.addrs)
	l.mu.Lock()
	page := sn.page
	sn.page++
	sn.done = last
	l.mu.Unlock()
	l.m.SnapPages.WithLabelValues("sent").Inc()
	if last {
		l.lg.Info("peer link: snapshot sent", "op", "snapshot", "pages", page+1, "leases", len(sn.addrs))
		sn.addrs = nil
		s.wakeWriter() // SyncDone follows
	}
	return appendFrame(buf, FrameSnapPage, appendSnapPage(nil, page, last, l.clock.Now().UnixNano(), recs))
}

// refusal is an error that refuses the partner before a session exists.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string { return fmt.Sprintf("refused (%s): %v", r.reason, r.err) }
func (r *refusal) Unwrap() error { return r.err }

func (s *session) run() error {
	err := s.handshake()
	var rf *refusal
	if errors.As(err, &rf) {
		s.l.refuse(s.remote, rf.reason, rf.err)
		return rf.err
	}
	if err != nil {
		return err
	}
	for {
		t, p, err := s.fr.readFrame()
		if err != nil {
			return err
		}
		s.heard()
		s.busy.Store(true)
		if t != FrameUpdate {
			// Everything else (a snapshot page, the end of a sync)
			// comes after the updates before it.
			err = s.applyPending()
		}
		if err == nil {
			err = s.handle(t, p)
		}
		if err == nil && len(s.pend) > 0 && (!s.fr.buffered() || len(s.pend) >= maxPendingApply) {
			err = s.applyPending()
		}
		s.ready.Store(s.l.clock.Now().UnixNano())
		s.busy.Store(false)
		if err != nil {
			return err
		}
		if s.ackOwed && !s.fr.buffered() {
			// One cumulative ack per read burst.
			s.ackOwed = false
			l := s.l
			l.mu.Lock()
			s.queueLocked(FrameAck, marshalU64(l.inPos))
			l.mu.Unlock()
		}
	}
}

// expect reads the next frame and checks its type.
func (s *session) expect(want FrameType) ([]byte, error) {
	t, p, err := s.fr.readFrame()
	if err != nil {
		return nil, err
	}
	s.heard()
	if t != want {
		return nil, fmt.Errorf("%w: got %v frame, want %v", ErrProtocol, t, want)
	}
	return p, nil
}

func (s *session) handshake() error {
	l := s.l
	s.ours = hello{Version: ProtocolVersion, Role: l.opts.Role, Name: l.opts.Name}
	if _, err := rand.Read(s.ours.Nonce[:]); err != nil {
		return err
	}
	s.queue(FrameHello, s.ours.marshal())
	p, err := s.expect(FrameHello)
	if err != nil {
		if errors.Is(err, ErrProtocol) || errors.Is(err, ErrFrameSize) {
			return &refusal{"malformed", err}
		}
		return err
	}
	th := &s.theirs
	if err := th.unmarshal(p); err != nil {
		if errors.Is(err, ErrVersion) {
			return &refusal{"version", err}
		}
		return &refusal{"malformed", err}
	}
	switch {
	case th.Nonce == s.ours.Nonce:
		return &refusal{"reflection", fmt.Errorf("%w: partner echoed our nonce", ErrAuth)}
	case th.Role == l.opts.Role:
		return &refusal{"role", fmt.Errorf("%w: partner %q is also %v", ErrAuth, th.Name, th.Role)}
	case th.Name == l.opts.Name:
		return &refusal{"name", fmt.Errorf("%w: partner uses our node name %q", ErrAuth, th.Name)}
	}
	if l.opts.PSK != nil {
		s.queue(FrameAuth, authMAC(l.opts.PSK, &s.ours, th))
		p, err := s.expect(FrameAuth)
		if err != nil {
			if errors.Is(err, ErrProtocol) || errors.Is(err, ErrFrameSize) {
				return &refusal{"auth", err}
			}
			return err
		}
		if !hmac.Equal(p, authMAC(l.opts.PSK, th, &s.ours)) {
			return &refusal{"auth", fmt.Errorf("%w: wrong pre-shared key proof from %q", ErrAuth, th.Name)}
		}
	}
	// Authenticated: nothing above this line told the partner anything
	// but our name, role and nonce.
	ourLast, held := l.opts.Store.LastSeq(), l.opts.Store.PartnerSeq()
	l.mu.Lock()
	mine := sessionMsg{
		Maintenance: l.maint, State: l.state, Clock: l.clock.Now().UnixNano(),
		Epoch: l.epoch, LastSeq: ourLast, HeldSeq: held, ConfigHash: l.hash,
	}
	if l.inComplete {
		mine.AckedEpoch, mine.AckedSeq = l.inEpoch, l.inPos
	}
	s.queueLocked(FrameSession, mine.marshal())
	l.mu.Unlock()
	if p, err = s.expect(FrameSession); err != nil {
		return err
	}
	now := l.clock.Now()
	var ts sessionMsg
	if err := ts.unmarshal(p); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return s.establish(&ts, now, ourLast)
}

// establish makes s the link's session and decides how our stream
// continues: resume after the partner's position when the partner holds
// our epoch and that position is still in memory, else a snapshot.
func (s *session) establish(ts *sessionMsg, now time.Time, ourLast uint64) error {
	l := s.l
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	old := l.cur
	oldUp := old != nil && old.established
	l.cur = s
	s.established = true
	s.partnerState = ts.State
	l.unreachable = false
	idx, found := -1, false
	if ts.AckedEpoch == l.epoch {
		idx, found = l.positionLocked(ts.AckedSeq)
	}
	var st stream
	if found {
		for _, e := range l.log[l.acked:max(idx, l.acked)] {
			if e.c != nil {
				if e.c.remaining--; e.c.remaining == 0 {
					e.c.finish(nil)
				}
				e.c = nil
			}
		}
		l.acked, l.sent = idx, idx
		st = stream{Mode: streamResume, Epoch: l.epoch, Pos: ts.AckedSeq}
	} else {
		l.sent = l.acked
		mark := l.prevSeq
		if l.acked > 0 {
			mark = l.log[l.acked-1].seq
		}
		s.snap = &snapOut{}
		st = stream{Mode: streamSnapshot, Epoch: l.epoch, Pos: mark}
	}
	s.syncTarget = len(l.log)
	s.syncPending = true
	s.queueLocked(FrameStream, st.marshal())
	if l.opts.Role == Primary && l.cfgIsSet {
		s.queueLocked(FrameConfig, (&configMsg{Hash: l.cfgHash, Config: l.cfgData}).marshal())
	}
	l.mu.Unlock()
	if old != nil {
		old.close(ErrReplaced) // not current any more: no Down from it
	}
	if oldUp {
		l.emit(Down{Reason: ErrReplaced})
	}
	skew := time.Unix(0, ts.Clock).Sub(now)
	l.mu.Lock()
	ourHash := l.hash
	l.mu.Unlock()
	l.m.Skew.Set(skew.Seconds())
	l.m.LinkUp.Set(1)
	l.m.Sessions.Inc()
	l.lg.Info("peer link up", "op", "link", "peer", s.theirs.Name, "role", s.theirs.Role,
		"ip", s.remote, "skew", skew, "resume", found, "partner_acked_seq", ts.HeldSeq, "our_last_seq", ourLast)
	l.emit(Up{
		Remote: addrString(s.remote), PartnerName: s.theirs.Name, PartnerRole: s.theirs.Role,
		PartnerState: ts.State, PartnerMaintenance: ts.Maintenance,
		PartnerAckedSeq: ts.HeldSeq, OurLastSeq: ourLast, PartnerLastSeq: ts.LastSeq,
		PartnerConfigHash: ts.ConfigHash, ConfigMatch: string(ts.ConfigHash) == string(ourHash),
		Skew: skew, Resume: found,
	})
	return nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// positionLocked finds the log index just after the partner's position
// pos: 0 when pos is the position before the log (nothing trimmed and pos
// 0, or pos is the last trimmed record), else after the first record with
// that sequence (the first: with a repeated sequence, resending more is
// safe, less is not).
func (l *Link) positionLocked(pos uint64) (int, bool) {
	if pos == l.prevSeq {
		return 0, true
	}
	for i, e := range l.log {
		if e.seq == pos {
			return i + 1, true
		}
	}
	return 0, false
}

func (s *session) handle(t FrameType, p []byte) error {
	l := s.l
	switch t {
	case FrameHeartbeat:
		c, err := unmarshalU64(p, "clock")
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		l.m.Skew.Set(time.Unix(0, int64(c)).Sub(l.clock.Now()).Seconds())
	case FrameState:
		st, maint, err := unmarshalState(p)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		l.emit(PartnerState{State: st, Maintenance: maint})
	case FrameStream:
		var st stream
		if err := st.unmarshal(p); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if s.streamSet {
			return fmt.Errorf("%w: second stream frame", ErrProtocol)
		}
		l.mu.Lock()
		if st.Mode == streamSnapshot {
			l.inEpoch, l.inPos, l.inComplete = st.Epoch, st.Pos, false
		} else if st.Epoch != l.inEpoch || st.Pos != l.inPos || !l.inComplete {
			l.mu.Unlock()
			return fmt.Errorf("%w: resume at %x/%d, we hold %x/%d", ErrProtocol, st.Epoch, st.Pos, l.inEpoch, l.inPos)
		}
		l.mu.Unlock()
		s.streamSet, s.inSnapshot = true, st.Mode == streamSnapshot
	case FrameUpdate:
		if !s.streamSet {
			return fmt.Errorf("%w: update before stream frame", ErrProtocol)
		}
		var rs records
		if err := rs.unmarshal(p); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if len(rs.Recs) == 0 {
			return nil
		}
		conv, last, addrs, err := s.convert(&rs, false)
		if err != nil {
			return err
		}
		if s.pendingHasAny(addrs) {
			// convert read the store for an address with an update
			// pending: apply that first and convert again.
			if err := s.applyPending(); err != nil {
				return err
			}
			if conv, last, addrs, err = s.convert(&rs, false); err != nil {
				return err
			}
		}
		if s.pendAddrs == nil {
			s.pendAddrs = make(map[netip.Addr]struct{})
		}
		for _, a := range addrs {
			s.pendAddrs[a] = struct{}{}
		}
		s.pend = append(s.pend, conv...)
		s.pendLast = last
	case FrameAck:
		seq, err := unmarshalU64(p, "seq")
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		return s.acked(seq)
	case FrameSnapPage:
		if !s.inSnapshot || s.lastPage {
			return fmt.Errorf("%w: unexpected snapshot page", ErrProtocol)
		}
		var sp snapPage
		if err := sp.unmarshal(p); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if sp.Page != s.nextPage {
			return fmt.Errorf("%w: snapshot page %d, want %d", ErrProtocol, sp.Page, s.nextPage)
		}
		conv, _, _, err := s.convert(&sp.records, true)
		if err != nil {
			return err
		}
		if len(conv) > 0 {
			if err := l.opts.Store.Apply(conv...); err != nil {
				return fmt.Errorf("peer: apply snapshot page %d: %w", sp.Page, err)
			}
		}
		l.m.Applied.Add(float64(len(conv)))
		l.m.SnapPages.WithLabelValues("received").Inc()
		s.inRecords += len(conv)
		s.nextPage++
		s.lastPage = sp.Last
		b := make([]byte, 4)
		b[0], b[1], b[2], b[3] = byte(sp.Page>>24), byte(sp.Page>>16), byte(sp.Page>>8), byte(sp.Page)
		s.queue(FrameSnapAck, b)
	case FrameSnapAck:
		page, err := unmarshalU32(p, "page")
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		l.mu.Lock()
		sn := s.snap
		if sn == nil || !sn.inflight || page+1 != sn.page {
			l.mu.Unlock()
			return fmt.Errorf("%w: ack for snapshot page %d not in flight", ErrProtocol, page)
		}
		sn.inflight = false
		l.mu.Unlock()
		s.wakeWriter()
	case FrameSyncDone:
		if len(p) != 0 || !s.streamSet || (s.inSnapshot && !s.lastPage) {
			return fmt.Errorf("%w: unexpected sync-done", ErrProtocol)
		}
		l.mu.Lock()
		l.inComplete = true
		l.mu.Unlock()
		l.lg.Info("peer link: resynchronised from partner", "op", "resync", "snapshot", s.inSnapshot, "records", s.inRecords)
		l.emit(ResyncDone{Snapshot: s.inSnapshot, Records: s.inRecords})
	case FrameConfig:
		if l.opts.Role == Primary {
			return fmt.Errorf("%w: the secondary sent a config", ErrProtocol)
		}
		var cm configMsg
		if err := cm.unmarshal(p); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		verr := errors.New("no config handler")
		if l.opts.OnConfig != nil {
			verr = l.opts.OnConfig(cm.Hash, cm.Config)
		}
		v := verdict{Accepted: verr == nil, Hash: cm.Hash}
		if verr != nil {
			v.Reason = verr.Error()
			l.lg.Warn("peer link: rejected the primary's config", "op", "config", "err", verr)
		}
		s.queue(FrameConfigVerdict, v.marshal())
		l.emit(ConfigReceived{Hash: cm.Hash, Err: verr})
	case FrameConfigVerdict:
		var v verdict
		if err := v.unmarshal(p); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if !v.Accepted {
			l.lg.Warn("peer link: partner rejected our config", "op", "config", "reason", v.Reason)
		}
		l.emit(ConfigVerdict{Hash: v.Hash, Accepted: v.Accepted, Reason: v.Reason})
	default:
		return fmt.Errorf("%w: unexpected %v frame", ErrProtocol, t)
	}
	return nil
}

// acked handles a cumulative ack: every record of ours up to the first
// in-flight one with this sequence is applied by the partner.
func (s *session) acked(seq uint64) error {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur != s {
		return ErrReplaced
	}
	i := l.acked
	for i < l.sent && l.log[i].seq != seq {
		i++
	}
	if i == l.sent {
		return fmt.Errorf("%w: ack for %d, which is not in flight", ErrProtocol, seq)
	}
	for _, e := range l.log[l.acked : i+1] {
		if e.c != nil {
			if e.c.remaining--; e.c.remaining == 0 {
				e.c.finish(nil)
			}
			e.c = nil
		}
	}
	l.acked = i + 1
	l.trimLocked()
	l.m.Unacked.Set(float64(len(l.log) - l.acked))
	s.wakeWriter()
	return nil
}

// convert turns the partner's records into ours (doc.go "Records and
// clocks"): its times move to our clock by the difference between our
// clock at receipt and its clock in the frame, and the failover expiries
// change sides. It returns the payloads to apply, the stream position of
// the last record and the records' addresses.
func (s *session) convert(rs *records, snapshot bool) ([][]byte, uint64, []netip.Addr, error) {
	l := s.l
	off := l.clock.Now().Sub(time.Unix(0, rs.Clock))
	shift := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.Add(off)
	}
	out := make([][]byte, 0, len(rs.Recs))
	addrs := make([]netip.Addr, 0, len(rs.Recs))
	var last uint64
	for _, p := range rs.Recs {
		var in lease.Lease
		if err := in.UnmarshalBinary(p); err != nil {
			return nil, 0, nil, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		last = in.Seq
		addrs = append(addrs, in.Addr)
		if in.Peer && !snapshot {
			return nil, 0, nil, fmt.Errorf("%w: %v seq %d: the stream carries only the sender's own records", ErrProtocol, in.Addr, in.Seq)
		}
		local, have := l.opts.Store.Get(in.Addr)
		if snapshot && in.Peer && have && !local.Peer && local.Seq >= in.Seq {
			// Our own record, and we hold it in the same or a newer
			// state than the partner's copy: keep ours.
			continue
		}
		r := in
		r.Start, r.Expiry, r.CLTT, r.StateStart = shift(in.Start), shift(in.Expiry), shift(in.CLTT), shift(in.StateStart)
		// The sender's own potential expiry is what it may give the
		// client: our PartnerExpiry. The one it holds from us is ours,
		// acknowledged.
		r.PartnerExpiry = shift(in.PotentialExpiry)
		r.AckedExpiry = shift(in.PartnerExpiry)
		r.PotentialExpiry = r.AckedExpiry
		if have && local.PotentialExpiry.After(r.PotentialExpiry) {
			// We may have sent a later one it has not applied yet.
			r.PotentialExpiry = local.PotentialExpiry
		}
		b, err := r.MarshalBinary()
		if err != nil {
			return nil, 0, nil, fmt.Errorf("%w: %v: %w", ErrProtocol, in.Addr, err)
		}
		out = append(out, b)
	}
	return out, last, addrs, nil
}

// pendingHasAny reports whether an update for one of addrs is pending.
func (s *session) pendingHasAny(addrs []netip.Addr) bool {
	if len(s.pend) == 0 {
		return false
	}
	for _, a := range addrs {
		if _, ok := s.pendAddrs[a]; ok {
			return true
		}
	}
	return false
}

// applyPending applies the pending updates in one Store.Apply and owes
// the partner an ack up to the last of them.
func (s *session) applyPending() error {
	if len(s.pend) == 0 {
		return nil
	}
	l := s.l
	n := len(s.pend)
	t0 := time.Now() // a metric's duration: monotonic, not the link's clock
	if err := l.opts.Store.Apply(s.pend...); err != nil {
		return fmt.Errorf("peer: apply: %w", err)
	}
	l.m.ApplySeconds.Observe(time.Since(t0).Seconds())
	l.m.Applied.Add(float64(n))
	l.mu.Lock()
	if l.cur != s {
		l.mu.Unlock()
		return ErrReplaced
	}
	l.inPos = s.pendLast
	l.mu.Unlock()
	s.pend = s.pend[:0]
	clear(s.pendAddrs)
	s.inRecords += n
	s.ackOwed = true
	return nil
}
