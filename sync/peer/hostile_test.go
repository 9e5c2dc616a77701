package peer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Connections that never prove a key (invariant 8): what they may cost,
// how many may wait, and the accept loop under errors.

// hugeHeader announces a frame of an unknown type and 1 MiB: what made
// the secondary allocate 1 MiB per connection before authentication.
var hugeHeader = []byte{0xee, 0x00, 0x10, 0x00, 0x00}

func TestPreAuthOversizeRefusedWithoutAllocation(t *testing.T) {
	clock := newFakeClock()
	sec := newNode(t, "gw2", Secondary, clock, nil)
	const n = 100
	errs := make(chan error, n)
	conns := make([]net.Conn, 0, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		ca, cb := net.Pipe()
		conns = append(conns, ca)
		go func() { errs <- sec.l.HandleConn(context.Background(), cb, false) }()
		go func() { _, _ = ca.Write(hugeHeader) }()
	}
	returned := 0
	deadline := time.After(5 * time.Second)
wait:
	for returned < n {
		select {
		case <-errs:
			returned++
		case <-deadline:
			break wait
		}
	}
	runtime.ReadMemStats(&after)
	for _, c := range conns {
		c.Close()
	}
	for range n - returned {
		recvErr(t, errs)
	}
	if returned < n {
		t.Errorf("%d of %d connections still open 5s after announcing 1 MiB before authentication", n-returned, n)
	}
	// A session's own structures, goroutines' closures and the pipe are a
	// few KiB; the old reader took 64 KiB of buffer and the 1 MiB.
	perConn := (after.TotalAlloc - before.TotalAlloc) / n
	t.Logf("allocated %d bytes per refused connection", perConn)
	if perConn > 16<<10 {
		t.Errorf("allocated %d bytes per connection that announced 1 MiB before authentication, want at most 16 KiB", perConn)
	}
	if got := counterValue(t, sec.l.m.Refused.WithLabelValues("oversize")); got != n {
		t.Errorf("refused_peers_total{reason=oversize} = %v, want %d", got, n)
	}
}

func TestPreAuthFrameOfWrongType(t *testing.T) {
	tests := []struct {
		name   string
		hello  bool // send a good Hello first
		frame  []byte
		reason string
	}{
		{"update for hello", false, appendFrame(nil, FrameUpdate, make([]byte, 16)), "malformed"},
		{"update header of 1 MiB for auth", true, []byte{byte(FrameUpdate), 0x00, 0x10, 0x00, 0x00}, "oversize"},
		{"heartbeat for auth", true, appendFrame(nil, FrameHeartbeat, marshalU64(1)), "auth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec := newNode(t, "gw2", Secondary, newFakeClock(), nil)
			sc, errc := startScripted(t, sec)
			their := hello{}
			if err := their.unmarshal(sc.read(FrameHello)); err != nil {
				t.Fatal(err)
			}
			if tt.hello {
				sc.write(FrameHello, (&hello{Version: ProtocolVersion, Role: Primary, Name: "gw1", Nonce: [32]byte{5}}).marshal())
			}
			go func() { _, _ = sc.c.Write(tt.frame) }()
			if err := recvErr(t, errc); err == nil {
				t.Fatal("HandleConn returned nil")
			}
			if got := counterValue(t, sec.l.m.Refused.WithLabelValues(tt.reason)); got != 1 {
				t.Errorf("refused_peers_total{reason=%s} = %v, want 1", tt.reason, got)
			}
			if sec.l.Up() {
				t.Error("link up")
			}
		})
	}
}

// advanceUntil advances clock a watchdog tick at a time until errc
// yields, and returns the fake time advanced.
func advanceUntil(t *testing.T, clock interface{ Advance(time.Duration) }, errc <-chan error) (time.Duration, error) {
	t.Helper()
	tick := tickEvery(3 * time.Second)
	var advanced time.Duration
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		select {
		case err := <-errc:
			return advanced, err
		case <-time.After(5 * time.Millisecond):
		}
		clock.Advance(tick)
		advanced += tick
	}
	t.Fatal("HandleConn still running after 5s")
	return 0, nil
}

