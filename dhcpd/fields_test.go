package dhcpd

import (
	"errors"
	"net"
	"testing"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// A client identifier the lease database cannot store is refused when the
// request is read, counted, and never offered: it could never be
// committed, and its commit failed its whole group commit first. The
// longest one that fits goes through to the ACK.
func TestStoredFieldLimits(t *testing.T) {
	for _, n := range []int{maxClientID, maxClientID + 1, 300} {
		l := lease.Lease{Addr: ip("192.0.2.100"), HWAddr: make(net.HardwareAddr, maxHWAddr), ClientID: make([]byte, n), State: lease.StateActive}
		if err := l.Validate(); (err == nil) != (n <= maxClientID) {
			t.Fatalf("lease.Validate with a %d-byte client id: %v; maxClientID no longer matches dhcpd/lease", n, err)
		}
	}
	r := newRig(t)
	long := msg(t, dhcpv4.MessageTypeDiscover, macA)
	long.Options[uint8(dhcpv4.OptionClientIdentifier)] = make([]byte, 300) // what several option 61 instances decode to (RFC 3396)
	if rep, err := r.handle(t, long); !errors.Is(err, ErrClientIDLong) || rep.Resp != nil {
		t.Fatalf("300-byte client id: %v %v, want %s", rep.Resp, err, ErrClientIDLong)
	}
	if len(r.e.offers) != 0 {
		t.Fatal("a client id too long to store was offered an address")
	}
	id := make([]byte, maxClientID)
	id[0] = 0xff
	ack := r.dora(t, macB, dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionClientIdentifier, id)))
	if l, ok := r.db.Get(addr4(ack.YourIPAddr)); !ok || len(l.ClientID) != maxClientID {
		t.Fatalf("255-byte client id: lease %+v, want it committed", l)
	}
}
