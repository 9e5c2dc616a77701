package peer

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/sync/failover"
)

func TestHandshakeUp(t *testing.T) {
	clock := newFakeClock()
	p := newNode(t, "gw1", Primary, clock, nil)
	s := newNode(t, "gw2", Secondary, clock, func(o *Options) { o.ConfigHash = []byte("h2") })
	p.l.SetState(2, false)
	s.l.SetState(1, true)
	p.store.commit(t, 1, clock.Now())
	connect(t, p, s)
	up := waitFor[Up](t, p.events)
	if up.PartnerName != "gw2" || up.PartnerRole != Secondary || up.PartnerState != 1 || !up.PartnerMaintenance {
		t.Errorf("primary's Up = %+v", up)
	}
	if up.OurLastSeq != 1 || up.ConfigMatch || string(up.PartnerConfigHash) != "h2" || up.Resume {
		t.Errorf("primary's Up = %+v, want OurLastSeq 1, config mismatch, snapshot", up)
	}
	if up := waitFor[Up](t, s.events); up.PartnerName != "gw1" || up.PartnerState != 2 || up.PartnerLastSeq != 1 {
		t.Errorf("secondary's Up = %+v", up)
	}
	if rd := waitFor[ResyncDone](t, s.events); !rd.Snapshot || rd.Records != 1 {
		t.Errorf("secondary's ResyncDone = %+v, want a snapshot of 1 record", rd)
	}
}

func TestAuthRefused(t *testing.T) {
	otherKey := []byte("ffffffffffffffffffffffffffffffff")
	tests := []struct {
		name       string
		modA, modB func(*Options)
		reason     string
	}{
		{"wrong key", nil, func(o *Options) { o.PSK = otherKey }, "auth"},
		{"same role", nil, func(o *Options) { o.Role = Primary }, "role"},
		{"same name", nil, func(o *Options) { o.Name = "gw1" }, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			a := newNode(t, "gw1", Primary, clock, tt.modA)
			b := newNode(t, "gw2", Secondary, clock, tt.modB)
			ca, cb := net.Pipe()
			errs := make(chan error, 2)
			go func() { errs <- a.l.HandleConn(context.Background(), ca, true) }()
			go func() { errs <- b.l.HandleConn(context.Background(), cb, false) }()
			for range 2 {
				if err := recvErr(t, errs); err == nil {
					t.Error("HandleConn returned nil, want a refusal")
				}
			}
			if a.l.Up() || b.l.Up() {
				t.Error("link up after a failed authentication")
			}
			got := counterValue(t, a.l.m.Refused.WithLabelValues(tt.reason)) + counterValue(t, b.l.m.Refused.WithLabelValues(tt.reason))
			if got == 0 {
				t.Errorf("refused_peers_total{reason=%q} not counted", tt.reason)
			}
		})
	}
}

// scripted plays the partner's side by hand over a pipe.
type scripted struct {
	t  *testing.T
	c  net.Conn
	fr *frameReader // unbuffered until the handshake is done (initiate)

	mu sync.Mutex
	tx *sealer // set by initiate: what follows is sealed
}

// send writes a frame, sealed once the handshake is done.
func (s *scripted) send(ft FrameType, p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := appendFrame(nil, ft, p)
	if s.tx != nil {
		b = s.tx.seal(nil, b)
	}
	_, err := s.c.Write(b)
	return err
}

func (s *scripted) write(ft FrameType, p []byte) {
	s.t.Helper()
	if err := s.send(ft, p); err != nil {
		s.t.Fatalf("write %v: %v", ft, err)
	}
}

// initiate plays the initiator's part of the PSK handshake once the
// Hellos are exchanged (me ours, their the node's): our proof with key,
// the node's, then sealed records both ways.
func (s *scripted) initiate(key []byte, me, their *hello) {
	s.t.Helper()
	s.write(FrameAuth, authMAC(key, me, their))
	if p := s.read(FrameAuth); !bytes.Equal(p, authMAC(key, their, me)) {
		s.t.Fatal("the node's proof does not check out")
	}
	i2r, r2i, err := sessionKeys(key, me, their)
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.tx = &sealer{aead: i2r}
	s.mu.Unlock()
	s.fr.open(r2i)
}

