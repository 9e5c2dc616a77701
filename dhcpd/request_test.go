package dhcpd

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestRequestSelectingCommitsBeforeAck(t *testing.T) {
	r := newRig(t)
	ack := r.dora(t, macA)
	l, ok := r.db.Get(addr4(ack.YourIPAddr))
	if !ok || l.State != lease.StateActive || l.Expiry != t0.Add(2*time.Hour) || string(l.HWAddr) != string(macA) {
		t.Fatalf("committed lease %+v, want ACTIVE for macA until t0+2h", l)
	}
	if r.db.commits != 1 {
		t.Fatalf("%d commits, want 1", r.db.commits)
	}
	// A failing commit means no ACK.
	r.db.fail = errors.New("disk full")
	off, _ := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macB))
	_, err := r.handle(t, msg(t, dhcpv4.MessageTypeRequest, macB,
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice()))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(off.Resp.YourIPAddr))))
	if Reason(err) != string(ErrCommit) {
		t.Fatalf("REQUEST with a failing commit: %v, want %s", err, ErrCommit)
	}
	if r.db.held[addr4(off.Resp.YourIPAddr)] {
		t.Error("address still held after a failed commit")
	}
}

func TestRequestForOtherServerDropsOffer(t *testing.T) {
	r := newRig(t)
	off, _ := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macA))
	a := addr4(off.Resp.YourIPAddr)
	_, err := r.handle(t, msg(t, dhcpv4.MessageTypeRequest, macA,
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP{192, 0, 2, 9})),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(off.Resp.YourIPAddr))))
	if !errors.Is(err, ErrOtherServer) {
		t.Fatalf("got %v, want ErrOtherServer", err)
	}
	if r.db.held[a] || r.e.offers[a] != nil {
		t.Fatal("offer kept after the client chose another server")
	}
}

func TestRequestStates(t *testing.T) {
	sid := dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice())))
	reqIP := func(s string) dhcpv4.Modifier {
		return dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP(s)))
	}
	cases := []struct {
		name    string
		nonAuth bool
		setup   func(t *testing.T, r *rig) // leases macB holds 192.0.2.100, macA 192.0.2.101
		req     func(t *testing.T) *dhcpv4.DHCPv4
		want    dhcpv4.MessageType // MessageTypeNone: no reply
		wantErr error
		dest    DestKind
		relayed bool // arrives from relayIn, not lanIn
	}{
		{name: "init-reboot own address", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, macA, reqIP("192.0.2.101"))
		}, want: dhcpv4.MessageTypeAck, dest: DestL2},
		{name: "init-reboot wrong network", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, macA, reqIP("203.0.113.7"))
		}, want: dhcpv4.MessageTypeNak, dest: DestBroadcast},
		{name: "init-reboot wrong network, not authoritative, unknown client", nonAuth: true, req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, net.HardwareAddr{2, 9, 9, 9, 9, 9}, reqIP("203.0.113.7"))
		}, wantErr: ErrNotAuthoritative},
		{name: "init-reboot wrong network, not authoritative, known client", nonAuth: true, req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, macA, reqIP("203.0.113.7"))
		}, want: dhcpv4.MessageTypeNak, dest: DestBroadcast},
		{name: "init-reboot address of another client", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, macA, reqIP("192.0.2.100"))
		}, want: dhcpv4.MessageTypeNak},
		{name: "init-reboot unknown client is silent", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, net.HardwareAddr{2, 9, 9, 9, 9, 9}, reqIP("192.0.2.107"))
		}, wantErr: ErrNoRecord},
		{name: "renewing unicast", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, macA, dhcpv4.WithClientIP(net.IP{192, 0, 2, 101}))
		}, want: dhcpv4.MessageTypeAck, dest: DestUnicast},
		{name: "rebinding another client's address", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, macA, dhcpv4.WithClientIP(net.IP{192, 0, 2, 100}), dhcpv4.WithBroadcast(true))
		}, want: dhcpv4.MessageTypeNak, dest: DestBroadcast},
		{name: "selecting an address taken meanwhile", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, net.HardwareAddr{2, 9, 9, 9, 9, 9}, sid, reqIP("192.0.2.100"))
		}, want: dhcpv4.MessageTypeNak},
		{name: "selecting a reserved address of another", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, macA, sid, reqIP("192.0.2.50"))
		}, want: dhcpv4.MessageTypeNak},
		{name: "selecting without requested address", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, macA, sid)
		}, wantErr: ErrMalformed},
		{name: "relayed init-reboot NAK goes to the relay with broadcast bit", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, macA, reqIP("192.0.2.101"), dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1}))
		}, want: dhcpv4.MessageTypeNak, dest: DestRelay, relayed: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, func(cfg *scope.Config) { cfg.Authoritative = !c.nonAuth })
			r.dora(t, macB) // .100
			r.dora(t, macA) // .101
			in := lanIn
			if c.relayed {
				in = relayIn
			}
			rep, err := r.e.Handle(c.req(t), in)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) || rep.Resp != nil {
					t.Fatalf("got %v %v, want %v and no reply", rep.Resp, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Resp.MessageType(); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
			if c.dest != 0 && rep.Dest.Kind != c.dest {
				t.Errorf("dest %s, want %s", rep.Dest.Kind, c.dest)
			}
			if c.want == dhcpv4.MessageTypeNak {
				if !rep.Resp.YourIPAddr.IsUnspecified() || rep.Resp.Options.Get(dhcpv4.OptionIPAddressLeaseTime) != nil {
					t.Error("NAK carries an address or lease time")
				}
				if c.dest == DestRelay && !rep.Resp.IsBroadcast() {
					t.Error("relayed NAK without the broadcast bit (RFC 2131 §4.3.2)")
				}
			}
		})
	}
}

