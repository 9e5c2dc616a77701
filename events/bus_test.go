package events

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock/clocktest"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func testBus(t *testing.T, ring int) (*Bus, *Metrics) {
	t.Helper()
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return NewBus(Options{Box: "gw1", Clock: clocktest.NewFake(t0), Ring: ring, Metrics: m}), m
}

func next(t *testing.T, s *Sub, n int) []Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []Event
	buf := make([]Event, 16)
	for len(out) < n {
		evs, err := s.Next(ctx, buf)
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, evs...)
	}
	return out
}

// TestPublishOrderAndFill: events arrive in order with their sequence
// numbers, the box and the time filled in; a subscriber sees only what
// was published after it subscribed.
func TestPublishOrderAndFill(t *testing.T) {
	b, m := testBus(t, 8)
	b.Publish(Event{Type: TypeVRRP, To: "MASTER"}) // before anyone listens
	s := b.Subscribe(0)
	defer s.Close()
	for i := range 3 {
		b.Publish(Event{Type: TypeLease, Action: Granted, IP: netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)})})
	}
	got := next(t, s, 3)
	for i, ev := range got {
		if ev.Seq != uint64(i+2) || ev.Box != "gw1" || !ev.Time.Equal(t0) || ev.IP.As4()[3] != byte(10+i) {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
	if v := value(m.Published); v != 4 {
		t.Errorf("published %v, want 4", v)
	}
	if v := value(m.Subscribers); v != 1 {
		t.Errorf("subscribers %v, want 1", v)
	}
	s.Close()
	if v := value(m.Subscribers); v != 0 {
		t.Errorf("subscribers after Close %v, want 0", v)
	}
}

// TestSlowSubscriberDropped: a subscriber that does not read is dropped
// once a whole ring passed it, and counted; the publisher never waited
// for it, and a reader that keeps up is untouched.
func TestSlowSubscriberDropped(t *testing.T) {
	b, m := testBus(t, 16)
	slow := b.Subscribe(0)
	fast := b.Subscribe(0)
	defer slow.Close()
	defer fast.Close()
	for i := range 40 {
		b.Publish(Event{Type: TypeLease, Action: Renewed})
		if i%4 == 3 {
			next(t, fast, 4)
		}
	}
	if v := value(m.Dropped); v != 1 {
		t.Errorf("dropped subscribers %v, want 1", v)
	}
	if _, err := slow.Next(context.Background(), make([]Event, 4)); !errors.Is(err, ErrDropped) {
		t.Errorf("slow subscriber: %v, want ErrDropped", err)
	}
	b.Publish(Event{Type: TypeLease, Action: Expired})
	if got := next(t, fast, 1); got[0].Seq != 41 || got[0].Action != Expired {
		t.Errorf("fast subscriber after the drop: %+v", got)
	}
	if v := value(m.Dropped); v != 1 {
		t.Errorf("dropped counted %v times, want once", v)
	}
}

// TestSubscribeSince: a reconnecting reader resumes after the last event
// it saw while the ring holds it, or from the oldest it still holds.
func TestSubscribeSince(t *testing.T) {
	b, _ := testBus(t, 8)
	for range 20 {
		b.Publish(Event{Type: TypeFailover, To: "NORMAL"})
	}
	s := b.Subscribe(15)
	if got := next(t, s, 5); got[0].Seq != 16 || got[4].Seq != 20 {
		t.Errorf("since 15: %d..%d, want 16..20", got[0].Seq, got[len(got)-1].Seq)
	}
	s.Close()
	s = b.Subscribe(2) // 3 is long gone: the oldest held is 13
	if got := next(t, s, 8); got[0].Seq != 13 {
		t.Errorf("since 2: first %d, want 13", got[0].Seq)
	}
	s.Close()
	if r := b.Recent(3); len(r) != 3 || r[0].Seq != 18 || r[2].Seq != 20 {
		t.Errorf("Recent(3) = %+v", r)
	}
	if r := b.Recent(100); len(r) != 8 || r[0].Seq != 13 {
		t.Errorf("Recent(100) holds %d from %d, want the ring's 8 from 13", len(r), r[0].Seq)
	}
}

// TestCloseEndsReaders: Bus.Close ends a waiting Next; ctx ends it too.
func TestCloseEndsReaders(t *testing.T) {
	b, _ := testBus(t, 8)
	s := b.Subscribe(0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.Next(ctx, make([]Event, 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next without events: %v", err)
	}
	errc := make(chan error, 1)
	go func() { _, err := s.Next(context.Background(), make([]Event, 1)); errc <- err }()
	b.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
	b.Publish(Event{}) // a no-op, no panic
	if _, err := b.Subscribe(0).Next(context.Background(), make([]Event, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
}

// TestPublishDoesNotAllocate: the commit path's cost is a copy.
func TestPublishDoesNotAllocate(t *testing.T) {
	b, _ := testBus(t, 64)
	s := b.Subscribe(0)
	defer s.Close()
	l := lease.Lease{Addr: netip.MustParseAddr("192.0.2.10"), HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, State: lease.StateActive, Expiry: t0}
	if n := testing.AllocsPerRun(1000, func() { b.Publish(LeaseChange(Granted, l, netip.Addr{})) }); n != 0 {
		t.Errorf("Publish allocates %v times per event", n)
	}
}

// TestEventJSON: the stream's JSON names the fields an operator reads
// and leaves out what does not apply.
func TestEventJSON(t *testing.T) {
	l := lease.Lease{Addr: netip.MustParseAddr("192.0.2.10"), HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 0xa}, ClientID: []byte{1, 2, 0, 0, 0, 0, 0xa},
		Hostname: "pc", State: lease.StateActive, Expiry: t0}
	ev := LeaseChange(Granted, l, netip.MustParseAddr("198.51.100.1"))
	ev.Seq, ev.Time, ev.Box = 7, t0, "gw1"
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"seq":7,"time":"2030-01-02T03:04:05Z","box":"gw1","type":"lease","action":"granted","ip":"192.0.2.10",` +
		`"hw_address":"02:00:00:00:00:0a","client_id":"01:02:00:00:00:00:0a","hostname":"pc","expiry":"2030-01-02T03:04:05Z","relay":"198.51.100.1"}`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil || back.Type != TypeLease || net.HardwareAddr(back.HWAddr).String() != "02:00:00:00:00:0a" || string(back.ClientID) != string(l.ClientID) {
		t.Errorf("round trip: %+v %v", back, err)
	}
	tr, _ := json.Marshal(Event{Seq: 8, Time: t0, Box: "gw1", Type: TypeFailover, From: "NORMAL", To: "COMMUNICATIONS-INTERRUPTED", Reason: "link down"})
	if s := string(tr); strings.Contains(s, `"ip"`) || strings.Contains(s, "expiry") || !strings.Contains(s, `"type":"failover"`) {
		t.Errorf("transition JSON: %s", s)
	}
}

// value reads a counter or gauge (as vrrp's tests do, without
// prometheus/testutil's extra module).
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}
