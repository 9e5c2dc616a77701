package dhcpd

import (
	"net"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/events"
	"github.com/insomniacslk/dhcp/dhcpv4"
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
			r.e.spacing = -1
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
			doraLoop(b, r)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "DORA/s")
			if m != nil && c.stall {
				b.ReportMetric(counterValue(&testing.T{}, m.Dropped), "dropped")
			}
		})
	}
}

// doraLoop is BenchmarkEngineDORA's loop.
func doraLoop(b *testing.B, r *rig) {
	prl := dhcpv4.WithOption(dhcpv4.OptParameterRequestList(
		dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer, dhcpv4.OptionDomainName))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.clk.Advance(time.Millisecond)
		hw := net.HardwareAddr{2, 4, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		disc, _ := dhcpv4.NewDiscovery(hw, prl)
		in, err := dhcpv4.FromBytes(disc.ToBytes())
		if err != nil {
			b.Fatal(err)
		}
		off, err := r.e.Handle(in, lanIn)
		if err != nil {
			b.Fatal(err)
		}
		o, _ := dhcpv4.FromBytes(off.Resp.ToBytes())
		req, _ := dhcpv4.NewRequestFromOffer(o, prl)
		in2, err := dhcpv4.FromBytes(req.ToBytes())
		if err != nil {
			b.Fatal(err)
		}
		ack, err := r.e.Handle(in2, lanIn)
		if err != nil || ack.Resp.MessageType() != dhcpv4.MessageTypeAck {
			b.Fatal(err)
		}
		_ = ack.Resp.ToBytes()
		rel := msg(&testing.T{}, dhcpv4.MessageTypeRelease, hw, dhcpv4.WithClientIP(ack.Resp.YourIPAddr),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice()))))
		if _, err := r.e.Handle(rel, lanIn); err != nil {
			b.Fatal(err)
		}
	}
}
