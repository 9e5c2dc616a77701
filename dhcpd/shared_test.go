package dhcpd

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// The shared-network rig: 192.0.2.0/24 (a pool of two addresses, the box's
// own address .1 on eth0) and 198.51.100.0/25 (its own mask, router and
// lease times; no address of the box) share the link "floor1", whose relay
// 198.18.0.1 is in neither; 203.0.113.0/24 is a subnet alone.
var (
	smallPool = lease.Pool{Name: "192.0.2.100-192.0.2.101", First: ip("192.0.2.100"), Last: ip("192.0.2.101")}
	sibPool   = lease.Pool{Name: "198.51.100.10-198.51.100.20", First: ip("198.51.100.10"), Last: ip("198.51.100.20")}
	lonePool  = lease.Pool{Name: "203.0.113.10-203.0.113.10", First: ip("203.0.113.10"), Last: ip("203.0.113.10")}
	sibTimes  = scope.LeaseTimes{Default: time.Hour, Min: time.Minute, Max: 2 * time.Hour, Renew: 10 * time.Minute, Rebind: 40 * time.Minute}
	macC      = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xc}
)

func newSharedRig(t testing.TB, mod ...func(*scope.Config)) *rig {
	a := &scope.Subnet{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Pools: []lease.Pool{smallPool}, Options: optsLAN.Merge(nil), Times: defTimes}
	b := &scope.Subnet{Prefix: netip.MustParsePrefix("198.51.100.0/25"), Pools: []lease.Pool{sibPool}, Times: sibTimes,
		Options: scope.Options{3: []byte{198, 51, 100, 1}, 6: []byte{192, 0, 2, 53}}}
	lone := &scope.Subnet{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Pools: []lease.Pool{lonePool}, Times: defTimes}
	n := &scope.SharedNetwork{Name: "floor1", Subnets: []*scope.Subnet{a, b}, Relays: []netip.Addr{ip("198.18.0.1")}}
	a.Network, b.Network = n, n
	a.Relays = n.Relays
	b.Relays = n.Relays
	return newRig(t, append([]func(*scope.Config){func(c *scope.Config) {
		c.Subnets = []*scope.Subnet{a, b, lone}
	}}, mod...)...)
}

func opt(m *dhcpv4.DHCPv4, code uint8) []byte { return m.Options.Get(dhcpv4.GenericOptionCode(code)) }

// TestSharedNetworkSecondPool: once the first subnet's pool is full, a
// client of the link gets an address of the second subnet, with that
// subnet's mask, broadcast, routers and lease times, and the link's server
// identifier; it keeps it on DISCOVER, renewal, rebinding and
// INIT-REBOOT (no "wrong network" NAK for a sibling subnet's address).
func TestSharedNetworkSecondPool(t *testing.T) {
	r := newSharedRig(t)
	for _, hw := range []net.HardwareAddr{macA, macB} {
		if a := addr4(r.dora(t, hw).YourIPAddr); !smallPool.First.Less(a.Next()) || smallPool.Last.Less(a) {
			t.Fatalf("first clients got %s, want the first subnet's pool", a)
		}
	}
	ack := r.dora(t, macC)
	got := addr4(ack.YourIPAddr)
	if got != ip("198.51.100.10") {
		t.Fatalf("third client got %s, want 198.51.100.10 from the second subnet", got)
	}
	check := func(what string, m *dhcpv4.DHCPv4) {
		t.Helper()
		if s := addr4(m.ServerIdentifier()); s != srvAddr {
			t.Errorf("%s: server id %s, want the link's %s", what, s, srvAddr)
		}
		if b := opt(m, 1); net.IP(b).String() != "255.255.255.128" {
			t.Errorf("%s: mask %v, want the second subnet's /25", what, net.IP(b))
		}
		if b := opt(m, 28); net.IP(b).String() != "198.51.100.127" {
			t.Errorf("%s: broadcast %v", what, net.IP(b))
		}
		if b := opt(m, 3); net.IP(b).String() != "198.51.100.1" {
			t.Errorf("%s: routers %v, want the second subnet's", what, net.IP(b))
		}
		if m.MessageType() == dhcpv4.MessageTypeAck || m.MessageType() == dhcpv4.MessageTypeOffer {
			if lt, t1, t2 := leaseSecs(m, dhcpv4.OptionIPAddressLeaseTime), leaseSecs(m, dhcpv4.OptionRenewTimeValue), leaseSecs(m, dhcpv4.OptionRebindingTimeValue); lt != 3600 || t1 != 600 || t2 != 2400 {
				t.Errorf("%s: lease %d T1 %d T2 %d, want the second subnet's 3600/600/2400", what, lt, t1, t2)
			}
		}
	}
	check("ACK", ack)
	if l, _ := r.db.Get(got); l.Expiry != t0.Add(time.Hour) {
		t.Errorf("lease expiry %s, want the second subnet's hour", l.Expiry)
	}

	// DISCOVER again (a reboot): the same address, not "the first subnet".
	off, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macC))
	if err != nil || addr4(off.Resp.YourIPAddr) != got {
		t.Fatalf("DISCOVER of a client with a lease in the second subnet: %v %v", off.Resp, err)
	}
	check("OFFER", off.Resp)

	// RENEWING: unicast from the client's address.
	renew := msg(t, dhcpv4.MessageTypeRequest, macC, dhcpv4.WithClientIP(got.AsSlice()))
	in := lanIn
	in.Src, in.Unicast = netip.AddrPortFrom(got, 68), true
	rep, err := r.e.Handle(renew, in)
	if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeAck || addr4(rep.Resp.YourIPAddr) != got {
		t.Fatalf("RENEWING: %v %v", rep.Resp, err)
	}
	check("renewal ACK", rep.Resp)

	// REBINDING: broadcast on the link, ciaddr in the sibling subnet: not
	// an off-link ciaddr.
	ign := r.e.m.Ignored.WithLabelValues("ciaddr-off-link")
	before := counterValue(t, ign)
	rep, err = r.handle(t, msg(t, dhcpv4.MessageTypeRequest, macC, dhcpv4.WithClientIP(got.AsSlice()), dhcpv4.WithBroadcast(true)))
	if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("REBINDING: %v %v", rep.Resp, err)
	}
	check("rebinding ACK", rep.Resp)
	if counterValue(t, ign) != before {
		t.Error("a sibling subnet's ciaddr counted as off-link")
	}

	// INIT-REBOOT.
	rep, err = r.handle(t, msg(t, dhcpv4.MessageTypeRequest, macC, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(got.AsSlice()))))
	if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("INIT-REBOOT of a sibling subnet's address: %v %v", rep.Resp, err)
	}
	check("init-reboot ACK", rep.Resp)

	// An address outside the shared network is still the wrong network.
	rep, err = r.handle(t, msg(t, dhcpv4.MessageTypeRequest, macC, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP{203, 0, 113, 10}))))
	if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("INIT-REBOOT of another network's address: %v %v", rep.Resp, err)
	}
}

