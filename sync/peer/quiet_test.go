package peer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock/clocktest"
)

// step advances the fake clock by d and waits until the session's
// watchdog (the only fake timer of a one-session node) has handled
// whatever fell due and armed its timer again.
func step(t *testing.T, clock *clocktest.Fake, d time.Duration) {
	t.Helper()
	clock.Advance(d)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := clock.Pending(); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the watchdog did not arm its timer again within 5s")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// speak makes the scripted partner send a heartbeat and waits until n's
// reader has handled it (at the fake clock's now).
func speak(t *testing.T, sc *scripted, n *node, clock *clocktest.Fake) {
	t.Helper()
	now := clock.Now()
	sc.write(FrameHeartbeat, marshalU64(uint64(now.UnixNano())))
	deadline := time.Now().Add(5 * time.Second)
	for {
		n.l.mu.Lock()
		s := n.l.cur
		n.l.mu.Unlock()
		if s != nil && s.lastHeard.Load() == now.UnixNano() && s.ready.Load() >= now.UnixNano() && !s.busy.Load() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the partner's heartbeat was not handled within 5s")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// quietEvents drains ch and returns the Quiet events in it.
func quietEvents(ch chan Event) []Quiet {
	var qs []Quiet
	for {
		select {
		case ev := <-ch:
			if q, ok := ev.(Quiet); ok {
				qs = append(qs, q)
			}
		default:
			return qs
		}
	}
}

// TestQuietEvent: the watchdog reports the link quiet the moment the
// partner has said nothing for quietBound (not at its next tick: every
// commit of a lost partner waits on the LAN witness this starts), once
// per quiet stretch, and again after a frame started a new one.
func TestQuietEvent(t *testing.T) {
	const mrd = 3 * time.Second
	ms := time.Millisecond
	clock := newFakeClock()
	pri := newNode(t, "gw1", Primary, clock, nil)
	sc, _ := silentPartnerConn(t, pri, Secondary, "gw2", 5, 9)
	step(t, clock, 100*ms)
	speak(t, sc, pri, clock) // the partner's last word, between two ticks (t0+100ms)
	step(t, clock, 25*ms)    // tick
	step(t, clock, 125*ms)   // tick
	step(t, clock, 99*ms)    // t0+349ms
	if qs := quietEvents(pri.events); len(qs) != 0 {
		t.Fatalf("Quiet %+v after %v of silence, want none before %v", qs, 249*ms, quietBound(mrd))
	}
	step(t, clock, ms) // t0+350ms: quietBound after the heartbeat, 25ms before the next tick
	qs := quietEvents(pri.events)
	if len(qs) != 1 || qs[0].Silent != quietBound(mrd) || qs[0].Pending != 0 {
		t.Fatalf("at quietBound of silence: %+v, want one Quiet{Silent: %v, Pending: 0}", qs, quietBound(mrd))
	}
	for range 8 {
		step(t, clock, tickEvery(mrd))
	}
	if qs := quietEvents(pri.events); len(qs) != 0 {
		t.Fatalf("the same quiet stretch reported again: %+v", qs)
	}
	if !pri.l.Up() {
		t.Fatal("the link went down with nothing pending before max_response_delay")
	}
	speak(t, sc, pri, clock) // a new stretch begins
	done := replicateAsync(t, pri, clock, 1)
	step(t, clock, quietBound(mrd)-ms)
	if qs := quietEvents(pri.events); len(qs) != 0 {
		t.Fatalf("Quiet %+v before quietBound of the new stretch", qs)
	}
	step(t, clock, ms)
	if qs := quietEvents(pri.events); len(qs) != 1 || qs[0].Pending != 1 {
		t.Fatalf("second quiet stretch with an update in flight: %+v, want one Quiet{Pending: 1}", qs)
	}
	select {
	case err := <-done:
		t.Fatalf("Replicate returned %v: Quiet alone must not release commits", err)
	default:
	}
}

// TestQuietEventLiveLink: partners that heartbeat every tick never see
// the link quiet.
func TestQuietEventLiveLink(t *testing.T) {
	const mrd = 3 * time.Second
	p, s, clock, _ := upPair(t, nil)
	for range 16 {
		clock.Advance(tickEvery(mrd))
		// Each end heard the other's heartbeat of this tick before the
		// next: on a loaded machine a late reader must not look like a
		// quiet partner.
		now := clock.Now().UnixNano()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Microsecond) {
			p.l.mu.Lock()
			pc := p.l.cur
			p.l.mu.Unlock()
			s.l.mu.Lock()
			sc := s.l.cur
			s.l.mu.Unlock()
			if pc != nil && sc != nil && pc.lastHeard.Load() >= now && sc.lastHeard.Load() >= now {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a heartbeat of this tick was not heard within 5s")
			}
		}
	}
	for _, n := range []*node{p, s} {
		if qs := quietEvents(n.events); len(qs) != 0 {
			t.Errorf("%s: Quiet %+v on a link both ends heartbeat", n.l.opts.Name, qs)
		}
	}
}

// TestPartnerAbsent: the LAN witness's "absent" closes the link only
// when it is still quiet and heard nothing since the witness began to
// ask; then every waiting commit is released at once.
func TestPartnerAbsent(t *testing.T) {
	const mrd = 3 * time.Second
	ms := time.Millisecond
	t.Run("quiet since the question: released", func(t *testing.T) {
		clock := newFakeClock()
		pri := newNode(t, "gw1", Primary, clock, nil)
		silentSecondary(t, pri)
		done := replicateAsync(t, pri, clock, 1)
		step(t, clock, tickEvery(mrd))
		step(t, clock, tickEvery(mrd))
		if qs := quietEvents(pri.events); len(qs) != 1 || qs[0].Pending != 1 {
			t.Fatalf("Quiet events %+v, want one with the update pending", qs)
		}
		since := clock.Now()
		clock.Advance(90 * ms) // the witness asks the LAN
		if !pri.l.PartnerAbsent(since) {
			t.Fatal("PartnerAbsent kept a link quiet since before the question")
		}
		if err := recvErr(t, done); !errors.Is(err, ErrPartnerUnreachable) {
			t.Fatalf("Replicate: %v, want ErrPartnerUnreachable", err)
		}
		if d := waitFor[Down](t, pri.events); !errors.Is(d.Reason, ErrAbsentBoth) {
			t.Errorf("Down reason %v, want ErrAbsentBoth", d.Reason)
		}
		if err := pri.l.Replicate(context.Background(), pri.store.commit(t, 2, clock.Now())); !errors.Is(err, ErrPartnerUnreachable) {
			t.Fatalf("later Replicate: %v, want ErrPartnerUnreachable at once", err)
		}
	})
	t.Run("a frame while asking wins", func(t *testing.T) {
		clock := newFakeClock()
		pri := newNode(t, "gw1", Primary, clock, nil)
		sc, _ := silentPartnerConn(t, pri, Secondary, "gw2", 5, 9)
		step(t, clock, quietBound(mrd))
		since := clock.Now()
		clock.Advance(10 * ms)
		speak(t, sc, pri, clock)
		if pri.l.PartnerAbsent(since) {
			t.Fatal("PartnerAbsent closed a link that heard the partner after the question")
		}
		// Quiet again by the time a (slow) answer comes: still the
		// partner spoke after the question began.
		for range 3 {
			step(t, clock, tickEvery(mrd))
		}
		if !pri.l.Quiet() {
			t.Fatal("link not quiet after quietBound more of silence")
		}
		if pri.l.PartnerAbsent(since) {
			t.Fatal("PartnerAbsent closed a link that heard the partner after the question")
		}
		if !pri.l.Up() {
			t.Fatal("link down")
		}
	})
	t.Run("not quiet yet", func(t *testing.T) {
		clock := newFakeClock()
		pri := newNode(t, "gw1", Primary, clock, nil)
		silentSecondary(t, pri)
		step(t, clock, quietBound(mrd)-ms)
		if pri.l.PartnerAbsent(clock.Now()) {
			t.Fatal("PartnerAbsent closed a link silent for less than quietBound")
		}
	})
	t.Run("live link", func(t *testing.T) {
		p, s, clock, _ := upPair(t, nil)
		if p.l.PartnerAbsent(clock.Now()) {
			t.Fatal("PartnerAbsent closed a live link")
		}
		p.l.mu.Lock()
		suspect := p.l.cur != nil && p.l.cur.suspect
		p.l.mu.Unlock()
		if suspect {
			t.Error("PartnerAbsent marked a live session suspect (that is the VRRP path's word)")
		}
		if err := p.l.Replicate(context.Background(), p.store.commit(t, 1, clock.Now())); err != nil || s.store.PartnerSeq() != 1 {
			t.Fatalf("Replicate after PartnerAbsent on a live link: %v, partner holds %d", err, s.store.PartnerSeq())
		}
	})
}
