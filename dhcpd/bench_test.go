package dhcpd

import (
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// BenchmarkEngineDORA is the user-space cost of one new client's
// DISCOVER-OFFER-REQUEST-ACK: decode both requests, decide, encode both
// replies, against an in-memory database (no fsync, no sockets). It is the
// part of scripts/bench-dhcp.sh's CPU per DORA that this code controls.
func BenchmarkEngineDORA(b *testing.B) {
	benchDORA(b, newRig(&testing.T{}))
}

// benchDORA runs BenchmarkEngineDORA's exchange on r's engine, whose
// first subnet serves lanIn; mods are added to the DISCOVER and the
// REQUEST.
func benchDORA(b *testing.B, r *rig, mods ...dhcpv4.Modifier) {
	r.e.spacing = -1
	prl := dhcpv4.WithOption(dhcpv4.OptParameterRequestList(
		dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer, dhcpv4.OptionDomainName))
	mods = append([]dhcpv4.Modifier{prl}, mods...)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// Time passes as it would: the per-client rate slots refill.
		r.clk.Advance(time.Millisecond)
		hw := net.HardwareAddr{2, 4, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		disc, _ := dhcpv4.NewDiscovery(hw, mods...)
		in, err := dhcpv4.FromBytes(disc.ToBytes())
		if err != nil {
			b.Fatal(err)
		}
		off, err := r.e.Handle(in, lanIn)
		if err != nil {
			b.Fatal(err)
		}
		ob := off.Resp.ToBytes()
		o, _ := dhcpv4.FromBytes(ob)
		req, _ := dhcpv4.NewRequestFromOffer(o, mods...)
		in2, err := dhcpv4.FromBytes(req.ToBytes())
		if err != nil {
			b.Fatal(err)
		}
		ack, err := r.e.Handle(in2, lanIn)
		if err != nil || ack.Resp.MessageType() != dhcpv4.MessageTypeAck {
			b.Fatal(err)
		}
		_ = ack.Resp.ToBytes()
		// Release, so the small test pool never runs dry.
		rel := msg(&testing.T{}, dhcpv4.MessageTypeRelease, hw, dhcpv4.WithClientIP(ack.Resp.YourIPAddr), sidMod)
		if _, err := r.e.Handle(rel, lanIn); err != nil {
			b.Fatal(err)
		}
	}
}
