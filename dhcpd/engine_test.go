package dhcpd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// fakeDB is a tiny in-memory lease database with the contract of
// dhcpd/lease: holds, FREE/EXPIRED/RELEASED/RESET allocatable, ABANDONED not.
type fakeDB struct {
	mu      sync.Mutex
	leases  map[netip.Addr]lease.Lease
	held    map[netip.Addr]bool
	pools   []lease.Pool
	commits int
	fail    error
}

func newFakeDB(pools ...lease.Pool) *fakeDB {
	return &fakeDB{leases: map[netip.Addr]lease.Lease{}, held: map[netip.Addr]bool{}, pools: pools}
}

func (f *fakeDB) Get(a netip.Addr) (lease.Lease, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.leases[a]
	return l, ok
}

func (f *fakeDB) ByClient(key string) (lease.Lease, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var best lease.Lease
	found := false
	for _, l := range f.leases {
		if l.Key() != key {
			continue
		}
		if !found || l.State == lease.StateActive && best.State != lease.StateActive || l.Start.After(best.Start) {
			best, found = l, true
		}
	}
	return best, found
}

// freeLocked mirrors lease.DB's free sets: from=BACKUP takes only BACKUP
// records; from=FREE takes addresses without a record and reclaimable ones.
func (f *fakeDB) freeLocked(a netip.Addr, from lease.State) bool {
	if f.held[a] {
		return false
	}
	l, ok := f.leases[a]
	if from == lease.StateBackup {
		return ok && l.State == lease.StateBackup
	}
	if !ok {
		return true
	}
	switch l.State {
	case lease.StateFree, lease.StateExpired, lease.StateReleased, lease.StateReset:
		return true
	}
	return false
}

func (f *fakeDB) Allocate(pool string, hint netip.Addr, from lease.State) (netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.pools {
		if p.Name != pool {
			continue
		}
		if hint.IsValid() && p.First.Compare(hint) <= 0 && hint.Compare(p.Last) <= 0 && f.freeLocked(hint, from) {
			f.held[hint] = true
			return hint, nil
		}
		for a := p.First; a.Compare(p.Last) <= 0; a = a.Next() {
			if f.freeLocked(a, from) {
				f.held[a] = true
				return a, nil
			}
		}
		return netip.Addr{}, lease.ErrPoolExhausted
	}
	return netip.Addr{}, lease.ErrNoPool
}

func (f *fakeDB) Unhold(a netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.held, a)
}

func (f *fakeDB) Commit(ls ...lease.Lease) ([]lease.Lease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	for _, l := range ls {
		f.leases[l.Addr] = l
		delete(f.held, l.Addr)
		f.commits++
	}
	return ls, nil
}

func (f *fakeDB) Expire(now time.Time, max int) ([]lease.Lease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []lease.Lease
	for a, l := range f.leases {
		if l.State == lease.StateActive && !l.Expiry.After(now) {
			l.State, l.Expiry = lease.StateExpired, time.Time{}
			f.leases[a] = l
			out = append(out, l)
		}
	}
	return out, nil
}

func (f *fakeDB) Stats() []lease.PoolStats { return nil }

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

var (
	t0       = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srvAddr  = netip.MustParseAddr("192.0.2.1")
	lanIn    = Inbound{IfIndex: 2, Iface: "eth0", IfAddrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}}
	macA     = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xa}
	macB     = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xb}
	macRes   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x42}
	ip       = netip.MustParseAddr
	lanPool  = lease.Pool{Name: "192.0.2.100-192.0.2.110", First: ip("192.0.2.100"), Last: ip("192.0.2.110")}
	farPool  = lease.Pool{Name: "198.51.100.10-198.51.100.20", First: ip("198.51.100.10"), Last: ip("198.51.100.20")}
	optsLAN  = scope.Options{3: []byte{192, 0, 2, 1}, 6: []byte{192, 0, 2, 53}, 15: []byte("example.com"), 42: []byte{192, 0, 2, 123}}
	defTimes = scope.LeaseTimes{Default: 2 * time.Hour, Min: 5 * time.Minute, Max: 4 * time.Hour}
)

