package dhcpd

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// A client on a served link gets an address of its link's subnet, whatever
// it writes into the fields that name a subnet: giaddr, option 82's link
// selection, option 118, ciaddr. Each would have given it one of the
// relayed 198.51.100.0/24 before they were believed only where they can be
// true.
func TestDirectClientCannotChooseRelayedSubnet(t *testing.T) {
	far := netip.MustParsePrefix("198.51.100.0/24")
	farIP := net.IP{198, 51, 100, 15}
	linkSel := dhcpv4.WithOption(dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.LinkSelectionSubOption, []byte{198, 51, 100, 0})))
	subnetSel := dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionSubnetSelection, []byte{198, 51, 100, 0}))
	gi := dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1})
	unicastIn := lanIn
	unicastIn.Unicast = true
	unicastIn.Src = netip.MustParseAddrPort("198.51.100.15:68")
	for _, c := range []struct {
		name    string
		mods    []dhcpv4.Modifier
		in      Inbound
		wantErr error  // a drop
		ignored string // or an answer with this counted as ignored
	}{
		{name: "option 82 link selection", mods: []dhcpv4.Modifier{linkSel}, in: lanIn, ignored: "option82-not-relayed"},
		{name: "option 118", mods: []dhcpv4.Modifier{subnetSel}, in: lanIn, ignored: "option118-not-relayed"},
		{name: "giaddr from port 68", mods: []dhcpv4.Modifier{gi, linkSel},
			in: Inbound{IfIndex: 2, Iface: "eth0", IfAddrs: lanIn.IfAddrs, Src: netip.MustParseAddrPort("192.0.2.77:68")}, wantErr: ErrClientGiaddr},
		{name: "giaddr from 0.0.0.0:67", mods: []dhcpv4.Modifier{gi, subnetSel},
			in: Inbound{IfIndex: 2, Iface: "eth0", IfAddrs: lanIn.IfAddrs, Src: netip.MustParseAddrPort("0.0.0.0:67")}, wantErr: ErrClientGiaddr},
		{name: "ciaddr, broadcast", mods: []dhcpv4.Modifier{dhcpv4.WithClientIP(farIP)}, in: lanIn, ignored: "ciaddr-off-link"},
		// A DISCOVER has no address to send from (RFC 2131 Table 5).
		{name: "ciaddr, unicast DISCOVER", mods: []dhcpv4.Modifier{dhcpv4.WithClientIP(farIP)}, in: unicastIn, ignored: "ciaddr-off-link"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			ign := r.e.m.Ignored.WithLabelValues(c.ignored)
			before := counterValue(t, ign)
			rep, err := r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macA, c.mods...), c.in)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) || rep.Resp != nil {
					t.Fatalf("got %v %v, want the drop %v", rep.Resp, err, c.wantErr)
				}
				if len(r.e.offers) != 0 {
					t.Fatalf("dropped request left offers %v", r.e.offers)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := addr4(rep.Resp.YourIPAddr); far.Contains(got) || !lanPool.First.Less(got.Next()) || lanPool.Last.Less(got) {
				t.Fatalf("direct client offered %s, want an address of its link's pool %s", got, lanPool.Name)
			}
			if got := counterValue(t, ign) - before; got != 1 {
				t.Errorf("ignored{%s} went up by %v, want 1", c.ignored, got)
			}
		})
	}

	// SELECTING a far address it was never offered, unicast with a far
	// ciaddr: the link's subnet decides, so a NAK (wrong network), no lease.
	r := newRig(t)
	rep, err := r.e.Handle(msg(t, dhcpv4.MessageTypeRequest, macA, dhcpv4.WithClientIP(farIP),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice()))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(farIP))), unicastIn)
	if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("SELECTING a far address with a far ciaddr: %v %v, want a NAK", rep.Resp, err)
	}
	if _, ok := r.db.Get(addr4(farIP)); ok {
		t.Fatal("a direct client got a lease of the relayed subnet")
	}
}

