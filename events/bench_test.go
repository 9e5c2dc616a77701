package events

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// BenchmarkPublish is the cost the commit path pays per lease event:
// with no reader, with a reader that never reads (dropped after one ring,
// then off the list), and with a reader that keeps up (its own goroutine
// copies the events out). Compare the ns/op of the three.
func BenchmarkPublish(b *testing.B) {
	l := lease.Lease{Addr: netip.MustParseAddr("192.0.2.10"), HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1},
		ClientID: []byte{1, 2, 0, 0, 0, 0, 1}, State: lease.StateActive}
	run := func(b *testing.B, bus *Bus) {
		b.ReportAllocs()
		for b.Loop() {
			bus.Publish(LeaseChange(Granted, l, netip.Addr{}))
		}
	}
	b.Run("reader=none", func(b *testing.B) { run(b, NewBus(Options{Box: "gw1"})) })
	b.Run("reader=stalled", func(b *testing.B) {
		m, _ := NewMetrics(nil)
		bus := NewBus(Options{Box: "gw1", Metrics: m})
		s := bus.Subscribe(0)
		defer s.Close()
		run(b, bus)
		b.ReportMetric(value(m.Dropped), "dropped")
	})
	b.Run("reader=following", func(b *testing.B) {
		bus := NewBus(Options{Box: "gw1"})
		s := bus.Subscribe(0)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]Event, 256)
			for {
				if _, err := s.Next(ctx, buf); err != nil {
					return
				}
			}
		}()
		run(b, bus)
		cancel()
		<-done
		s.Close()
	})
}