type rig struct {
	e   *Engine
	db  *fakeDB
	clk *fakeClock
	cfg *scope.Config
}

func newRig(t *testing.T, mod ...func(*scope.Config)) *rig {
	t.Helper()
	cfg := &scope.Config{
		Authoritative: true, OfferHold: 10 * time.Second, DeclineProbation: time.Hour,
		Subnets: []*scope.Subnet{
			{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Pools: []lease.Pool{lanPool}, Options: optsLAN.Merge(nil), Times: defTimes,
				Reservations: []scope.Reservation{{HWAddr: macRes, Addr: ip("192.0.2.50"), Hostname: "printer"}}},
			{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Pools: []lease.Pool{farPool}, Options: scope.Options{3: []byte{198, 51, 100, 1}}, Times: defTimes},
		},
	}
	for _, m := range mod {
		m(cfg)
	}
	db := newFakeDB(cfg.Pools()...)
	clk := &fakeClock{t0}
	e, err := NewEngine(EngineOptions{Config: cfg, DB: db, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{e: e, db: db, clk: clk, cfg: cfg}
}

func msg(t *testing.T, mt dhcpv4.MessageType, hw net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithMessageType(mt), dhcpv4.WithHwAddr(hw)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (r *rig) handle(t *testing.T, req *dhcpv4.DHCPv4) (Reply, error) {
	t.Helper()
	return r.e.Handle(req, lanIn)
}

// dora runs DISCOVER and REQUEST for hw and returns the ACK.
func (r *rig) dora(t *testing.T, hw net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	off, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, hw, mods...))
	if err != nil || off.Resp.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("DISCOVER: %v %v", off.Resp, err)
	}
	req := msg(t, dhcpv4.MessageTypeRequest, hw, append(mods,
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice()))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(off.Resp.YourIPAddr)))...)
	ack, err := r.handle(t, req)
	if err != nil || ack.Resp.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("REQUEST: %v %v", ack.Resp, err)
	}
	return ack.Resp
}

func leaseSecs(m *dhcpv4.DHCPv4, code dhcpv4.OptionCode) uint32 {
	b := m.Options.Get(code)
	if len(b) != 4 {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

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
		r.clk.t = r.clk.t.Add(5 * time.Hour) // expired
		r.e.Tick(r.clk.t)
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
	}{
		{name: "init-reboot own address", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, macA, reqIP("192.0.2.101"))
		}, want: dhcpv4.MessageTypeAck, dest: DestL2},
		{name: "init-reboot wrong network", req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, macA, reqIP("203.0.113.7"))
		}, want: dhcpv4.MessageTypeNak, dest: DestBroadcast},
		{name: "init-reboot wrong network, not authoritative", nonAuth: true, req: func(t *testing.T) *dhcpv4.DHCPv4 {
			return msg(t, dhcpv4.MessageTypeRequest, macA, reqIP("203.0.113.7"))
		}, wantErr: ErrNotAuthoritative},
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
		}, want: dhcpv4.MessageTypeNak, dest: DestRelay},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, func(cfg *scope.Config) { cfg.Authoritative = !c.nonAuth })
			r.dora(t, macB) // .100
			r.dora(t, macA) // .101
			rep, err := r.handle(t, c.req(t))
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

func TestRelayedSubnetSelection(t *testing.T) {
	r := newRig(t)
	rai := dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), []byte("port7")))
	rep, err := r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macA, dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1}), dhcpv4.WithOption(rai)), lanIn)
	if err != nil {
		t.Fatal(err)
	}
	if got := addr4(rep.Resp.YourIPAddr); !netip.MustParsePrefix("198.51.100.0/24").Contains(got) {
		t.Fatalf("relayed client got %s, want one of 198.51.100.0/24", got)
	}
	if rep.Dest.Kind != DestRelay || rep.Dest.IP != ip("198.51.100.1") || rep.Dest.Port != 67 {
		t.Fatalf("dest %+v, want the relay's port 67", rep.Dest)
	}
	if rep.Resp.Options.Get(dhcpv4.OptionRelayAgentInformation) == nil {
		t.Fatal("option 82 not echoed to the relay")
	}
	// Link selection (RFC 3527) overrides giaddr.
	ls := dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.LinkSelectionSubOption, []byte{192, 0, 2, 0}))
	rep, _ = r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macB, dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1}), dhcpv4.WithOption(ls)), lanIn)
	if got := addr4(rep.Resp.YourIPAddr); !netip.MustParsePrefix("192.0.2.0/24").Contains(got) {
		t.Fatalf("link selection 192.0.2.0: got %s", got)
	}
	// A relay for no served subnet.
	_, err = r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macB, dhcpv4.WithGatewayIP(net.IP{203, 0, 113, 1})), lanIn)
	if !errors.Is(err, ErrNoSubnet) {
		t.Fatalf("unknown relay: %v, want ErrNoSubnet", err)
	}
}