func TestHandshakeTimeoutCounted(t *testing.T) {
	t.Run("silent", func(t *testing.T) {
		clock := newFakeClock()
		sec := newNode(t, "gw2", Secondary, clock, nil)
		sc, errc := startScripted(t, sec)
		sc.read(FrameHello)
		advanced, err := advanceUntil(t, clock, errc)
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("HandleConn = %v, want ErrTimeout", err)
		}
		if advanced < 3*time.Second {
			t.Errorf("closed after %v, before max_response_delay", advanced)
		}
		if got := counterValue(t, sec.l.m.Refused.WithLabelValues("timeout")); got != 1 {
			t.Errorf("refused_peers_total{reason=timeout} = %v, want 1", got)
		}
	})
	t.Run("hello then silent", func(t *testing.T) {
		// A Hello does not buy more time: the whole unauthenticated part
		// is bounded by max_response_delay from the connection's start.
		clock := newFakeClock()
		sec := newNode(t, "gw2", Secondary, clock, nil)
		sc, errc := startScripted(t, sec)
		sc.read(FrameHello)
		for range 16 { // 2 s of 3
			clock.Advance(tickEvery(3 * time.Second))
			time.Sleep(time.Millisecond)
		}
		sc.write(FrameHello, (&hello{Version: ProtocolVersion, Role: Primary, Name: "gw1", Nonce: [32]byte{6}}).marshal())
		advanced, err := advanceUntil(t, clock, errc)
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("HandleConn = %v, want ErrTimeout", err)
		}
		if advanced > 1500*time.Millisecond {
			t.Errorf("closed %v after the Hello, which restarted the handshake's time", advanced)
		}
		if got := counterValue(t, sec.l.m.Refused.WithLabelValues("timeout")); got != 1 {
			t.Errorf("refused_peers_total{reason=timeout} = %v, want 1", got)
		}
	})
}

// fakeListener hands Serve the connections and errors a test queues.
type fakeListener struct {
	next   chan acceptResult
	closed chan struct{}
	once   sync.Once
}

type acceptResult struct {
	c   net.Conn
	err error
}

func newFakeListener() *fakeListener {
	return &fakeListener{next: make(chan acceptResult, 16), closed: make(chan struct{})}
}

func (f *fakeListener) Accept() (net.Conn, error) {
	select {
	case r := <-f.next:
		return r.c, r.err
	case <-f.closed:
		return nil, net.ErrClosed
	}
}

func (f *fakeListener) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 647} }

// fromConn is a pipe end with the remote address of a TCP peer.
type fromConn struct {
	net.Conn
	remote net.Addr
}

func (c fromConn) RemoteAddr() net.Addr { return c.remote }

// dial queues a connection from src on ln and returns the test's end.
func (f *fakeListener) dial(t *testing.T, src string) net.Conn {
	t.Helper()
	ca, cb := net.Pipe()
	t.Cleanup(func() { ca.Close(); cb.Close() })
	f.next <- acceptResult{c: fromConn{cb, net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(src), 40000))}}
	return ca
}

func acceptErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

// serving runs l.Serve(ln) until the test ends; the channel yields its
// result, then is closed.
func serving(t *testing.T, l *Link, ln net.Listener) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Serve still running 5s after its context ended")
		}
	})
	return done
}

// admitted reports whether the secondary started a handshake on c (its
// Hello arrives) rather than closing it.
func admitted(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var h [frameHeaderLen]byte
	_, err := io.ReadFull(c, h[:])
	switch {
	case err == nil:
		if FrameType(h[0]) != FrameHello {
			t.Fatalf("first frame %v, want hello", FrameType(h[0]))
		}
		return true
	case errors.Is(err, io.EOF):
		return false
	}
	t.Fatalf("neither a Hello nor a close within 2s: %v", err)
	return false
}

