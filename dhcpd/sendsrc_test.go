package dhcpd

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// fixedHandler answers every request with the same relayed OFFER.
type fixedHandler struct{ sid netip.Addr }

func (h fixedHandler) Handle(req *dhcpv4.DHCPv4, _ Inbound) (Reply, error) {
	resp, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(h.sid.AsSlice()))))
	if err != nil {
		return Reply{}, err
	}
	return Reply{Resp: resp, Dest: Dest{Kind: DestRelay, IP: ip("198.51.100.1"), Port: 67}}, nil
}

// TestRoutedReplySource: a routed reply leaves from the server identifier
// when this host holds it, and without a source (the kernel's choice:
// the box's own address) when it does not, as on the load-balancing box
// that is not VRRP master, instead of a sendmsg the kernel refuses first.
func TestRoutedReplySource(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sid, src netip.Addr
	}{
		{"local server id", srvAddr, srvAddr},
		{"VIP held by the partner", ip("192.0.2.9"), netip.Addr{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := newMemConn(net.Interface{Index: lanIn.IfIndex, Name: lanIn.Iface, HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, MTU: 1500})
			s, err := NewServer(ServerOptions{
				Handler: fixedHandler{sid: tc.sid}, Workers: 1, Conns: []PacketConn{conn},
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
			req, _ := dhcpv4.NewDiscovery(macA)
			req.GatewayIPAddr = net.ParseIP("198.51.100.1").To4()
			conn.request(macB, broadcastMAC, netip.MustParseAddrPort("198.51.100.1:67"), netip.MustParseAddrPort("255.255.255.255:67"), req)
			got := conn.next(t)
			if got.payload == nil || got.src != tc.src {
				t.Errorf("routed reply from %v (payload %d bytes), want from %v", got.src, len(got.payload), tc.src)
			}
		})
	}
}