func TestRefusals(t *testing.T) {
	r := newRig(t)
	bootp := msg(t, dhcpv4.MessageTypeDiscover, macA)
	bootp.Options.Del(dhcpv4.OptionDHCPMessageType)
	if _, err := r.handle(t, bootp); !errors.Is(err, ErrBOOTP) {
		t.Errorf("BOOTP: %v", err)
	}
	reply := msg(t, dhcpv4.MessageTypeDiscover, macA)
	reply.OpCode = dhcpv4.OpcodeBootReply
	if _, err := r.handle(t, reply); !errors.Is(err, ErrNotRequest) {
		t.Errorf("BOOTREPLY: %v", err)
	}
	if _, err := r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macA), Inbound{Iface: "eth9"}); !errors.Is(err, ErrNoSubnet) {
		t.Errorf("interface without a served subnet: %v", err)
	}
}

type denyGate struct{ SingleServer }

func (denyGate) Serve(Client) bool { return false }

func TestGateAndServerID(t *testing.T) {
	r := newRig(t)
	r.e.gate = denyGate{}
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macA)); !errors.Is(err, ErrNotServing) {
		t.Fatalf("gate says no: %v", err)
	}
	r.e.gate = SingleServer{}
	vip := ip("192.0.2.254")
	r.e.sid = func(iface string) (netip.Addr, bool) { return vip, iface == "eth0" }
	rep, _ := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macA))
	if got := addr4(rep.Resp.ServerIdentifier()); got != vip {
		t.Fatalf("server id %s, want the VIP %s", got, vip)
	}
}

func TestDestination(t *testing.T) {
	ack := func(yi net.IP) *dhcpv4.DHCPv4 {
		m, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithYourIP(yi))
		return m
	}
	nak, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeNak))
	yi := net.IP{192, 0, 2, 100}
	for _, c := range []struct {
		name      string
		req, resp *dhcpv4.DHCPv4
		want      DestKind
		ip        string
		port      uint16
	}{
		{"relay", msg(t, dhcpv4.MessageTypeRequest, macA, dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1}), dhcpv4.WithClientIP(yi)), ack(yi), DestRelay, "198.51.100.1", 67},
		{"relay nak", msg(t, dhcpv4.MessageTypeRequest, macA, dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1})), nak, DestRelay, "198.51.100.1", 67},
		{"nak broadcast even with ciaddr", msg(t, dhcpv4.MessageTypeRequest, macA, dhcpv4.WithClientIP(yi)), nak, DestBroadcast, "255.255.255.255", 68},
		{"ciaddr", msg(t, dhcpv4.MessageTypeRequest, macA, dhcpv4.WithClientIP(yi), dhcpv4.WithBroadcast(true)), ack(yi), DestUnicast, "192.0.2.100", 68},
		{"broadcast bit", msg(t, dhcpv4.MessageTypeDiscover, macA, dhcpv4.WithBroadcast(true)), ack(yi), DestBroadcast, "255.255.255.255", 68},
		{"l2 unicast", msg(t, dhcpv4.MessageTypeDiscover, macA), ack(yi), DestL2, "192.0.2.100", 68},
		{"no ethernet chaddr", msg(t, dhcpv4.MessageTypeDiscover, net.HardwareAddr{1, 2, 3}), ack(yi), DestBroadcast, "255.255.255.255", 68},
	} {
		d := destination(c.req, c.resp)
		if d.Kind != c.want || d.IP != ip(c.ip) || d.Port != c.port {
			t.Errorf("%s: got %s %s:%d, want %s %s:%d", c.name, d.Kind, d.IP, d.Port, c.want, c.ip, c.port)
		}
	}
}

