package peer

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"time"
)

// refusal is an error that refuses the partner before a session exists.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string { return fmt.Sprintf("refused (%s): %v", r.reason, r.err) }
func (r *refusal) Unwrap() error { return r.err }

// expect reads the next frame of the handshake, which must be of type
// want (checked on the header, before the payload is allocated). Before
// the partner is authenticated a frame does not restart the silence
// timer: the whole unauthenticated part must fit in max_response_delay.
func (s *session) expect(want FrameType) ([]byte, error) {
	p, err := s.fr.readExpected(want)
	if err != nil {
		return nil, err
	}
	if s.authed {
		s.heard()
	}
	return p, nil
}

// preAuthRefusal classifies a failed read of an unauthenticated frame:
// an oversize announcement, a frame of another type (refused for reason),
// or, returned as it is, a failure of the connection itself
// (session.handshakeFailed counts those).
func preAuthRefusal(err error, reason string) error {
	switch {
	case errors.Is(err, ErrFrameSize):
		return &refusal{"oversize", err}
	case errors.Is(err, ErrProtocol):
		return &refusal{reason, err}
	}
	return err
}

// authenticated is called once the partner has proved its key: its
// admission slot is freed, the reader gets its buffer (opening sealed
// records with rx after a PSK handshake), and the silence timer restarts.
func (s *session) authenticated(rx cipher.AEAD) {
	s.authed = true
	s.releaseSlot()
	s.fr.open(rx)
	s.heard()
}

func (s *session) handshake() error {
	l := s.l
	s.ours = hello{Version: ProtocolVersion, Role: l.opts.Role, Name: l.opts.Name}
	if _, err := rand.Read(s.ours.Nonce[:]); err != nil {
		return err
	}
	s.queuePlain(FrameHello, s.ours.marshal())
	p, err := s.expect(FrameHello)
	if err != nil {
		return preAuthRefusal(err, "malformed")
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
	var rx cipher.AEAD
	if l.opts.PSK != nil {
		if rx, err = s.provePSK(th); err != nil {
			return err
		}
	}
	// Authenticated: nothing above this line told the partner anything
	// but our name, role and nonce (and, to an initiator that proved
	// its key, our proof).
	s.authenticated(rx)
	ourLast, held := l.opts.Store.LastSeq(), l.opts.Store.PartnerSeq()
	l.mu.Lock()
	mine := sessionMsg{
		Maintenance: l.maint, State: l.state, Clock: l.clock.Now().UnixNano(),
		Epoch: l.epoch, LastSeq: ourLast, HeldSeq: held, ConfigHash: l.hash, Params: l.params,
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
	if c := l.opts.CheckParams; c != nil {
		if err := c(ts.Params); err != nil {
			// Our session frame goes out first, so the partner sees
			// our parameters and refuses with its own reason too.
			s.drainCtrl(time.Second)
			return &refusal{"params", fmt.Errorf("partner %q: %w", s.theirs.Name, err)}
		}
	}
	return s.establish(&ts, now, ourLast)
}

// provePSK exchanges the PSK proofs, the initiator's (the dialer's)
// first: the responder sends its own only once the initiator's checked
// out, so whoever dials without the key learns nothing to test guesses
// against offline. Both then derive the session's keys (crypto.go): our
// writer seals everything after our proof, and the returned AEAD opens
// everything after the partner's.
func (s *session) provePSK(th *hello) (cipher.AEAD, error) {
	l := s.l
	key := l.opts.PSK
	prove := func() { s.queuePlain(FrameAuth, authMAC(key, &s.ours, th)) }
	check := func() error {
		p, err := s.expect(FrameAuth)
		if err != nil {
			return preAuthRefusal(err, "auth")
		}
		if !hmac.Equal(p, authMAC(key, th, &s.ours)) {
			return &refusal{"auth", fmt.Errorf("%w: wrong pre-shared key proof from %q", ErrAuth, th.Name)}
		}
		return nil
	}
	initiator, responder := &s.ours, th
	if s.dialed {
		prove()
		if err := check(); err != nil {
			return nil, err
		}
	} else {
		if err := check(); err != nil {
			return nil, err
		}
		prove()
		initiator, responder = th, &s.ours
	}
	i2r, r2i, err := sessionKeys(key, initiator, responder)
	if err != nil {
		return nil, err
	}
	tx, rx := i2r, r2i
	if !s.dialed {
		tx, rx = r2i, i2r
	}
	l.mu.Lock()
	s.tx = &sealer{aead: tx}
	l.mu.Unlock()
	return rx, nil
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
	// The defaults before the config: the partner serves a config part
	// with the global defaults in force, so it takes those first.
	l.queueDefaultsLocked(s)
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

// drainCtrl waits, bounded by d, until the writer has sent every queued
// control frame and waits for more (or the session ended).
func (s *session) drainCtrl(d time.Duration) {
	t := s.l.clock.NewTimer(d)
	defer t.Stop()
	for {
		s.l.mu.Lock()
		empty := len(s.ctrl) == 0
		s.l.mu.Unlock()
		if empty && s.writerIdle.Load() {
			return
		}
		select {
		case <-s.idle:
		case <-s.done:
			return
		case <-t.C():
			return
		}
	}
}
