package dhcpd

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestLeaseEvents: every durable lease change reaches OnLease once, with
// its action, address, client and relay; requests that change nothing
// (a DISCOVER, a foreign RELEASE) emit nothing.
func TestLeaseEvents(t *testing.T) {
	r := newRig(t)
	var got []LeaseEvent
	r.e.onLease = func(ev LeaseEvent) { got = append(got, ev) }
	sid := dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice())))

	a := addr4(r.dora(t, macA).YourIPAddr)
	// The same client again, renewing (RFC 2131 §4.3.2 RENEWING).
	if rep, err := r.handle(t, msg(t, dhcpv4.MessageTypeRequest, macA, dhcpv4.WithClientIP(a.AsSlice()))); err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("renewal: %v", err)
	}
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeRelease, macB, dhcpv4.WithClientIP(a.AsSlice()), sid)); !errors.Is(err, ErrNoRecord) {
		t.Fatalf("foreign RELEASE: %v", err)
	}
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeRelease, macA, dhcpv4.WithClientIP(a.AsSlice()), sid)); err != nil {
		t.Fatal(err)
	}
	b := addr4(r.dora(t, macB).YourIPAddr)
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeDecline, macB, sid, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(b.AsSlice())))); err != nil {
		t.Fatal(err)
	}
	// Through a relay: the relay is on the event.
	gi := dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1})
	off, err := r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macA, gi), relayIn)
	if err != nil {
		t.Fatal(err)
	}
	c := addr4(off.Resp.YourIPAddr)
	if _, err := r.e.Handle(msg(t, dhcpv4.MessageTypeRequest, macA, gi, sid, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(c.AsSlice()))), relayIn); err != nil {
		t.Fatal(err)
	}
	// Time passes beyond the lease: the engine's expiry.
	r.clk.Advance(5 * time.Hour)
	r.e.Tick(r.clk.Now())

	type row struct {
		a     LeaseAction
		ip    netip.Addr
		hw    net.HardwareAddr
		relay netip.Addr
	}
	want := []row{
		{LeaseGranted, a, macA, netip.Addr{}},
		{LeaseRenewed, a, macA, netip.Addr{}},
		{LeaseReleased, a, macA, netip.Addr{}},
		{LeaseGranted, b, macB, netip.Addr{}},
		{LeaseDeclined, b, macB, netip.Addr{}},
		{LeaseGranted, c, macA, netip.MustParseAddr("198.51.100.1")},
		{LeaseExpired, c, macA, netip.Addr{}},
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Action != w.a || g.Lease.Addr != w.ip || g.Lease.HWAddr.String() != w.hw.String() || g.Relay != w.relay {
			t.Errorf("event %d: %v %v %v relay %v, want %v %v %v relay %v", i, g.Action, g.Lease.Addr, g.Lease.HWAddr, g.Relay, w.a, w.ip, w.hw, w.relay)
		}
	}
	if got[0].Lease.State != lease.StateActive || got[0].Lease.Expiry.IsZero() {
		t.Errorf("granted: the lease as committed, got %+v", got[0].Lease)
	}
	if s := LeaseExpired.String(); s != "expired" {
		t.Errorf("LeaseExpired = %q", s)
	}
}

// TestReleaseLease: the operator's release ends an ACTIVE binding as the
// client's RELEASE would, through the engine's database; anything else is
// ErrNoRecord and changes nothing.
func TestReleaseLease(t *testing.T) {
	r := newRig(t)
	a := addr4(r.dora(t, macA).YourIPAddr)
	if _, err := r.e.ReleaseLease(netip.MustParseAddr("192.0.2.99")); !errors.Is(err, ErrNoRecord) {
		t.Errorf("an address without a binding: %v, want ErrNoRecord", err)
	}
	l, err := r.e.ReleaseLease(a)
	if err != nil {
		t.Fatal(err)
	}
	if l.State != lease.StateReleased || l.HWAddr.String() != macA.String() || !l.Expiry.Equal(r.clk.Now()) {
		t.Errorf("released: %+v", l)
	}
	if got, _ := r.db.Get(a); got.State != lease.StateReleased {
		t.Errorf("database holds %v, want RELEASED", got.State)
	}
	if _, err := r.e.ReleaseLease(a); !errors.Is(err, ErrNoRecord) {
		t.Errorf("released twice: %v, want ErrNoRecord", err)
	}
	// The same client gets its address back (the record kept it).
	if b := addr4(r.dora(t, macA).YourIPAddr); b != a {
		t.Errorf("after the release the client got %v, want %v again", b, a)
	}
}