// A race of many clients over a small pool must never give one address to
// two clients (run with -race).
func TestConcurrentNoDoubleAllocation(t *testing.T) {
	r := newRig(t)
	var wg sync.WaitGroup
	got := make([]netip.Addr, 40)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hw := net.HardwareAddr{2, 3, 0, 0, 0, byte(i)}
			off, err := r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, hw), lanIn)
			if err != nil {
				return
			}
			ack, err := r.e.Handle(msg(t, dhcpv4.MessageTypeRequest, hw,
				dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice()))),
				dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(off.Resp.YourIPAddr))), lanIn)
			if err == nil && ack.Resp.MessageType() == dhcpv4.MessageTypeAck {
				got[i] = addr4(ack.Resp.YourIPAddr)
			}
		}()
	}
	wg.Wait()
	seen := map[netip.Addr]int{}
	n := 0
	for i, a := range got {
		if !a.IsValid() {
			continue
		}
		n++
		if j, dup := seen[a]; dup {
			t.Fatalf("%s ACKed to clients %d and %d", a, j, i)
		}
		seen[a] = i
	}
	if n != 11 {
		t.Fatalf("%d clients bound, want the pool's 11", n)
	}
}

// gatedDB holds the first Commit until released, so that the requests
// arriving meanwhile queue up for the engine's committer; it records the
// size of every Commit call and refuses any batch holding bad.
type gatedDB struct {
	*fakeDB
	entered, release chan struct{}
	bad              netip.Addr
	mu               sync.Mutex
	sizes            []int
}

func (g *gatedDB) Commit(ls ...lease.Lease) ([]lease.Lease, error) {
	g.mu.Lock()
	first := len(g.sizes) == 0
	g.sizes = append(g.sizes, len(ls))
	g.mu.Unlock()
	if first {
		close(g.entered)
		<-g.release
	}
	for _, l := range ls {
		if l.Addr == g.bad {
			return nil, errors.New("refused")
		}
	}
	return g.fakeDB.Commit(ls...)
}

