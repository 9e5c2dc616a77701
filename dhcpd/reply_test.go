package dhcpd

import (
	"net"
	"testing"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestLeaseTimeClamp(t *testing.T) {
	for _, c := range []struct {
		ask  uint32
		want uint32
	}{{0, 7200}, {60, 300}, {3600, 3600}, {100 * 3600, 4 * 3600}} {
		r := newRig(t)
		var mods []dhcpv4.Modifier
		if c.ask > 0 {
			mods = append(mods, dhcpv4.WithLeaseTime(c.ask))
		}
		ack := r.dora(t, macA, mods...)
		if got := leaseSecs(ack, dhcpv4.OptionIPAddressLeaseTime); got != c.want {
			t.Errorf("asked %d s: granted %d, want %d", c.ask, got, c.want)
		}
	}
}

// A reply larger than the client accepts (option 57, else 576 octets as an
// IP datagram) loses configured options, the least wanted first, but never
// the ones a DHCP answer needs (RFC 2131 §2, RFC 2132 §9.10).
func TestReplyFitsMaxMessageSize(t *testing.T) {
	big := func(c *scope.Config) {
		o := c.Subnets[0].Options
		o[43] = make([]byte, 100)  // vendor-specific, not requested
		o[121] = make([]byte, 180) // classless routes, requested last
		o[119] = make([]byte, 150) // domain search, requested
	}
	prl := dhcpv4.WithOption(dhcpv4.OptParameterRequestList(
		dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
		dhcpv4.OptionDNSDomainSearchList, dhcpv4.OptionClasslessStaticRoute))
	wire := func(m *dhcpv4.DHCPv4) int { return 28 + len(m.ToBytes()) }
	cases := []struct {
		name     string
		mods     []dhcpv4.Modifier
		limit    int
		want     []uint8 // present
		wantGone []uint8
	}{
		{"no option 57: 576", []dhcpv4.Modifier{prl}, 576, []uint8{1, 3, 6, 51, 53, 54, 119}, []uint8{43, 121}},
		{"option 57 below the minimum counts as 576", []dhcpv4.Modifier{prl, dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(300))}, 576, []uint8{1, 3, 6, 119}, []uint8{43, 121}},
		{"option 57 = 1500: everything", []dhcpv4.Modifier{prl, dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(1500))}, 1500, []uint8{1, 3, 6, 119, 121}, nil},
		// Without a request list every configured option is sent; the
		// unrequested go first, highest code first.
		{"no request list", nil, 576, []uint8{1, 3, 6, 51, 53, 54}, []uint8{121, 119}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, big)
			ack := r.dora(t, net.HardwareAddr{2, 7, 0, 0, 0, byte(i)}, tc.mods...)
			if n := wire(ack); n > tc.limit {
				t.Errorf("ACK is a %d-octet datagram, want <= %d", n, tc.limit)
			}
			for _, c := range tc.want {
				if ack.Options.Get(dhcpv4.GenericOptionCode(c)) == nil {
					t.Errorf("option %d missing", c)
				}
			}
			for _, c := range tc.wantGone {
				if ack.Options.Get(dhcpv4.GenericOptionCode(c)) != nil {
					t.Errorf("option %d kept, want it dropped to fit", c)
				}
			}
		})
	}
}
