package peer

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// maxPendingApply bounds the records one Store.Apply takes.
const maxPendingApply = 2 * maxRecsPerFrame

func (s *session) run() (err error) {
	defer func() {
		if errors.Is(err, ErrIntegrity) {
			s.integrityFailed(err)
		}
	}()
	if err := s.handshake(); err != nil {
		return s.handshakeFailed(err)
	}
	for {
		t, p, err := s.fr.readFrame()
		if err != nil {
			return err
		}
		s.heard()
		s.busy.Store(true)
		if t != FrameUpdate && t != FrameAck && t != FrameHeartbeat {
			// Everything else (a snapshot page, the end of a sync)
			// comes after the updates before it. An ack is about our
			// own stream and a heartbeat about nothing: handled at
			// once, so our commits waiting for the partner are not
			// held behind our apply (fsync) of the partner's records
			// (load-balance: both boxes commit and apply at once).
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

// integrityFailed counts a sealed record that did not open and logs it
// (once a minute per source: the dialer reconnects at once, and whoever
// injects may go on).
func (s *session) integrityFailed(err error) {
	l := s.l
	l.m.Integrity.Inc()
	src := addrString(s.remote)
	if ip := addrIP(s.remote); ip.IsValid() {
		src = ip.String()
	}
	if l.refused.Allow(src + " integrity") {
		l.lg.Error("peer link: a frame from the partner failed authentication; session dropped (something on the path injected or changed data)",
			"op", "link", "peer", s.theirs.Name, "ip", src, "err", err)
	}
}

// handshakeFailed counts and logs why a handshake failed, when the
// partner is to blame: a refusal, no proof of its key within
// max_response_delay (the watchdog closed the connection), or a
// connection lost before it proved its key. Our own stop is not counted.
func (s *session) handshakeFailed(err error) error {
	var rf *refusal
	if errors.As(err, &rf) {
		s.l.refuse(s.remote, rf.reason, rf.err)
		return rf.err
	}
	if s.authed {
		return err
	}
	switch why := s.closedBy(); {
	case errors.Is(why, ErrTimeout):
		err = fmt.Errorf("%w: handshake unfinished", ErrTimeout)
		s.l.refuse(s.remote, "timeout", err)
	case errors.Is(why, ErrClosed): // we are stopping
	default:
		// The read or the write of a handshake frame failed: the peer
		// hung up or reset the connection.
		s.l.refuse(s.remote, "closed", fmt.Errorf("connection lost during the handshake: %w", err))
	}
	return err
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
	case FrameParams:
		if l.opts.Role == Primary {
			return fmt.Errorf("%w: the secondary sent params", ErrProtocol)
		}
		if c := l.opts.CheckParams; c != nil {
			if err := c(p); err != nil {
				// The next handshake refuses the link with this reason.
				l.lg.Warn("peer link: refused the primary's new parameters", "op", "params", "err", err)
				return fmt.Errorf("%w: %w", ErrParams, err)
			}
		}
	case FrameDefaults:
		return l.recvDefaults(p)
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

// convert turns the partner's records into ours with Options.FromPartner
// (doc.go "Records and clocks"), our clock read once per frame, decoding
// each once. It returns the leases to apply, the stream position of the
// last record and the records' addresses.
func (s *session) convert(rs *records, snapshot bool) ([]lease.Lease, uint64, []netip.Addr, error) {
	l := s.l
	sent, received := time.Unix(0, rs.Clock), l.clock.Now()
	out := make([]lease.Lease, 0, len(rs.Recs))
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
		var held lease.Lease
		if have {
			held = local
		}
		r := l.opts.FromPartner(in, held, sent, received)
		// The partner's fault, not our store's: an absurd clock moves a
		// time past what the database can hold.
		if err := r.Validate(); err != nil {
			return nil, 0, nil, fmt.Errorf("%w: %v: %w", ErrProtocol, in.Addr, err)
		}
		out = append(out, r)
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