func (s *scripted) read(want FrameType) []byte {
	s.t.Helper()
	ft, p, err := s.fr.readFrame()
	if err != nil || ft != want {
		s.t.Fatalf("read: %v %v, want %v", ft, err, want)
	}
	return p
}

func startScripted(t *testing.T, n *node) (*scripted, chan error) {
	ca, cb := net.Pipe()
	t.Cleanup(func() { ca.Close(); cb.Close() })
	errc := make(chan error, 1)
	go func() { errc <- n.l.HandleConn(context.Background(), cb, false) }()
	return &scripted{t: t, c: ca, fr: newHandshakeReader(ca)}, errc
}

// silentPartner plays n's partner by hand (role, name; nonce and session
// epoch to tell runs apart): it completes the handshake, acknowledges any
// snapshot n sends, and otherwise reads everything and answers nothing. It
// returns once n's link is up with nothing awaiting the partner's ack.
func silentPartner(t *testing.T, n *node, role Role, name string, nonce byte, epoch uint64) chan error {
	t.Helper()
	_, errc := silentPartnerConn(t, n, role, name, nonce, epoch)
	return errc
}

// silentPartnerConn is silentPartner with its end of the connection, for
// a test that makes the partner speak now and then (sc.send).
func silentPartnerConn(t *testing.T, n *node, role Role, name string, nonce byte, epoch uint64) (*scripted, chan error) {
	t.Helper()
	sc, errc := startScripted(t, n)
	their := hello{}
	if err := their.unmarshal(sc.read(FrameHello)); err != nil {
		t.Fatal(err)
	}
	me := hello{Version: ProtocolVersion, Role: role, Name: name, Nonce: [32]byte{nonce}}
	sc.write(FrameHello, me.marshal())
	sc.initiate(testKey, &me, &their)
	sc.read(FrameSession)
	sc.write(FrameSession, (&sessionMsg{Epoch: epoch}).marshal())
	waitFor[Up](t, n.events)
	go func() {
		for {
			ft, p, err := sc.fr.readFrame()
			if err != nil {
				return
			}
			if ft == FrameSnapPage {
				if err := sc.send(FrameSnapAck, p[:4]); err != nil {
					return
				}
			}
		}
	}()
	waitNothingPending(t, n.l)
	return sc, errc
}

func TestAuthReplayedTranscript(t *testing.T) {
	// Record a good session's Hello and Auth, then replay them against a
	// new connection: the victim's fresh nonce makes the old proof fail.
	clock := newFakeClock()
	sec := newNode(t, "gw2", Secondary, clock, nil)
	rec, errc := startScripted(t, sec)
	their := hello{}
	if err := their.unmarshal(rec.read(FrameHello)); err != nil {
		t.Fatal(err)
	}
	mine := hello{Version: ProtocolVersion, Role: Primary, Name: "gw1", Nonce: [32]byte{1, 2, 3}}
	rec.write(FrameHello, mine.marshal())
	recorded := authMAC(testKey, &mine, &their) // what the real primary sent
	rec.initiate(testKey, &mine, &their)
	rec.read(FrameSession)
	rec.c.Close()
	recvErr(t, errc)

	replay, errc := startScripted(t, sec)
	replay.read(FrameHello)
	replay.write(FrameHello, mine.marshal())
	replay.write(FrameAuth, recorded)
	if err := recvErr(t, errc); !errors.Is(err, ErrAuth) {
		t.Fatalf("replayed transcript: %v, want ErrAuth", err)
	}
	if got := counterValue(t, sec.l.m.Refused.WithLabelValues("auth")); got != 1 {
		t.Errorf("refused{auth} = %v, want 1", got)
	}
}