func TestAdmissionLimits(t *testing.T) {
	sec := newNode(t, "gw2", Secondary, newFakeClock(), func(o *Options) { o.Peer = "192.0.2.1:647" })
	ln := newFakeListener()
	serving(t, sec.l, ln)
	src := func(i int) string { return netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).String() }

	// Per source: four wait in the handshake, the fifth is closed.
	var first []net.Conn
	for i := range 4 {
		c := ln.dial(t, src(1))
		if !admitted(t, c) {
			t.Fatalf("connection %d from %s refused", i+1, src(1))
		}
		first = append(first, c)
	}
	if admitted(t, ln.dial(t, src(1))) {
		t.Fatal("fifth unauthenticated connection from one source admitted")
	}
	if got := counterValue(t, sec.l.m.Refused.WithLabelValues("source_limit")); got != 1 {
		t.Errorf("refused_peers_total{reason=source_limit} = %v, want 1", got)
	}

	// In total: 64 from 16 sources, then a 17th source is refused.
	for s := 2; s <= 16; s++ {
		for range 4 {
			if !admitted(t, ln.dial(t, src(s))) {
				t.Fatalf("connection from %s refused with %d pending", src(s), 4*(s-1))
			}
		}
	}
	if admitted(t, ln.dial(t, src(17))) {
		t.Fatal("65th unauthenticated connection admitted")
	}
	if got := counterValue(t, sec.l.m.Refused.WithLabelValues("total_limit")); got != 1 {
		t.Errorf("refused_peers_total{reason=total_limit} = %v, want 1", got)
	}

	// The partner's address is outside the total, and a connection that
	// authenticates frees its slot: after it, four more from there wait.
	sc := &scripted{t: t, c: ln.dial(t, "192.0.2.1"), fr: nil}
	sc.fr = newHandshakeReader(sc.c)
	their := hello{}
	if err := their.unmarshal(sc.read(FrameHello)); err != nil {
		t.Fatal(err)
	}
	me := hello{Version: ProtocolVersion, Role: Primary, Name: "gw1", Nonce: [32]byte{8}}
	sc.write(FrameHello, me.marshal())
	sc.initiate(testKey, &me, &their)
	sc.read(FrameSession)
	sc.write(FrameSession, (&sessionMsg{Epoch: 1}).marshal())
	waitFor[Up](t, sec.events)
	for i := range 4 {
		if !admitted(t, ln.dial(t, "192.0.2.1")) {
			t.Fatalf("connection %d from the partner's address refused beside its authenticated one", i+1)
		}
	}

	// A connection that gives up frees its slot.
	first[0].Close()
	for deadline := time.Now().Add(2 * time.Second); !admitted(t, ln.dial(t, src(17))); {
		if time.Now().After(deadline) {
			t.Fatal("slot of a closed connection not freed within 2s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := counterValue(t, sec.l.m.Refused.WithLabelValues("closed")); got != 1 {
		t.Errorf("refused_peers_total{reason=closed} = %v, want 1", got)
	}
}

// syncBuffer is a log destination for goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gathered is the value of a counter (summed over its labels) in reg;
// -1 when reg has no such metric.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			v := 0.0
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue()
			}
			return v
		}
	}
	return -1
}

func TestServeRetriesTransientAcceptErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	// Real time: the accept loop's pauses are short and bounded.
	sec := newNode(t, "gw2", Secondary, nil, func(o *Options) {
		o.Clock, o.Metrics = nil, m
		o.Logger = slog.New(slog.NewTextHandler(&log, nil))
	})
	pri := newNode(t, "gw1", Primary, nil, func(o *Options) { o.Clock = nil })
	ln := newFakeListener()
	done := serving(t, sec.l, ln)
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ENOBUFS, syscall.ENOMEM} {
		ln.next <- acceptResult{err: acceptErr(e)}
	}
	ca, cb := net.Pipe()
	ln.next <- acceptResult{c: fromConn{cb, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = pri.l.HandleConn(ctx, ca, true) })
	t.Cleanup(func() { cancel(); ca.Close(); wg.Wait() })
	select {
	case err := <-done:
		t.Fatalf("Serve returned on a transient accept error: %v", err)
	case <-waitUp(sec.events):
	case <-time.After(5 * time.Second):
		t.Fatal("no session within 5s of the accept errors")
	}
	if got := gathered(t, reg, "hadhcpd_peer_accept_errors_total"); got != 6 {
		t.Errorf("hadhcpd_peer_accept_errors_total = %v, want 6", got)
	}
	out := log.String()
	if n := strings.Count(out, "cannot accept"); n != 1 {
		t.Errorf("%d log lines for one streak of accept errors, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "accepting connections again") {
		t.Errorf("the end of the streak is not logged:\n%s", out)
	}
}

// waitUp yields once an Up event arrives on ch.
func waitUp(ch <-chan Event) <-chan struct{} {
	up := make(chan struct{})
	go func() {
		for ev := range ch {
			if _, ok := ev.(Up); ok {
				close(up)
				return
			}
		}
	}()
	return up
}

func TestServeReturnsPermanentAcceptError(t *testing.T) {
	sec := newNode(t, "gw2", Secondary, nil, func(o *Options) { o.Clock = nil })
	pri := newNode(t, "gw1", Primary, nil, func(o *Options) { o.Clock = nil })
	ln := newFakeListener()
	done := serving(t, sec.l, ln)
	ca, cb := net.Pipe()
	ln.next <- acceptResult{c: fromConn{cb, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = pri.l.HandleConn(ctx, ca, true) })
	t.Cleanup(func() { cancel(); ca.Close(); wg.Wait() })
	waitFor[Up](t, sec.events)

	// With the session up, the listener breaks: Serve returns at once,
	// not when its context ends, and takes the session down with it.
	ln.next <- acceptResult{err: acceptErr(syscall.EINVAL)}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "failover.listen") || !errors.Is(err, syscall.EINVAL) {
			t.Errorf("Serve = %v, want the accept error naming failover.listen", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve still running 2s after a permanent accept error")
	}
	if sec.l.Up() {
		t.Error("link still up after Serve returned")
	}
}

// absentAddr is an address of TEST-NET-3 this box does not have, where a
// bind fails with EADDRNOTAVAIL; the test is skipped otherwise.
func absentAddr(t *testing.T) string {
	t.Helper()
	const a = "203.0.113.254"
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_nonlocal_bind"); err == nil && strings.TrimSpace(string(b)) != "0" {
		t.Skip("ip_nonlocal_bind is set: binding any address succeeds")
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skip(err)
	}
	for _, ad := range addrs {
		if p, err := netip.ParsePrefix(ad.String()); err == nil && p.Addr().String() == a {
			t.Skipf("this box has %s", a)
		}
	}
	return a
}

func TestRunAddressNotOnThisBox(t *testing.T) {
	a := absentAddr(t)
	for _, role := range []Role{Secondary, Primary} {
		t.Run(role.String(), func(t *testing.T) {
			n := newNode(t, "gw", role, nil, func(o *Options) {
				o.Clock = nil
				o.Listen = a + ":647"
				o.Peer = "127.0.0.1:1"
			})
			done := make(chan error, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { done <- n.l.Run(ctx) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "failover.listen") || !errors.Is(err, syscall.EADDRNOTAVAIL) {
					t.Errorf("Run = %v, want EADDRNOTAVAIL naming failover.listen", err)
				}
			case <-time.After(2 * time.Second):
				cancel()
				<-done
				t.Fatal("Run still running 2s after failover.listen could not be bound")
			}
		})
	}
}