// TestSharedNetworkRelayed: behind a relay whose giaddr is in the first
// subnet, or is one of the network's relays, the second subnet's pool is
// used once the first is full; the server identifier is the box's address
// on the shared network even when its interface has others first.
func TestSharedNetworkRelayed(t *testing.T) {
	for _, c := range []struct {
		gi    net.IP
		first netip.Addr // the first client's address
		third netip.Addr
	}{
		{net.IP{192, 0, 2, 254}, smallPool.First, sibPool.First},        // giaddr in the first subnet
		{net.IP{198, 18, 0, 1}, smallPool.First, sibPool.First},         // the network's relay
		{net.IP{198, 51, 100, 126}, sibPool.First, ip("198.51.100.12")}, // giaddr in the second: its pool first
	} {
		gi := c.gi
		t.Run(gi.String(), func(t *testing.T) {
			r := newSharedRig(t)
			in := relayIn
			in.IfAddrs = []netip.Prefix{netip.MustParsePrefix("203.0.113.1/24"), netip.MustParsePrefix("192.0.2.1/24")}
			in.Src = netip.AddrPortFrom(addr4(gi), 67)
			var got []netip.Addr
			for _, hw := range []net.HardwareAddr{macA, macB, macC} {
				off, err := r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, hw, dhcpv4.WithGatewayIP(gi)), in)
				if err != nil {
					t.Fatal(err)
				}
				if s := addr4(off.Resp.ServerIdentifier()); s != srvAddr {
					t.Fatalf("server id %s, want %s (the box's address on the shared network)", s, srvAddr)
				}
				a := addr4(off.Resp.YourIPAddr)
				ack, err := r.e.Handle(msg(t, dhcpv4.MessageTypeRequest, hw, dhcpv4.WithGatewayIP(gi),
					dhcpv4.WithOption(dhcpv4.OptServerIdentifier(srvAddr.AsSlice())), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(a.AsSlice()))), in)
				if err != nil || ack.Resp.MessageType() != dhcpv4.MessageTypeAck {
					t.Fatalf("REQUEST %s: %v %v", a, ack.Resp, err)
				}
				got = append(got, a)
			}
			if got[0] != c.first || got[2] != c.third {
				t.Fatalf("addresses %v, want %s first and %s third", got, c.first, c.third)
			}
		})
	}
}

