package dhcpd

import (
	"testing"

	"github.com/hadhcpd/hadhcpd/events"
)

// BenchmarkEngineDORAEvents is BenchmarkEngineDORA (one new client's
// DORA, then its RELEASE: two lease events) with the engine's lease
// events published to the operator's event stream as the agent wires it
// (OnLease → events.Bus.Publish): without the bus, with no reader, and
// with a reader that never reads (a stalled `curl -N`: dropped once a ring
// of events passed it, and counted). The stream must not cost the DHCP
// path more than a few per cent: compare the DORA/s of the cases.
func BenchmarkEngineDORAEvents(b *testing.B) {
	cases := []struct {
		name  string
		bus   bool
		stall bool
	}{{"stream=off", false, false}, {"reader=none", true, false}, {"reader=stalled", true, true}}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			r := newRig(&testing.T{})
			var m *events.Metrics
			if c.bus {
				m, _ = events.NewMetrics(nil)
				bus := events.NewBus(events.Options{Box: "gw1", Clock: r.clk, Metrics: m})
				r.e.onLease = func(ev LeaseEvent) { bus.Publish(events.LeaseChange(ev.Action.String(), ev.Lease, ev.Relay)) }
				if c.stall {
					s := bus.Subscribe(0)
					defer s.Close()
				}
			}
			benchDORA(b, r)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "DORA/s")
			if m != nil && c.stall {
				b.ReportMetric(counterValue(&testing.T{}, m.Dropped), "dropped")
			}
		})
	}
}