func TestAuthReflection(t *testing.T) {
	clock := newFakeClock()
	sec := newNode(t, "gw2", Secondary, clock, nil)
	t.Run("echoed hello", func(t *testing.T) {
		sc, errc := startScripted(t, sec)
		h := sc.read(FrameHello)
		sc.write(FrameHello, h) // the victim's own Hello, reflected
		if err := recvErr(t, errc); !errors.Is(err, ErrAuth) {
			t.Fatalf("reflected hello: %v, want ErrAuth", err)
		}
	})
	t.Run("reflected proof", func(t *testing.T) {
		// The victim dials the attacker (who sits where the partner
		// should be) and proves itself first; the attacker hands that
		// proof back as its own: it is bound to the victim as prover,
		// so it fails.
		pri := newNode(t, "gw1", Primary, clock, nil)
		ca, cb := net.Pipe()
		t.Cleanup(func() { ca.Close(); cb.Close() })
		errc := make(chan error, 1)
		go func() { errc <- pri.l.HandleConn(context.Background(), cb, true) }()
		sc := &scripted{t: t, c: ca, fr: newHandshakeReader(ca)}
		victim := hello{}
		if err := victim.unmarshal(sc.read(FrameHello)); err != nil {
			t.Fatal(err)
		}
		me := hello{Version: ProtocolVersion, Role: Secondary, Name: "gw2", Nonce: [32]byte{9}}
		sc.write(FrameHello, me.marshal())
		theirProof := sc.read(FrameAuth) // MAC(victim as prover, me)
		sc.write(FrameAuth, theirProof)
		if err := recvErr(t, errc); !errors.Is(err, ErrAuth) {
			t.Fatalf("reflected proof: %v, want ErrAuth", err)
		}
	})
}

func TestReplicateWaitsForPartnerApply(t *testing.T) {
	p, s, clock, _ := upPair(t, nil)
	gate := s.store.block(t)
	pl := p.store.commit(t, 7, clock.Now())
	done := make(chan error, 1)
	go func() { done <- p.l.Replicate(context.Background(), pl) }()
	select {
	case err := <-done:
		t.Fatalf("Replicate returned %v before the partner applied", err)
	case <-time.After(50 * time.Millisecond):
	}
	gate <- struct{}{}
	if err := recvErr(t, done); err != nil {
		t.Fatal(err)
	}
	// The partner's apply was held about 50 ms: the primary's ack and the
	// secondary's apply histograms both saw it. The apply starts when the
	// record arrives, a little after the wait above began: allow 10 ms.
	if n, sum := histogram(t, p.l.m.AckSeconds); n != 1 || sum < 0.05 {
		t.Errorf("primary's ack histogram: %d observations, %.3f s in all; want 1, >= 0.050 s", n, sum)
	}
	if n, sum := histogram(t, s.l.m.ApplySeconds); n != 1 || sum < 0.04 {
		t.Errorf("secondary's apply histogram: %d observations, %.3f s in all; want 1, >= 0.040 s", n, sum)
	}
	l, ok := s.store.Get(mustAddr(7))
	if !ok || !l.Peer || l.Seq != 1 {
		t.Fatalf("secondary holds %+v %v, want the primary's record seq 1", l, ok)
	}
	// Expiries change sides: our potential is the partner's PartnerExpiry.
	src, _ := p.store.Get(mustAddr(7))
	if !l.PartnerExpiry.Equal(src.PotentialExpiry) || !l.Expiry.Equal(src.Expiry) {
		t.Errorf("partner expiry %v expiry %v, want %v %v", l.PartnerExpiry, l.Expiry, src.PotentialExpiry, src.Expiry)
	}
}

func TestWindowBackPressureAndCumulativeAck(t *testing.T) {
	const window = 4
	p, s, clock, _ := upPair(t, func(o *Options) { o.MaxUnacked = window })
	s.store.block(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		pl := p.store.commit(t, i+1, clock.Now())
		wg.Go(func() { errs <- p.l.Replicate(context.Background(), pl) })
	}
	// Wait until the window is full; nothing beyond it may be in flight.
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.l.mu.Lock()
		inflight, queued := p.l.sent-p.l.acked, len(p.l.log)
		p.l.mu.Unlock()
		if inflight > window {
			t.Fatalf("%d records in flight, window %d", inflight, window)
		}
		if inflight == window && queued == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("window never filled: %d in flight, %d queued", inflight, queued)
		}
		time.Sleep(time.Millisecond)
	}
	// Release the partner: acks are cumulative, fewer Apply calls (one per
	// update frame) than records.
	s.store.release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if s.store.PartnerSeq() != n {
		t.Errorf("partner holds up to %d, want %d", s.store.PartnerSeq(), n)
	}
	s.store.mu.Lock()
	calls := s.store.applyCalls
	s.store.mu.Unlock()
	if calls >= n {
		t.Errorf("%d Apply calls for %d records: records were not batched", calls, n)
	}
}

