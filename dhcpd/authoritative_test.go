package dhcpd

import (
	"errors"
	"net"
	"testing"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestNotAuthoritative: with authoritative: false, a NAK becomes silence
// only where the server has no record of the client (RFC 2131 §4.3.2);
// a client it knows (lease, offer, reservation) and a SELECTING REQUEST
// naming its server identifier still get the NAK. Authoritative, every
// one of them is a NAK.
func TestNotAuthoritative(t *testing.T) {
	stranger := net.HardwareAddr{2, 9, 9, 9, 9, 9}
	reqIP := func(s string) dhcpv4.Modifier {
		return dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP(s)))
	}
	sid := dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice())))
	cases := []struct {
		name    string
		setup   func(t *testing.T, r *rig)
		req     func(t *testing.T) *dhcpv4.DHCPv4
		silence bool // when not authoritative
	}{
		{name: "init-reboot, unknown client, wrong network", silence: true, req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, stranger, reqIP("203.0.113.7"))
		}},
		{name: "init-reboot, unknown client, another client's address", silence: true, req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, stranger, reqIP("192.0.2.100"))
		}},
		{name: "rebinding, unknown client, another client's address", silence: true, req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, stranger, dhcpv4.WithClientIP(net.IP{192, 0, 2, 100}), dhcpv4.WithBroadcast(true))
		}},
		{name: "init-reboot, client with a lease, wrong network", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, macA, reqIP("203.0.113.7"))
		}},
		{name: "init-reboot, client with a lease, another client's address", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, macA, reqIP("192.0.2.100"))
		}},
		{name: "init-reboot, client with an offer only, wrong network", setup: func(t *testing.T, r *rig) {
			if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, stranger)); err != nil {
				t.Fatal(err)
			}
		}, req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, stranger, reqIP("203.0.113.7"))
		}},
		{name: "init-reboot, reserved client, wrong network", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, macRes, reqIP("203.0.113.7"))
		}},
		{name: "selecting our server id, address taken", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, stranger, sid, reqIP("192.0.2.100"))
		}},
	}
	for _, auth := range []bool{true, false} {
		for _, c := range cases {
			name := c.name
			if !auth {
				name = "not authoritative/" + name
			}
			t.Run(name, func(t *testing.T) {
				r := newRig(t, func(cfg *scope.Config) { cfg.Authoritative = auth })
				r.dora(t, macB) // .100
				r.dora(t, macA) // .101
				if c.setup != nil {
					c.setup(t, r)
				}
				rep, err := r.handle(t, c.req(t))
				if !auth && c.silence {
					if !errors.Is(err, ErrNotAuthoritative) || rep.Resp != nil {
						t.Fatalf("got %v %v, want silence (%s)", rep.Resp, err, ErrNotAuthoritative)
					}
					return
				}
				if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeNak {
					t.Fatalf("got %v %v, want a NAK", rep.Resp, err)
				}
			})
		}
	}
}
