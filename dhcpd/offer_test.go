package dhcpd

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestDiscoverOffersFreeAddressWithOptions(t *testing.T) {
	r := newRig(t)
	rep, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macA,
		dhcpv4.WithRequestedOptions(dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer, dhcpv4.OptionNTPServers)))
	if err != nil {
		t.Fatal(err)
	}
	o := rep.Resp
	if o.MessageType() != dhcpv4.MessageTypeOffer || !o.YourIPAddr.Equal(net.IP{192, 0, 2, 100}) {
		t.Fatalf("got %s yiaddr %s, want OFFER of 192.0.2.100", o.MessageType(), o.YourIPAddr)
	}
	if got := addr4(o.ServerIdentifier()); got != srvAddr {
		t.Errorf("server id %s, want %s", got, srvAddr)
	}
	if lt, t1, t2 := leaseSecs(o, dhcpv4.OptionIPAddressLeaseTime), leaseSecs(o, dhcpv4.OptionRenewTimeValue), leaseSecs(o, dhcpv4.OptionRebindingTimeValue); lt != 7200 || t1 != 3600 || t2 != 6300 {
		t.Errorf("lease/T1/T2 = %d/%d/%d, want 7200/3600/6300", lt, t1, t2)
	}
	if m := o.SubnetMask(); m.String() != "ffffff00" {
		t.Errorf("subnet mask %s", m)
	}
	if o.Options[42] == nil || o.Options[3] == nil {
		t.Errorf("requested NTP/routers missing: %v", o.Options)
	}
	if rep.Dest.Kind != DestL2 || string(rep.Dest.HW) != string(macA) {
		t.Errorf("dest %+v, want L2 unicast to chaddr", rep.Dest)
	}
	if !r.db.held[ip("192.0.2.100")] {
		t.Error("offered address is not held")
	}
	// Not requested and not in the always-sent set: not sent.
	rep, _ = r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macB, dhcpv4.WithRequestedOptions(dhcpv4.OptionRouter)))
	if rep.Resp.Options[42] != nil {
		t.Error("NTP servers sent though not requested")
	}
}

func TestDiscoverOrder(t *testing.T) {
	t.Run("reservation", func(t *testing.T) {
		r := newRig(t)
		rep, _ := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macRes, dhcpv4.WithRequestedOptions(dhcpv4.OptionHostName)))
		if got := addr4(rep.Resp.YourIPAddr); got != ip("192.0.2.50") || rep.Resp.HostName() != "printer" {
			t.Fatalf("reserved host offered %s %q, want 192.0.2.50 printer", got, rep.Resp.HostName())
		}
	})
	t.Run("last lease over requested", func(t *testing.T) {
		r := newRig(t)
		first := addr4(r.dora(t, macA).YourIPAddr)
		r.clk.Advance(5 * time.Hour) // expired
		r.e.Tick(r.clk.Now())
		rep, _ := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macA, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP{192, 0, 2, 105}))))
		if got := addr4(rep.Resp.YourIPAddr); got != first {
			t.Fatalf("offered %s, want the client's last lease %s", got, first)
		}
	})
	t.Run("requested when free", func(t *testing.T) {
		r := newRig(t)
		rep, _ := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macA, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP{192, 0, 2, 105}))))
		if got := addr4(rep.Resp.YourIPAddr); got != ip("192.0.2.105") {
			t.Fatalf("offered %s, want the requested 192.0.2.105", got)
		}
	})
	t.Run("requested but taken", func(t *testing.T) {
		r := newRig(t)
		taken := r.dora(t, macB).YourIPAddr
		rep, _ := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macA, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(taken))))
		if rep.Resp.YourIPAddr.Equal(taken) {
			t.Fatalf("offered %s, which is leased to another client", taken)
		}
	})
	t.Run("client id over chaddr", func(t *testing.T) {
		r := newRig(t)
		id := dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte("laptop")))
		first := r.dora(t, macA, id).YourIPAddr
		rep, _ := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macB, id))
		if !rep.Resp.YourIPAddr.Equal(first) {
			t.Fatalf("same client id, new MAC: offered %s, want %s", rep.Resp.YourIPAddr, first)
		}
		if string(rep.Resp.Options.Get(dhcpv4.OptionClientIdentifier)) != "laptop" {
			t.Error("client identifier not echoed (RFC 6842)")
		}
	})
	t.Run("pool exhausted", func(t *testing.T) {
		r := newRig(t)
		for i := 0; i < 11; i++ {
			r.dora(t, net.HardwareAddr{2, 1, 0, 0, 0, byte(i)})
		}
		_, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macA))
		if !errors.Is(err, ErrNoAddress) {
			t.Fatalf("got %v, want ErrNoAddress", err)
		}
	})
}

func TestOfferHoldLapses(t *testing.T) {
	r := newRig(t)
	off, _ := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macA))
	a := addr4(off.Resp.YourIPAddr)
	r.e.Tick(t0.Add(9 * time.Second))
	if !r.db.held[a] {
		t.Fatal("offer released before offer_hold")
	}
	r.e.Tick(t0.Add(10 * time.Second))
	if r.db.held[a] || r.e.offers[a] != nil {
		t.Fatal("offer still held after offer_hold")
	}
	// Another client may now get it.
	rep, _ := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macB))
	if addr4(rep.Resp.YourIPAddr) != a {
		t.Fatalf("offered %s, want the lapsed %s", rep.Resp.YourIPAddr, a)
	}
}