func TestMarkUnreachableFailsWaiting(t *testing.T) {
	p, s, clock, _ := upPair(t, nil)
	s.store.block(t) // the partner never applies
	pl := p.store.commit(t, 1, clock.Now())
	done := make(chan error, 1)
	go func() { done <- p.l.Replicate(context.Background(), pl) }()
	time.Sleep(20 * time.Millisecond) // let it reach the wait
	p.l.MarkUnreachable()
	select {
	case err := <-done:
		if !errors.Is(err, ErrPartnerUnreachable) {
			t.Fatalf("Replicate: %v, want ErrPartnerUnreachable", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Replicate still waiting after MarkUnreachable")
	}
	if err := p.l.Replicate(context.Background(), p.store.commit(t, 2, clock.Now())); !errors.Is(err, ErrPartnerUnreachable) {
		t.Fatalf("later Replicate: %v, want ErrPartnerUnreachable", err)
	}
}

func TestHeartbeatTimeout(t *testing.T) {
	// A partner that completes the handshake and then says nothing: the
	// link goes down after max_response_delay on the injected clock.
	clock := newFakeClock()
	sec := newNode(t, "gw2", Secondary, clock, nil)
	errc := silentPartner(t, sec, Primary, "gw1", 4, 7)
	// Nothing of the secondary's awaits an ack any more: only the
	// max_response_delay rule applies (the ack rule has its own tests).
	clock.Advance(2 * time.Second)
	select {
	case err := <-errc:
		t.Fatalf("link down after 2s of 3s: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	clock.Advance(time.Second)
	if d := waitFor[Down](t, sec.events); !errors.Is(d.Reason, ErrTimeout) {
		t.Fatalf("Down reason %v, want ErrTimeout", d.Reason)
	}
	recvErr(t, errc)
}

func TestHeartbeatKeepsLinkUp(t *testing.T) {
	p, s, clock, _ := upPair(t, nil)
	// 10 s of fake time, a watchdog tick at a time: idle heartbeats keep
	// both ends alive past max_response_delay (3 s).
	for range 80 {
		clock.Advance(tickEvery(3 * time.Second))
		time.Sleep(3 * time.Millisecond)
	}
	if !p.l.Up() || !s.l.Up() {
		var reason error
		select {
		case ev := <-p.events:
			if d, ok := ev.(Down); ok {
				reason = d.Reason
			}
		default:
		}
		t.Fatalf("link went down although heartbeats flowed (primary's first event after: %v)", reason)
	}
}

func TestResumeFromLastAcked(t *testing.T) {
	p, s, clock, cut := upPair(t, nil)
	for i := range 5 {
		if err := p.l.Replicate(context.Background(), p.store.commit(t, i+1, clock.Now())); err != nil {
			t.Fatal(err)
		}
	}
	cut()
	waitFor[Down](t, p.events)
	// Written while the link is down: queued for the partner.
	for i := 5; i < 8; i++ {
		if err := p.l.Replicate(context.Background(), p.store.commit(t, i+1, clock.Now())); !errors.Is(err, ErrPartnerUnreachable) {
			t.Fatalf("Replicate while down: %v", err)
		}
	}
	connect(t, p, s)
	if up := waitFor[Up](t, p.events); !up.Resume || up.PartnerAckedSeq != 5 {
		t.Fatalf("Up = %+v, want a resume with the partner holding 5", up)
	}
	rd := waitFor[ResyncDone](t, s.events)
	if rd.Snapshot || rd.Records != 3 {
		t.Fatalf("ResyncDone = %+v, want a resume of exactly the 3 missing records", rd)
	}
	if s.store.PartnerSeq() != 8 {
		t.Fatalf("partner holds up to %d, want 8", s.store.PartnerSeq())
	}
}

func TestSnapshotWithConcurrentUpdatesConverges(t *testing.T) {
	clock := newFakeClock()
	mod := func(o *Options) { o.PageSize = 7; o.MaxUnacked = 16 }
	p := newNode(t, "gw1", Primary, clock, mod)
	s := newNode(t, "gw2", Secondary, clock, mod)
	for i := range 100 {
		p.store.commit(t, i, clock.Now())
	}
	connect(t, p, s)
	waitFor[Up](t, s.events)
	// Updates while the snapshot pages flow: new leases and changes of
	// leases the snapshot also carries.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				addr := (w*25 + i) * 3 % 150
				_ = p.l.Replicate(context.Background(), p.store.commit(t, addr, clock.Now().Add(time.Duration(i)*time.Second)))
			}
		})
	}
	rd := waitFor[ResyncDone](t, s.events)
	if !rd.Snapshot {
		t.Fatalf("ResyncDone = %+v, want a snapshot", rd)
	}
	wg.Wait()
	// One more update makes sure everything before it was applied.
	if err := p.l.Replicate(context.Background(), p.store.commit(t, 200, clock.Now())); err != nil {
		t.Fatal(err)
	}
	want, got := p.store.view(), s.store.view()
	if len(want) != len(got) {
		t.Fatalf("secondary holds %d leases, primary %d", len(got), len(want))
	}
	for a, w := range want {
		if got[a] != w {
			t.Errorf("%v: secondary %q, primary %q", a, got[a], w)
		}
	}
	if pages := counterValue(t, s.l.m.SnapPages.WithLabelValues("received")); pages < 100/7 {
		t.Errorf("%v snapshot pages received, want at least %d", pages, 100/7)
	}
}