func TestReleaseDeclineInform(t *testing.T) {
	r := newRig(t)
	a := r.dora(t, macA).YourIPAddr
	sid := dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice())))
	// Another client's RELEASE of this address changes nothing.
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeRelease, macB, dhcpv4.WithClientIP(a), sid)); !errors.Is(err, ErrNoRecord) {
		t.Fatalf("foreign RELEASE: %v, want ErrNoRecord", err)
	}
	rep, err := r.handle(t, msg(t, dhcpv4.MessageTypeRelease, macA, dhcpv4.WithClientIP(a), sid))
	if err != nil || rep.Resp != nil {
		t.Fatalf("RELEASE: %v %v", rep.Resp, err)
	}
	if l, _ := r.db.Get(addr4(a)); l.State != lease.StateReleased || string(l.HWAddr) != string(macA) {
		t.Fatalf("after RELEASE: %+v", l)
	}
	// DECLINE: abandoned for the probation period, then free again.
	b := r.dora(t, macB).YourIPAddr
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeDecline, macB, sid, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(b)))); err != nil {
		t.Fatal(err)
	}
	if l, _ := r.db.Get(addr4(b)); l.State != lease.StateAbandoned {
		t.Fatalf("after DECLINE: %s", l.State)
	}
	rep, _ = r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, net.HardwareAddr{2, 7, 7, 7, 7, 7}, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(b))))
	if rep.Resp.YourIPAddr.Equal(b) {
		t.Fatal("abandoned address offered during probation")
	}
	r.e.Tick(t0.Add(59 * time.Minute))
	if l, _ := r.db.Get(addr4(b)); l.State != lease.StateAbandoned {
		t.Fatal("abandoned address returned before probation ended")
	}
	r.e.Tick(t0.Add(time.Hour))
	if l, _ := r.db.Get(addr4(b)); l.State != lease.StateFree {
		t.Fatalf("after probation: %s, want FREE", l.State)
	}
	// INFORM: options, no lease.
	rep, err = r.handle(t, msg(t, dhcpv4.MessageTypeInform, macA, dhcpv4.WithClientIP(net.IP{192, 0, 2, 7})))
	if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("INFORM: %v %v", rep.Resp, err)
	}
	if rep.Resp.Options.Get(dhcpv4.OptionIPAddressLeaseTime) != nil || !rep.Resp.YourIPAddr.IsUnspecified() || rep.Dest.Kind != DestUnicast {
		t.Fatalf("INFORM reply has a lease or wrong dest: %s %+v", rep.Resp.Summary(), rep.Dest)
	}
}

// backupGate is a secondary serving alone: it allocates only BACKUP
// addresses, so FREE ones are the partner's to give.
type backupGate struct{ SingleServer }

func (backupGate) AllocateFrom() (lease.State, bool) { return lease.StateBackup, true }

// TestSelectingPartnersOfferIsSilent: both boxes of a pair carry the VIP as
// server id, so a SELECTING REQUEST naming it may answer the partner's
// offer. For an address this box may not allocate and no other client
// holds, it stays silent (a NAK would cancel the partner's ACK); for an
// address bound to another client it still NAKs.
func TestSelectingPartnersOfferIsSilent(t *testing.T) {
	r := newRig(t)
	r.e.gate = backupGate{}
	partners := lanPool.First // FREE: the partner's to allocate
	sel := func(hw net.HardwareAddr, a netip.Addr) (Reply, error) {
		return r.handle(t, msg(t, dhcpv4.MessageTypeRequest, hw,
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice()))),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(a.AsSlice())))))
	}
	rep, err := sel(macA, partners)
	if !errors.Is(err, ErrNotOffered) || rep.Resp != nil {
		t.Fatalf("REQUEST for the partner's offer: reply %v, err %v; want silence (ErrNotOffered)", rep.Resp, err)
	}

	// An address bound to another client: the NAK is true, send it.
	r.db.leases[partners] = lease.Lease{Addr: partners, HWAddr: macB, State: lease.StateActive, Start: t0, Expiry: t0.Add(time.Hour)}
	rep, err = sel(macA, partners)
	if err != nil || rep.Resp == nil || rep.Resp.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("REQUEST for another client's address: reply %v, err %v; want NAK", rep.Resp, err)
	}
}
