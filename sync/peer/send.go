package peer

import (
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

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

// watchdog runs the liveness rules (liveness.go) every tick: a heartbeat
// (also while our reader is busy applying: the partner's commits may be
// waiting for our ack) and the link-down verdicts. Between ticks it also
// wakes the moment the link would turn quiet, to report that at once
// (Quiet: the agent's LAN witness then runs, and every commit of a lost
// partner waits on its answer, not on the next tick).
func (s *session) watchdog() {
	l := s.l
	mrd := l.opts.MaxResponseDelay
	every := tickEvery(mrd)
	beat := l.clock.Now().Add(every) // the next heartbeat
	tick := l.clock.NewTimer(every)
	defer tick.Stop()
	var told time.Time // the quiet stretch last reported (liveness.quietSince)
	for {
		select {
		case <-s.done:
			return
		case <-tick.C():
		}
		now := l.clock.Now()
		l.mu.Lock()
		lv := s.livenessLocked()
		up := s.established && l.cur == s
		pending := l.sent - l.acked
		if !now.Before(beat) {
			if s.established {
				s.queueLocked(FrameHeartbeat, marshalU64(uint64(now.UnixNano())))
			}
			beat = now.Add(every)
		}
		l.mu.Unlock()
		if err := lv.verdict(now, mrd); err != nil {
			s.close(err)
			return
		}
		next := beat.Sub(now)
		if since, ok := lv.quietSince(); up && ok && !since.Equal(told) {
			if lv.quietNow(now, mrd) {
				told = since
				l.emit(Quiet{Silent: now.Sub(since), Pending: pending})
			} else {
				next = min(next, lv.quietIn(now, mrd))
			}
		}
		tick.Reset(next)
	}
}

// writer owns the connection's write side: control frames first, then
// records of our stream within the window, then a snapshot page, then
// SyncDone; everything gathered at one wake-up leaves in one write.
func (s *session) writer() {
	defer close(s.writerDone)
	for {
		s.writerIdle.Store(true)
		select {
		case s.idle <- struct{}{}:
		default:
		}
		select {
		case <-s.wake:
		case <-s.done:
			return
		}
		s.writerIdle.Store(false)
		for {
			plain, buf, page, tx := s.fill()
			if page != nil {
				buf = s.appendPage(buf, page)
			}
			if len(plain)+len(buf) == 0 {
				break
			}
			switch {
			case tx != nil:
				buf = tx.seal(plain, buf)
			case len(plain) > 0:
				buf = append(plain, buf...)
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

// fill takes what the writer may send now: handshake frames to send as
// they are, then the rest, to seal with tx when that is set (PSK). It
// returns the snapshot to page from when a page is due: the page is read
// from the store after the records before it were taken, so a page never
// holds an older state than an update sent before it.
func (s *session) fill() (plain, out []byte, page *snapOut, tx *sealer) {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	plain, out, tx = s.plain, s.ctrl, s.tx
	s.plain, s.ctrl = nil, nil
	if !s.established || l.cur != s {
		return plain, out, nil, tx
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
		return plain, out, sn, tx
	}
	if s.syncPending && l.sent >= s.syncTarget && (s.snap == nil || s.snap.done) {
		s.syncPending = false
		out = appendFrame(out, FrameSyncDone, nil)
	}
	return plain, out, nil, tx
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