func TestConfigRoundTrip(t *testing.T) {
	var got []byte
	p, s, _, _ := upPair(t, func(o *Options) {
		o.OnConfig = func(hash, cfg []byte) error {
			if string(cfg) == "bad" {
				return errors.New("subnet 192.0.2.0/24: pool outside the subnet")
			}
			got = append([]byte(nil), cfg...)
			return nil
		}
	})
	if err := s.l.SendConfig([]byte("x"), []byte("y")); !errors.Is(err, ErrNotPrimary) {
		t.Errorf("secondary SendConfig: %v, want ErrNotPrimary", err)
	}
	if err := p.l.SendConfig([]byte("hash1"), []byte("dhcp: {}")); err != nil {
		t.Fatal(err)
	}
	if cr := waitFor[ConfigReceived](t, s.events); cr.Err != nil || string(cr.Hash) != "hash1" {
		t.Fatalf("ConfigReceived = %+v", cr)
	}
	if v := waitFor[ConfigVerdict](t, p.events); !v.Accepted || string(v.Hash) != "hash1" {
		t.Fatalf("verdict = %+v", v)
	}
	if string(got) != "dhcp: {}" {
		t.Fatalf("secondary got config %q", got)
	}
	if err := p.l.SendConfig([]byte("hash2"), []byte("bad")); err != nil {
		t.Fatal(err)
	}
	if v := waitFor[ConfigVerdict](t, p.events); v.Accepted || v.Reason == "" {
		t.Fatalf("verdict for a bad config = %+v, want rejected with a reason", v)
	}
}

func TestPartnerStateEvent(t *testing.T) {
	p, s, _, _ := upPair(t, nil)
	p.l.SetState(4, true)
	if ps := waitFor[PartnerState](t, s.events); ps.State != 4 || !ps.Maintenance {
		t.Fatalf("PartnerState = %+v", ps)
	}
}