// What only a relay can say is believed from a relay, and a client of a
// relayed subnet renews by unicast straight to the server (RFC 2131
// §4.3.2), its ciaddr choosing its subnet.
func TestRelayedFieldsStillChoose(t *testing.T) {
	far := netip.MustParsePrefix("198.51.100.0/24")
	r := newRig(t)
	subnetSel := dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionSubnetSelection, []byte{198, 51, 100, 0}))
	// A relay whose giaddr is no served subnet's names the subnet with 118.
	rep, err := r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macA, dhcpv4.WithGatewayIP(net.IP{203, 0, 113, 1}), subnetSel), relayIn)
	if err != nil || !far.Contains(addr4(rep.Resp.YourIPAddr)) {
		t.Fatalf("relayed option 118: %v %v, want an address of %s", rep.Resp, err, far)
	}
	hw := net.HardwareAddr{2, 7, 0, 0, 0, 1}
	gi := dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1})
	off, err := r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, hw, gi), relayIn)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := r.e.Handle(msg(t, dhcpv4.MessageTypeRequest, hw, gi,
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice()))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(off.Resp.YourIPAddr))), relayIn)
	if err != nil || ack.Resp.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("relayed REQUEST: %v %v", ack.Resp, err)
	}
	yi := addr4(ack.Resp.YourIPAddr)
	renewIn := Inbound{IfIndex: 2, Iface: "eth0", IfAddrs: lanIn.IfAddrs, Src: netip.AddrPortFrom(yi, 68), Unicast: true}
	rep, err = r.e.Handle(msg(t, dhcpv4.MessageTypeRequest, hw, dhcpv4.WithClientIP(net.IP(yi.AsSlice()))), renewIn)
	if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeAck || rep.Dest.Kind != DestUnicast {
		t.Fatalf("RENEWING from the relayed subnet: %v %v, want an ACK to ciaddr", rep.Resp, err)
	}
	// The same renewal broadcast on the server's own link: the client is
	// not where its address is (RFC 2131 §4.3.2: NAK the wrong network).
	rep, err = r.e.Handle(msg(t, dhcpv4.MessageTypeRequest, hw, dhcpv4.WithClientIP(net.IP(yi.AsSlice())), dhcpv4.WithBroadcast(true)), lanIn)
	if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("REBINDING of a relayed subnet's address on the server's link: %v %v, want a NAK", rep.Resp, err)
	}
}

// Through the socket layer: the server fills Inbound.Src from the frame, so
// a client that sets giaddr is dropped and counted by reason.
func TestServerDropsClientGiaddr(t *testing.T) {
	r := newRig(t)
	srvMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	conn := newMemConn(net.Interface{Index: lanIn.IfIndex, Name: lanIn.Iface, HardwareAddr: srvMAC, MTU: 1500})
	m, _ := NewMetrics(nil)
	s, err := NewServer(ServerOptions{
		Handler: r.e, Metrics: m, Conns: []PacketConn{conn},
		InterfaceAddrs: func() (map[int][]netip.Prefix, error) {
			return map[int][]netip.Prefix{lanIn.IfIndex: lanIn.IfAddrs}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	drops := m.Drops.WithLabelValues(string(ErrClientGiaddr))
	conn.request(macA, broadcastMAC, netip.MustParseAddrPort("0.0.0.0:68"), netip.MustParseAddrPort("255.255.255.255:67"),
		msg(t, dhcpv4.MessageTypeDiscover, macA, dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1})))
	deadline := time.Now().Add(5 * time.Second)
	for counterValue(t, drops) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("a client's DISCOVER with giaddr set was not counted as a giaddr-from-client drop")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case s := <-conn.out:
		t.Fatalf("answered a client that set giaddr: %+v", s)
	default:
	}
}

// TestTrustedRelays: with dhcp.trusted_relays set, a relayed request is
// served only from a listed source; direct clients are not affected.
func TestTrustedRelays(t *testing.T) {
	r := newRig(t, func(c *scope.Config) {
		c.TrustedRelays = []netip.Prefix{netip.MustParsePrefix("192.0.2.254/32"), netip.MustParsePrefix("203.0.113.0/24")}
	})
	relayed := func(src string) error {
		in := relayIn
		in.Src = netip.MustParseAddrPort(src)
		_, err := r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macA, dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1})), in)
		return err
	}
	if err := relayed("192.0.2.254:67"); err != nil {
		t.Errorf("listed relay: %v", err)
	}
	if err := relayed("203.0.113.9:67"); err != nil {
		t.Errorf("relay in a listed network: %v", err)
	}
	if err := relayed("192.0.2.77:67"); !errors.Is(err, ErrUntrustedRelay) {
		t.Errorf("unlisted relay: %v, want %v", err, ErrUntrustedRelay)
	}
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macB)); err != nil {
		t.Errorf("direct client with trusted_relays set: %v", err)
	}
}