// REQUESTs that arrive while a commit runs share the next db.Commit (one
// fsync), each ACK is built only after that commit, and a lease the
// database refuses fails only its own ACK, not the batch's others.
func TestCommitterBatchesAndIsolatesFailures(t *testing.T) {
	r := newRig(t)
	r.e.maxFlight = 1 // batching while a commit runs, not pipelining
	g := &gatedDB{fakeDB: r.db, entered: make(chan struct{}), release: make(chan struct{}), bad: ip("192.0.2.102")}
	r.e.db = g
	hws := make([]net.HardwareAddr, 5)
	reqs := make([]*dhcpv4.DHCPv4, len(hws))
	for i := range hws {
		hws[i] = net.HardwareAddr{2, 9, 0, 0, 0, byte(i)}
		off, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, hws[i]))
		if err != nil {
			t.Fatal(err)
		}
		reqs[i] = msg(t, dhcpv4.MessageTypeRequest, hws[i],
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice()))),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(off.Resp.YourIPAddr)))
	}
	type result struct {
		rep Reply
		err error
	}
	res := make([]chan result, len(reqs))
	for i, req := range reqs {
		res[i] = make(chan result, 1)
		r.e.HandleAsync(req, lanIn, func(rep Reply, err error) { res[i] <- result{rep, err} })
		if i == 0 {
			<-g.entered // the first commit is running: the others queue
		}
	}
	for i := 1; i < len(res); i++ {
		select {
		case <-res[i]:
			t.Fatalf("request %d answered before its lease was committed", i)
		default:
		}
	}
	close(g.release)
	for i := range res {
		got := <-res[i]
		yi := addr4(reqs[i].RequestedIPAddress())
		if yi == g.bad {
			if Reason(got.err) != string(ErrCommit) {
				t.Errorf("refused lease %s: %v, want %s", yi, got.err, ErrCommit)
			}
			continue
		}
		if got.err != nil || got.rep.Resp.MessageType() != dhcpv4.MessageTypeAck {
			t.Errorf("request %d (%s): %v %v, want ACK", i, yi, got.rep.Resp, got.err)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// [1] held, then [4] together, refused because of bad, then 1 by 1.
	if len(g.sizes) < 2 || g.sizes[0] != 1 || g.sizes[1] != 4 {
		t.Fatalf("Commit call sizes %v, want [1 4 ...]: the queued requests share one commit", g.sizes)
	}
	if r.db.commits != 4 {
		t.Fatalf("%d leases committed, want the 4 not refused", r.db.commits)
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

// stampDB records when each Commit call starts (monotonic time).
type stampDB struct {
	*fakeDB
	mu sync.Mutex
	at []time.Time
}

func (s *stampDB) Commit(ls ...lease.Lease) ([]lease.Lease, error) {
	s.mu.Lock()
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	return s.fakeDB.Commit(ls...)
}

// Group commits under load start at least the commit spacing apart (so
// each fsync carries more leases); only a lower bound is checked, which a
// slow machine cannot break.
func TestCommitSpacing(t *testing.T) {
	r := newRig(t)
	const spacing = 40 * time.Millisecond
	r.e.spacing = spacing
	s := &stampDB{fakeDB: r.db}
	r.e.db = s
	for i := range 3 {
		r.dora(t, net.HardwareAddr{2, 8, 0, 0, 0, byte(i)})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.at) != 3 {
		t.Fatalf("%d commits, want 3", len(s.at))
	}
	// The engine spaces the starts of its commit loops; the stamps are
	// taken a little later, with scheduling jitter (a few µs, more under
	// -race): hence the millisecond of slack. Unspaced commits would be
	// microseconds apart.
	for i := 1; i < len(s.at); i++ {
		if d := s.at[i].Sub(s.at[i-1]); d < spacing-time.Millisecond {
			t.Errorf("commit %d started %v after the previous one, want >= %v", i, d, spacing)
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

// bothPoolsGate is a server in PARTNER-DOWN past the MCLT: its own FREE
// addresses first, then the partner's BACKUP ones.
type bothPoolsGate struct{ SingleServer }

func (bothPoolsGate) AllocateFromAll() []lease.State {
	return []lease.State{lease.StateFree, lease.StateBackup}
}

// A MultiPoolGate's pools are tried in order: once FREE is used up, new
// clients get the partner's BACKUP addresses, and a client asking for a
// BACKUP address gets it.
func TestMultiPoolGate(t *testing.T) {
	r := newRig(t)
	r.e.gate = bothPoolsGate{}
	// The whole LAN pool is BACKUP but for its first address.
	r.db.mu.Lock()
	first := lanPool.First
	for a := first.Next(); a.Compare(lanPool.Last) <= 0; a = a.Next() {
		r.db.leases[a] = lease.Lease{Addr: a, State: lease.StateBackup}
	}
	r.db.mu.Unlock()
	if got := addr4(r.dora(t, net.HardwareAddr{2, 6, 0, 0, 0, 1}).YourIPAddr); got != first {
		t.Fatalf("first client got %s, want the one FREE address %s", got, first)
	}
	if got := addr4(r.dora(t, net.HardwareAddr{2, 6, 0, 0, 0, 2}).YourIPAddr); got != first.Next() {
		t.Fatalf("second client got %s, want the first BACKUP address %s", got, first.Next())
	}
	want := lanPool.Last
	ack := r.dora(t, net.HardwareAddr{2, 6, 0, 0, 0, 3}, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(want.AsSlice()))))
	if got := addr4(ack.YourIPAddr); got != want {
		t.Fatalf("client asking for BACKUP %s got %s", want, got)
	}
}

// recordGate records what the engine tells Gate.Serve.
type recordGate struct {
	SingleServer
	mu   sync.Mutex
	seen []Client
}

func (g *recordGate) Serve(c Client) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seen = append(g.seen, c)
	return true
}

// The gate learns which requests are renewals (RFC 2131 §4.3.2), which a
// load-balancing pair answers whatever the hash bucket.
func TestGateSeesRenewals(t *testing.T) {
	r := newRig(t)
	g := &recordGate{}
	r.e.gate = g
	hw := net.HardwareAddr{2, 5, 0, 0, 0, 1}
	ack := r.dora(t, hw)
	renew := msg(t, dhcpv4.MessageTypeRequest, hw, dhcpv4.WithClientIP(ack.YourIPAddr))
	if rep, err := r.handle(t, renew); err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("RENEWING: %v %v", rep.Resp, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	want := []bool{false, false, true} // DISCOVER, SELECTING REQUEST, RENEWING REQUEST
	if len(g.seen) != len(want) {
		t.Fatalf("gate asked %d times, want %d", len(g.seen), len(want))
	}
	for i, c := range g.seen {
		if c.Renewal != want[i] {
			t.Errorf("request %d: Renewal %v, want %v", i, c.Renewal, want[i])
		}
	}
}

// With more than one commit in flight (a pair, where a commit waits for
// the partner's ack), requests arriving while a commit is held are
// committed and ACKed without waiting for it; with one, they wait.
func TestCommitsInFlight(t *testing.T) {
	for _, flight := range []int{1, 2} {
		t.Run(fmt.Sprint(flight), func(t *testing.T) {
			r := newRig(t)
			r.e.maxFlight = flight
			r.e.spacing = -1
			g := &gatedDB{fakeDB: r.db, entered: make(chan struct{}), release: make(chan struct{})}
			r.e.db = g
			offerReq := func(hw net.HardwareAddr) *dhcpv4.DHCPv4 {
				off, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, hw))
				if err != nil {
					t.Fatal(err)
				}
				return msg(t, dhcpv4.MessageTypeRequest, hw,
					dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice()))),
					dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(off.Resp.YourIPAddr)))
			}
			first, second := offerReq(net.HardwareAddr{2, 3, 0, 0, 0, 1}), offerReq(net.HardwareAddr{2, 3, 0, 0, 0, 2})
			held := make(chan error, 1)
			r.e.HandleAsync(first, lanIn, func(_ Reply, err error) { held <- err })
			<-g.entered
			done := make(chan error, 1)
			r.e.HandleAsync(second, lanIn, func(_ Reply, err error) { done <- err })
			select {
			case err := <-done:
				if flight == 1 {
					t.Fatalf("second request answered (%v) while the first commit was held, with one commit in flight", err)
				}
			case <-time.After(200 * time.Millisecond):
				if flight > 1 {
					t.Fatal("second request waited for the held commit although two may be in flight")
				}
			}
			close(g.release)
			if err := <-held; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The gate gets the client identifier itself (option 61), nil without
// one, so it never takes the lease key apart.
func TestGateSeesClientID(t *testing.T) {
	r := newRig(t)
	g := &recordGate{}
	r.e.gate = g
	hw := net.HardwareAddr{2, 5, 0, 0, 0, 2}
	id := []byte{1, 2, 5, 0, 0, 0, 2}
	for _, req := range []*dhcpv4.DHCPv4{
		msg(t, dhcpv4.MessageTypeDiscover, hw, dhcpv4.WithOption(dhcpv4.OptClientIdentifier(id))),
		msg(t, dhcpv4.MessageTypeDiscover, hw),
		msg(t, dhcpv4.MessageTypeDiscover, hw, dhcpv4.WithOption(dhcpv4.OptClientIdentifier(nil))),
	} {
		if _, err := r.handle(t, req); err != nil {
			t.Fatal(err)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.seen) != 3 {
		t.Fatalf("gate asked %d times, want 3", len(g.seen))
	}
	if c := g.seen[0]; !bytes.Equal(c.ClientID, id) || c.Key != lease.ClientKey(id, hw) {
		t.Errorf("with option 61: ClientID %x key %q, want %x", c.ClientID, c.Key, id)
	}
	for i, c := range g.seen[1:] {
		if c.ClientID != nil || c.Key != lease.ClientKey(nil, hw) {
			t.Errorf("request %d without a usable option 61: ClientID %x key %q, want nil and the hardware key", i+2, c.ClientID, c.Key)
		}
	}
}