func TestReplicateRejectsBadRecords(t *testing.T) {
	p, _, _, _ := upPair(t, nil)
	if err := p.l.Replicate(context.Background(), lease.Record{}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("zero record: %v, want ErrInvalidRecord", err)
	}
	l := p.store.commit(t, 1, time.Now()).Lease()
	l.Peer = true
	theirs, err := lease.NewRecord(l)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.l.Replicate(context.Background(), theirs); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("partner's record: %v, want ErrInvalidRecord", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	_, err := New(Options{})
	if !errors.Is(err, ErrOptions) {
		t.Fatalf("New(empty): %v, want ErrOptions", err)
	}
}

func TestLoopbackTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Real time here: the dial loop and sockets need it; bounded waits.
	p := newNode(t, "gw1", Primary, nil, func(o *Options) {
		o.Clock = nil
		o.Listen = "127.0.0.1:0"
		o.Peer = ln.Addr().String()
	})
	s := newNode(t, "gw2", Secondary, nil, func(o *Options) { o.Clock = nil })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.l.Serve(ctx, ln) })
	wg.Go(func() { _ = p.l.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	waitFor[Up](t, p.events)
	waitFor[ResyncDone](t, s.events)
	for i := range 50 {
		if err := p.l.Replicate(context.Background(), p.store.commit(t, i, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	if s.store.PartnerSeq() != 50 {
		t.Fatalf("partner holds %d", s.store.PartnerSeq())
	}
}

func TestRecordTimesMoveToLocalClock(t *testing.T) {
	clock := newFakeClock()
	p := newNode(t, "gw1", Primary, clock, nil)
	// The partner's wall clock runs an hour ahead, on the same timers.
	s := newNode(t, "gw2", Secondary, clock.Offset(time.Hour), nil)
	connect(t, p, s)
	waitFor[ResyncDone](t, s.events)
	if err := p.l.Replicate(context.Background(), p.store.commit(t, 3, clock.Now())); err != nil {
		t.Fatal(err)
	}
	src, _ := p.store.Get(mustAddr(3))
	got, _ := s.store.Get(mustAddr(3))
	if want := src.Expiry.Add(time.Hour); !got.Expiry.Equal(want) {
		t.Errorf("expiry on the partner %v, want %v (its clock is 1h ahead)", got.Expiry, want)
	}
	if want := src.PotentialExpiry.Add(time.Hour); !got.PartnerExpiry.Equal(want) {
		t.Errorf("partner expiry %v, want %v", got.PartnerExpiry, want)
	}
	if up := waitFor[Up](t, p.events); up.Skew != time.Hour {
		t.Errorf("measured skew %v, want 1h", up.Skew)
	}
}

// TestFromPartnerInjected: the link converts received records with
// Options.FromPartner, handing it the frame's clock, ours at receipt and
// the lease we hold.
func TestFromPartnerInjected(t *testing.T) {
	clock := newFakeClock()
	type call struct {
		held           lease.Lease
		sent, received time.Time
	}
	calls := make(chan call, 16)
	p := newNode(t, "gw1", Primary, clock, nil)
	s := newNode(t, "gw2", Secondary, clock.Offset(time.Hour), func(o *Options) { // an hour ahead
		o.FromPartner = func(in, held lease.Lease, sent, received time.Time) lease.Lease {
			calls <- call{held, sent, received}
			in.Hostname = "converted"
			return in
		}
	})
	connect(t, p, s)
	waitFor[ResyncDone](t, s.events)
	if err := p.l.Replicate(context.Background(), p.store.commit(t, 3, clock.Now())); err != nil {
		t.Fatal(err)
	}
	got, _ := s.store.Get(mustAddr(3))
	if got.Hostname != "converted" {
		t.Errorf("stored %+v, not the injected conversion's result", got)
	}
	select {
	case c := <-calls:
		if want := clock.Now(); !c.sent.Equal(want) || !c.received.Equal(want.Add(time.Hour)) {
			t.Errorf("sent, received = %v, %v; want %v and an hour later", c.sent, c.received, want)
		}
		if c.held.Addr.IsValid() {
			t.Errorf("held %+v for an address the partner did not hold", c.held)
		}
	default:
		t.Fatal("FromPartner not called")
	}
}

// TestConfigHashFollowsReload: the hash a handshake announces is the one in
// force at that moment, not the one the link was built with.
func TestConfigHashFollowsReload(t *testing.T) {
	l, err := New(Options{Name: "a", Role: Primary, PSK: make([]byte, 32), MaxResponseDelay: time.Second,
		MaxUnacked: 10, Store: newMemStore(), ConfigHash: []byte("old"), FromPartner: failover.FromPartner})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SendConfig([]byte("new"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	got := string(l.hash)
	l.mu.Unlock()
	if got != "new" {
		t.Fatalf("announced hash after SendConfig = %q, want new", got)
	}
	if err := l.SetConfigHash([]byte("synced")); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	got = string(l.hash)
	l.mu.Unlock()
	if got != "synced" {
		t.Fatalf("announced hash after SetConfigHash = %q, want synced", got)
	}
	if err := l.SetConfigHash(make([]byte, 300)); err == nil {
		t.Fatal("SetConfigHash accepted a 300-byte hash")
	}
}

// TestApplyMergesBufferedUpdates: update frames that arrive while the
// partner's store is busy are applied together, in one Store.Apply (one
// fsync with lease.DB), and acked together, not one fsync per frame.
func TestApplyMergesBufferedUpdates(t *testing.T) {
	p, s, clock, _ := upPair(t, nil)
	s.store.block(t)
	s.store.mu.Lock()
	base := s.store.applyCalls
	s.store.mu.Unlock()
	const n = 6
	done := make(chan error, n)
	for i := 1; i <= n; i++ {
		pl := p.store.commit(t, i, clock.Now())
		go func() { done <- p.l.Replicate(context.Background(), pl) }()
		// Each record its own frame: wait until the writer sent it.
		deadline := time.Now().Add(5 * time.Second)
		for {
			p.l.mu.Lock()
			sent := p.l.sent
			p.l.mu.Unlock()
			if sent == i {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("record %d not sent after 5s", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(50 * time.Millisecond) // the frames reach the partner's socket
	s.store.release()
	for range n {
		if err := recvErr(t, done); err != nil {
			t.Fatal(err)
		}
	}
	s.store.mu.Lock()
	calls := s.store.applyCalls - base
	s.store.mu.Unlock()
	// The first frame's Apply was held at the gate; the five behind it
	// were buffered by then and go in one more.
	if calls != 2 {
		t.Errorf("%d Apply calls for %d frames, want 2 (the first, then the buffered rest at once)", calls, n)
	}
	for i := 1; i <= n; i++ {
		if l, ok := s.store.Get(mustAddr(i)); !ok || l.Seq != uint64(i) {
			t.Errorf("partner holds %+v %v for record %d", l, ok, i)
		}
	}
}

// TestUnstorableRecordIsProtocolError: a record whose conversion the
// database could not store (here an absurd partner clock moves a time past
// 2106) ends the session as the partner's protocol error before anything
// of it is applied, and the record is never acknowledged.
func TestUnstorableRecordIsProtocolError(t *testing.T) {
	clock := newFakeClock()
	p := newNode(t, "gw1", Primary, clock, nil)
	s := newNode(t, "gw2", Secondary, clock, func(o *Options) {
		o.FromPartner = func(in, held lease.Lease, sent, received time.Time) lease.Lease {
			in.Expiry = time.Unix(1<<33, 0)
			return in
		}
	})
	connect(t, p, s)
	waitFor[ResyncDone](t, s.events)
	err := p.l.Replicate(context.Background(), p.store.commit(t, 3, clock.Now()))
	if !errors.Is(err, ErrPartnerUnreachable) {
		t.Fatalf("Replicate = %v, want ErrPartnerUnreachable (the partner refused the record)", err)
	}
	if d := waitFor[Down](t, s.events); !errors.Is(d.Reason, ErrProtocol) || !errors.Is(d.Reason, lease.ErrInvalid) {
		t.Errorf("partner's session ended with %v, want ErrProtocol wrapping lease.ErrInvalid", d.Reason)
	}
	if _, ok := s.store.Get(mustAddr(3)); ok {
		t.Error("the unstorable record was applied")
	}
}