// TestLoneSubnetKeepsItsPool: a subnet outside a shared network never
// lends its clients another subnet's addresses.
func TestLoneSubnetKeepsItsPool(t *testing.T) {
	r := newSharedRig(t)
	in := relayIn
	in.Src = netip.MustParseAddrPort("203.0.113.1:67")
	gi := dhcpv4.WithGatewayIP(net.IP{203, 0, 113, 1})
	off, err := r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macA, gi), in)
	if err != nil || addr4(off.Resp.YourIPAddr) != ip("203.0.113.10") {
		t.Fatalf("lone subnet: %v %v", off.Resp, err)
	}
	ack, err := r.e.Handle(msg(t, dhcpv4.MessageTypeRequest, macA, gi,
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(srvAddr.AsSlice())), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(off.Resp.YourIPAddr))), in)
	if err != nil || ack.Resp.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("REQUEST: %v %v", ack.Resp, err)
	}
	off, err = r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macB, gi), in)
	if Reason(err) != string(ErrNoAddress) {
		t.Fatalf("second client of a full lone subnet: %v %v, want no address", off.Resp, err)
	}
}

// TestInformWithoutCiaddr: a DHCPINFORM with ciaddr 0 has nowhere to go
// (RFC 2131 §4.3.5): dropped with its reason; with ciaddr it is answered,
// with the options of the subnet holding ciaddr.
func TestInformWithoutCiaddr(t *testing.T) {
	r := newSharedRig(t)
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeInform, macA)); Reason(err) != "inform-no-ciaddr" {
		t.Fatalf("INFORM without ciaddr: %v", err)
	}
	// Broadcast on the link: the link's subnet is found, the options are
	// those of the sibling subnet holding ciaddr.
	in := lanIn
	in.Src = netip.MustParseAddrPort("198.51.100.77:68")
	rep, err := r.e.Handle(msg(t, dhcpv4.MessageTypeInform, macA, dhcpv4.WithClientIP(net.IP{198, 51, 100, 77})), in)
	if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeAck || net.IP(opt(rep.Resp, 3)).String() != "198.51.100.1" {
		t.Fatalf("INFORM from the second subnet: %v %v", rep.Resp, err)
	}
}

// BenchmarkEngineDORASharedNetwork is BenchmarkEngineDORA on a shared
// network whose first pool is full: every new client is served from the
// second subnet (the pools tried in turn, the holder's options).
func BenchmarkEngineDORASharedNetwork(b *testing.B) {
	r := newSharedRig(b)
	t := &testing.T{}
	r.dora(t, macA)
	r.dora(t, macB)
	benchDORA(b, r)
}

// TestSharedNetworkReservation: a client reserved in the second subnet
// gets its address (with that subnet's options) on the link that finds
// the first, as Kea does for reservations in a shared network's subnets.
func TestSharedNetworkReservation(t *testing.T) {
	r := newSharedRig(t, func(c *scope.Config) {
		c.Subnets[1].Reservations = []scope.Reservation{{HWAddr: macRes, Addr: ip("198.51.100.50"), Hostname: "printer"}}
	})
	ack := r.dora(t, macRes)
	if a := addr4(ack.YourIPAddr); a != ip("198.51.100.50") || net.IP(opt(ack, 3)).String() != "198.51.100.1" {
		t.Fatalf("reserved client got %s with routers %v, want 198.51.100.50 with the second subnet's", a, net.IP(opt(ack, 3)))
	}
	// INIT-REBOOT of another address of the network: it has its own.
	rep, err := r.handle(t, msg(t, dhcpv4.MessageTypeRequest, macRes, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP{192, 0, 2, 100}))))
	if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("reserved client asking for another address: %v %v", rep.Resp, err)
	}
}

// TestBroadcastFollowsMask: a subnet_mask other than the prefix's (real
// configurations have them) gets no broadcast address derived from the
// prefix, which would contradict it; the prefix's own mask gets its
// broadcast address.
func TestBroadcastFollowsMask(t *testing.T) {
	r := newSharedRig(t, func(c *scope.Config) {
		c.Subnets[1].Options[1] = []byte{255, 255, 255, 0}
	})
	for _, hw := range []net.HardwareAddr{macA, macB} {
		ack := r.dora(t, hw)
		if b := opt(ack, 28); net.IP(b).String() != "192.0.2.255" {
			t.Fatalf("first subnet: broadcast %v, want 192.0.2.255", net.IP(b))
		}
	}
	ack := r.dora(t, macC)
	if b := opt(ack, 1); net.IP(b).String() != "255.255.255.0" {
		t.Fatalf("second subnet: mask %v, want the configured 255.255.255.0", net.IP(b))
	}
	if b := opt(ack, 28); b != nil {
		t.Fatalf("second subnet: broadcast %v sent with a mask other than the prefix's", net.IP(b))
	}
}
