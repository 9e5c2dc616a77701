package dhcpd

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/class"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzHandle feeds any DHCP payload, from a client or a relay, by
// broadcast or unicast, through the decoder and the engine (fake clock,
// in-memory database) and checks what must hold for every input: no
// panic; a reply is a BOOTREPLY for the request's transaction that encodes
// and decodes again; a client that did not come through a relay is given
// an address of its own link's subnet, or renews the ciaddr it unicast
// from; a reply to a giaddr went only to a relay; every lease committed
// can be stored by dhcpd/lease.
func FuzzHandle(f *testing.F) {
	hw := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0f}
	sid := dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice())))
	seed := func(src uint8, mods ...dhcpv4.Modifier) {
		m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(hw)}, mods...)...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m.ToBytes(), src)
	}
	disc := dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover)
	req := dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest)
	gi := dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1})
	seed(0, disc)
	seed(0, req, sid, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP{192, 0, 2, 100})))
	seed(0, req, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP{192, 0, 2, 100})))
	seed(3, req, dhcpv4.WithClientIP(net.IP{192, 0, 2, 100}))
	seed(1, disc, gi, dhcpv4.WithOption(dhcpv4.OptRelayAgentInfo(
		dhcpv4.OptGeneric(dhcpv4.AgentCircuitIDSubOption, []byte("port-1")),
		dhcpv4.OptGeneric(dhcpv4.LinkSelectionSubOption, []byte{192, 0, 2, 0}))))
	seed(0, disc, dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionSubnetSelection, []byte{198, 51, 100, 0})))
	seed(1, req, gi, sid, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP{198, 51, 100, 10})))
	seed(2, dhcpv4.WithMessageType(dhcpv4.MessageTypeInform), dhcpv4.WithClientIP(net.IP{198, 51, 100, 7}))
	seed(2, dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease), sid, dhcpv4.WithClientIP(net.IP{192, 0, 2, 100}))
	seed(0, dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline), sid, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP{192, 0, 2, 100})))

	// One engine for the whole run: state (offers, leases, rate slots)
	// carries from input to input, as on a real link. The clock moves a
	// second per input so rates refill and offers lapse.
	r := newRig(f, func(c *scope.Config) {
		// The paths of classes, pool rules, boot fields and BOOTP too.
		c.BOOTP = true
		index := func(string) (int, bool) { return class.Known, true }
		pxe, err := class.Compile("substring(option[60].hex,0,9) == 'PXEClient' or relay4[1].hex == 'port7'", index)
		if err != nil {
			f.Fatal(err)
		}
		c.Classes = []*scope.Class{{Name: "pxe", Index: class.First, Test: pxe, Boot: scope.Boot{NextServer: netip.MustParseAddr("192.0.2.10"), File: "pxelinux.0"},
			Options: scope.Options{60: []byte("PXEClient")}}}
		c.Subnets[0].PoolRules = []scope.PoolRule{{Deny: setOf(class.First), HasDeny: true, Options: scope.Options{15: []byte("pool.example.com")}}}
		c.Subnets[1].PoolRules = []scope.PoolRule{{Allow: setOf(class.First, class.Known), HasAllow: true}}
	})
	r.e.spacing = -1
	lan := netip.MustParsePrefix("192.0.2.0/24")
	n := 0
	f.Fuzz(func(t *testing.T, b []byte, src uint8) {
		n++
		r.clk.Advance(time.Second)
		if n%16 == 0 {
			r.e.Tick(r.clk.Now())
		}
		m, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		in := lanIn
		switch src % 4 {
		case 1: // a relay on the link
			in = relayIn
		case 2: // unicast from a routed client
			in.Src, in.Unicast = netip.MustParseAddrPort("198.51.100.7:68"), true
		case 3: // unicast from a client of the link
			in.Src, in.Unicast = netip.MustParseAddrPort("192.0.2.100:68"), true
		}
		relayed, _ := fromRelay(m, in)
		rep, err := r.e.Handle(m, in)
		if err != nil || rep.Resp == nil {
			return
		}
		resp := rep.Resp
		if resp.OpCode != dhcpv4.OpcodeBootReply || resp.TransactionID != m.TransactionID {
			t.Fatalf("reply op %v xid %v to a request with xid %v", resp.OpCode, resp.TransactionID, m.TransactionID)
		}
		if _, err := dhcpv4.FromBytes(resp.ToBytes()); err != nil {
			t.Fatalf("reply does not decode: %v", err)
		}
		if rep.Dest.Kind == DestRelay && !relayed {
			t.Fatalf("reply sent to giaddr %s of a request that no relay sent", rep.Dest.IP)
		}
		yi := addr4(resp.YourIPAddr)
		if !yi.IsValid() || yi.IsUnspecified() {
			return
		}
		if !relayed && !lan.Contains(yi) && !(in.Unicast && yi == addr4(m.ClientIPAddr)) {
			t.Fatalf("%s from a direct client on %s got %s (ciaddr %s, unicast %v)", m.MessageType(), lan, yi, m.ClientIPAddr, in.Unicast)
		}
		if resp.MessageType() == dhcpv4.MessageTypeAck {
			l, ok := r.db.Get(yi)
			if !ok {
				t.Fatalf("ACK of %s without a lease", yi)
			}
			if err := l.Validate(); err != nil {
				t.Fatalf("committed a lease dhcpd/lease cannot store: %v", err)
			}
		}
	})
}
