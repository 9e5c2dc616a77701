package dhcpd

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// perSubnet is a SubnetGate: the LAN subnet's relationship lets this box
// allocate from BACKUP only (a secondary serving alone), the relayed
// subnet's does not let it serve at all.
type perSubnet struct {
	SingleServer
	asked []netip.Prefix
}

func (g *perSubnet) For(p netip.Prefix) Gate {
	g.asked = append(g.asked, p)
	if p == netip.MustParsePrefix("192.0.2.0/24") {
		return backupGate{}
	}
	return denyGate{}
}

// The engine answers each request by its subnet's gate (a box in several
// failover relationships), not the engine-wide one.
func TestSubnetGateDecidesPerSubnet(t *testing.T) {
	r := newRig(t)
	g := &perSubnet{}
	r.e.gate = g
	// The LAN's gate allocates BACKUP only: an address without a record
	// (FREE, the partner's) is not offered, a BACKUP one is.
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macA)); !errors.Is(err, ErrNoAddress) {
		t.Fatalf("LAN DISCOVER with only FREE addresses: %v, want ErrNoAddress", err)
	}
	b := ip("192.0.2.105")
	r.db.leases[b] = lease.Lease{Addr: b, State: lease.StateBackup}
	rep, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macA))
	if err != nil || addr4(rep.Resp.YourIPAddr) != b {
		t.Fatalf("LAN DISCOVER: %v %v, want the BACKUP address %s", rep.Resp, err, b)
	}
	// The relayed subnet's gate does not serve.
	_, err = r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macB, dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1})), relayIn)
	if !errors.Is(err, ErrNotServing) {
		t.Fatalf("relayed DISCOVER: %v, want ErrNotServing", err)
	}
	if len(g.asked) == 0 || g.asked[len(g.asked)-1] != netip.MustParsePrefix("198.51.100.0/24") {
		t.Fatalf("gates asked for %v", g.asked)
	}
}
