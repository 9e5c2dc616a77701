package peer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock/clocktest"
)

func TestLivenessVerdict(t *testing.T) {
	const mrd = 3 * time.Second // heartbeat tick 125ms, ackBound 500ms, quietBound 250ms
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	ms := time.Millisecond
	tests := []struct {
		name string
		lv   liveness
		now  time.Duration
		want error
	}{
		{"idle, quiet 2.9s", liveness{heard: t0}, 2900 * ms, nil},
		{"idle, quiet max_response_delay", liveness{heard: t0}, mrd, ErrTimeout},
		{"busy, quiet max_response_delay", liveness{heard: t0, busy: true, pending: t0}, mrd, ErrTimeout},
		{"pending 500ms, quiet 500ms", liveness{heard: t0, pending: t0}, 500 * ms, ErrAckTimeout},
		{"pending 499ms, quiet 499ms", liveness{heard: t0, pending: t0}, 499 * ms, nil},
		{"pending 1s, heard 400ms ago", liveness{heard: at(600 * ms), pending: t0}, time.Second, nil},
		{"pending 1s, handled a frame 400ms ago", liveness{heard: t0, ready: at(600 * ms), pending: t0}, time.Second, nil},
		{"pending 400ms, quiet 2s", liveness{heard: t0, pending: at(1600 * ms)}, 2 * time.Second, nil},
		{"pending 1s, quiet 1s, our reader busy", liveness{heard: t0, pending: t0, busy: true}, time.Second, nil},
		{"suspect, pending 250ms, quiet 250ms", liveness{heard: t0, pending: t0, suspect: true}, 250 * ms, ErrSilentBoth},
		{"suspect, quiet 249ms", liveness{heard: t0, pending: t0, suspect: true}, 249 * ms, nil},
		// A takeover's first commit is new; the partner went quiet before.
		{"suspect, pending 1ms, quiet 250ms", liveness{heard: t0, pending: at(249 * ms), suspect: true}, 250 * ms, ErrSilentBoth},
		{"suspect, nothing pending, quiet 2s", liveness{heard: t0, suspect: true}, 2 * time.Second, ErrSilentBoth},
		{"suspect, quiet 2s, our reader busy", liveness{heard: t0, suspect: true, busy: true}, 2 * time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.lv.verdict(at(tt.now), mrd); !errors.Is(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("verdict = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLivenessQuietNow(t *testing.T) {
	const mrd = 3 * time.Second
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	tests := []struct {
		name string
		lv   liveness
		now  time.Duration
		want bool
	}{
		{"frame 200ms ago", liveness{heard: t0}, 200 * ms, false},
		{"no frame for two heartbeat intervals", liveness{heard: t0}, 250 * ms, true},
		{"frame heard, then handled 100ms ago", liveness{heard: t0, ready: t0.Add(150 * ms)}, 250 * ms, false},
		{"our reader busy", liveness{heard: t0, busy: true}, 2 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.lv.quietNow(t0.Add(tt.now), mrd); got != tt.want {
				t.Errorf("quietNow = %v, want %v", got, tt.want)
			}
		})
	}
}

// silentSecondary is a secondary played by hand that completes the
// handshake, acknowledges the primary's snapshot, and from then on reads
// everything and answers nothing: a box lost with the TCP connection still
// open on our side (no FIN; PEERS.md "kill -9 is not a box failure").
func silentSecondary(t *testing.T, pri *node) chan error {
	t.Helper()
	return silentPartner(t, pri, Secondary, "gw2", 5, 9)
}

// replicateAsync starts a Replicate of one new record and waits until it
// is in flight.
func replicateAsync(t *testing.T, n *node, clock *clocktest.Fake, i int) chan error {
	t.Helper()
	done := make(chan error, 1)
	pl := n.store.commit(t, i, clock.Now())
	go func() { done <- n.l.Replicate(context.Background(), pl) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n.l.mu.Lock()
		inflight := n.l.sent > n.l.acked
		n.l.mu.Unlock()
		if inflight {
			return done
		}
		if time.Now().After(deadline) {
			t.Fatal("the update never left")
		}
		time.Sleep(time.Millisecond)
	}
}

// stepUntil advances the fake clock a watchdog tick at a time (giving the
// link's goroutines a moment of real time after each) until done yields,
// or limit of fake time has passed. It returns the fake time elapsed and
// the result (ok false: still waiting at limit).
func stepUntil(clock *clocktest.Fake, tick, limit time.Duration, done <-chan error) (time.Duration, error, bool) {
	var elapsed time.Duration
	for elapsed < limit {
		clock.Advance(tick)
		elapsed += tick
		select {
		case err := <-done:
			return elapsed, err, true
		case <-time.After(10 * time.Millisecond):
		}
	}
	return elapsed, nil, false
}

// TestAckTimeoutReleasesCommits: the partner goes silent while our update
// waits for its ack. The link must go down (and the commit be released as
// "partner unreachable") after ackBound of silence, long before
// max_response_delay: this is the ACK pause of a sync-link cut or a lost
// standby.
func TestAckTimeoutReleasesCommits(t *testing.T) {
	clock := newFakeClock()
	const mrd = 3 * time.Second
	pri := newNode(t, "gw1", Primary, clock, nil)
	silentSecondary(t, pri)
	done := replicateAsync(t, pri, clock, 1)
	elapsed, err, ok := stepUntil(clock, tickEvery(mrd), mrd, done)
	if !ok {
		t.Fatalf("commit still waiting after %v of partner silence (max_response_delay %v)", elapsed, mrd)
	}
	if !errors.Is(err, ErrPartnerUnreachable) {
		t.Fatalf("Replicate: %v, want ErrPartnerUnreachable", err)
	}
	if elapsed < ackBound(mrd) || elapsed > ackBound(mrd)+tickEvery(mrd) {
		t.Errorf("released after %v of silence, want %v (+ one tick)", elapsed, ackBound(mrd))
	}
	if d := waitFor[Down](t, pri.events); !errors.Is(d.Reason, ErrAckTimeout) {
		t.Errorf("Down reason %v, want ErrAckTimeout", d.Reason)
	}
}

// TestSlowApplyKeepsLinkUp: a partner that takes long to apply an update
// (a large batch, a slow disk) keeps sending heartbeats from its watchdog
// every tick while its reader is busy in Apply, so the ack rule does not
// fire: the
// link stays up until max_response_delay, when the partner's own reader,
// stuck that long, declares it down (down after max_response_delay without a frame).
func TestSlowApplyKeepsLinkUp(t *testing.T) {
	const mrd = 3 * time.Second
	p, s, clock, _ := upPair(t, nil)
	s.store.block(t) // the partner's Apply does not return until released
	done := replicateAsync(t, p, clock, 1)
	if elapsed, err, ok := stepUntil(clock, tickEvery(mrd), mrd-tickEvery(mrd), done); ok {
		t.Fatalf("Replicate returned %v after %v while the partner was still applying (link up %v)", err, elapsed, p.l.Up())
	}
	if !p.l.Up() || !s.l.Up() {
		t.Fatal("link went down while the partner was applying")
	}
	s.store.release()
	if err := recvErr(t, done); err != nil {
		t.Fatalf("Replicate after the partner applied: %v", err)
	}
}

// TestPartnerSilentKeepsLiveLink: the VRRP path says the partner is
// silent, but the sync link heard from it within a heartbeat interval (a
// VRRP-only partition): the link stays up and replication goes on.
func TestPartnerSilentKeepsLiveLink(t *testing.T) {
	p, s, clock, _ := upPair(t, nil)
	if p.l.PartnerSilent() {
		t.Fatal("PartnerSilent released a link that heard the partner just now")
	}
	if err := p.l.Replicate(context.Background(), p.store.commit(t, 1, clock.Now())); err != nil {
		t.Fatalf("Replicate on a live link after PartnerSilent: %v", err)
	}
	if !p.l.Up() || s.store.PartnerSeq() != 1 {
		t.Fatalf("link up %v, partner holds %d: want up and 1", p.l.Up(), s.store.PartnerSeq())
	}
}

// TestPartnerSilentQuietLink: when both paths are quiet, commits never
// wait for the partner: at once if the link heard nothing for quietBound,
// within quietBound of silence otherwise.
func TestPartnerSilentQuietLink(t *testing.T) {
	const mrd = 3 * time.Second
	t.Run("quiet for two heartbeat intervals", func(t *testing.T) {
		clock := newFakeClock()
		pri := newNode(t, "gw1", Primary, clock, nil)
		silentSecondary(t, pri)
		done := replicateAsync(t, pri, clock, 1)
		clock.Advance(quietBound(mrd)) // a box lost Master_Down_Interval ago
		if !pri.l.PartnerSilent() {
			t.Fatal("PartnerSilent kept a link quiet for two heartbeat intervals")
		}
		if err := recvErr(t, done); !errors.Is(err, ErrPartnerUnreachable) {
			t.Fatalf("Replicate: %v, want ErrPartnerUnreachable", err)
		}
		if err := pri.l.Replicate(context.Background(), pri.store.commit(t, 2, clock.Now())); !errors.Is(err, ErrPartnerUnreachable) {
			t.Fatalf("later Replicate: %v, want ErrPartnerUnreachable at once", err)
		}
	})
	t.Run("heard 0s ago, then silent", func(t *testing.T) {
		clock := newFakeClock()
		pri := newNode(t, "gw1", Primary, clock, nil)
		silentSecondary(t, pri)
		if pri.l.PartnerSilent() {
			t.Fatal("PartnerSilent released a link that heard the partner just now")
		}
		done := replicateAsync(t, pri, clock, 1)
		elapsed, err, ok := stepUntil(clock, tickEvery(mrd), mrd, done)
		if !ok || !errors.Is(err, ErrPartnerUnreachable) {
			t.Fatalf("after %v: released %v with %v, want ErrPartnerUnreachable", elapsed, ok, err)
		}
		if elapsed > quietBound(mrd)+tickEvery(mrd) {
			t.Errorf("takeover commit waited %v for a partner silent on both paths, want at most %v", elapsed, quietBound(mrd)+tickEvery(mrd))
		}
		if d := waitFor[Down](t, pri.events); !errors.Is(d.Reason, ErrSilentBoth) {
			t.Errorf("Down reason %v, want ErrSilentBoth", d.Reason)
		}
	})
}
