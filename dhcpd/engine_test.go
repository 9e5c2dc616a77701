package dhcpd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock/clocktest"
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
		if hint.IsValid() && p.First.Compare(hint) <= 0 && hint.Compare(p.Last) <= 0 && f.freeLocked(hint, from) && !slices.Contains(p.Reserved, hint) {
			f.held[hint] = true
			return hint, nil
		}
		// Never-used addresses first, as lease.DB does, so that a
		// client's last address stays untouched as long as possible.
		for _, recorded := range []bool{false, true} {
			for a := p.First; a.Compare(p.Last) <= 0; a = a.Next() {
				if _, ok := f.leases[a]; ok == recorded && f.freeLocked(a, from) && !slices.Contains(p.Reserved, a) {
					f.held[a] = true
					return a, nil
				}
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

func (f *fakeDB) Stats() []lease.PoolStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []lease.PoolStats
	for _, p := range f.pools {
		s := lease.PoolStats{Name: p.Name}
		for a := p.First; a.Compare(p.Last) <= 0; a = a.Next() {
			s.Total++
			l, ok := f.leases[a]
			switch {
			case f.held[a]:
				s.Held++
			case !ok, l.State == lease.StateFree:
				s.Free++
			case l.State == lease.StateActive:
				s.Active++
			case l.State == lease.StateExpired:
				s.Expired++
			case l.State == lease.StateReleased:
				s.Released++
			case l.State == lease.StateAbandoned:
				s.Abandoned++
			case l.State == lease.StateReset:
				s.Reset++
			case l.State == lease.StateBackup:
				s.Backup++
			}
		}
		out = append(out, s)
	}
	return out
}

var (
	t0      = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srvAddr = netip.MustParseAddr("192.0.2.1")
	lanIn   = Inbound{IfIndex: 2, Iface: "eth0", IfAddrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}, Src: netip.MustParseAddrPort("0.0.0.0:68")}
	// relayIn is a request relayed by a router on the served link.
	relayIn  = Inbound{IfIndex: 2, Iface: "eth0", IfAddrs: lanIn.IfAddrs, Src: netip.MustParseAddrPort("192.0.2.254:67"), Unicast: true}
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
	clk *clocktest.Fake
	cfg *scope.Config
}

func newRig(t testing.TB, mod ...func(*scope.Config)) *rig {
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
	clk := clocktest.NewFake(t0)
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

func TestRelayedSubnetSelection(t *testing.T) {
	r := newRig(t)
	rai := dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), []byte("port7")))
	rep, err := r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macA, dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1}), dhcpv4.WithOption(rai)), relayIn)
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
	rep, _ = r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macB, dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1}), dhcpv4.WithOption(ls)), relayIn)
	if got := addr4(rep.Resp.YourIPAddr); !netip.MustParsePrefix("192.0.2.0/24").Contains(got) {
		t.Fatalf("link selection 192.0.2.0: got %s", got)
	}
	// A relay for no served subnet.
	_, err = r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macB, dhcpv4.WithGatewayIP(net.IP{203, 0, 113, 1})), relayIn)
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
		{"relayed inform: to ciaddr", msg(t, dhcpv4.MessageTypeInform, macA, dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1}), dhcpv4.WithClientIP(yi)), ack(nil), DestUnicast, "192.0.2.100", 68},
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
	// All 40 may ask at once: no share of the pool kept back.
	r.e.lim = newLimiter(Limits{PoolShare: -1}, r.clk.Now())
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

// grantGate answers every lease time with a fixed Grant: the MCLT cap and
// the expiries a failover gate gives the engine to record.
type grantGate struct {
	SingleServer
	g Grant
}

func (g grantGate) LeaseTime(lease.Lease, time.Duration, time.Time) Grant { return g.g }

// TestGrantOnCommittedLease: the engine caps the lease at the gate's time
// and records the gate's potential and acknowledged expiries on the lease
// it commits, so the partner receives them with the record.
func TestGrantOnCommittedLease(t *testing.T) {
	r := newRig(t)
	pot, acked := t0.Add(50*time.Hour), t0.Add(20*time.Hour)
	r.e.gate = grantGate{g: Grant{Time: time.Hour, Potential: pot, Acked: acked}}
	ack := r.dora(t, macA)
	if got := leaseSecs(ack, dhcpv4.OptionIPAddressLeaseTime); got != 3600 {
		t.Fatalf("lease time %d s, want the gate's 3600", got)
	}
	l, ok := r.db.Get(addr4(ack.YourIPAddr))
	if !ok || !l.PotentialExpiry.Equal(pot) || !l.AckedExpiry.Equal(acked) {
		t.Fatalf("committed lease %+v, want potential %v and acked %v from the gate", l, pot, acked)
	}
}

// A client re-binding its expired lease (INIT-REBOOT, RFC 2131 §4.3.2):
// the grant is computed from what the partner knows of the binding, and
// the record keeps it, so the next renewal is capped the same way and the
// lease just given is not cut to MCLT.
func TestRebindExpiredKeepsPartnerExpiry(t *testing.T) {
	r := newRig(t)
	ack := r.dora(t, macA)
	a := addr4(ack.YourIPAddr)
	l, _ := r.db.Get(a)
	partner, acked := t0.Add(5*time.Hour), t0.Add(3*time.Hour)
	l.State, l.Expiry, l.PartnerExpiry, l.AckedExpiry = lease.StateExpired, t0, partner, acked
	if _, err := r.db.Commit(l); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(time.Minute)
	rep, err := r.handle(t, msg(t, dhcpv4.MessageTypeRequest, macA, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ack.YourIPAddr))))
	if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("INIT-REBOOT of the expired lease: %v %v", rep.Resp, err)
	}
	got, _ := r.db.Get(a)
	if got.State != lease.StateActive || !got.PartnerExpiry.Equal(partner) || !got.AckedExpiry.Equal(acked) {
		t.Errorf("re-bound lease %s, partner expiry %v, acked %v; want active, %v, %v", got.State, got.PartnerExpiry, got.AckedExpiry, partner, acked)
	}
}

// TestRenewNeverShortensRecord: a renewal answered with a shorter lease
// than the client holds (the lease time was lowered by a reload) tells
// the client the new time, but the record keeps the later end: if the
// ACK is lost, the client goes on with the end it was given before, and
// the address must stay its own until then (invariant 2).
func TestRenewNeverShortensRecord(t *testing.T) {
	r := newRig(t)
	ack := r.dora(t, macA)
	a := addr4(ack.YourIPAddr)
	l, _ := r.db.Get(a)
	earlier := t0.Add(10 * time.Hour) // granted under a longer lease time
	l.Expiry = earlier
	if _, err := r.db.Commit(l); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(time.Minute)
	rep, err := r.handle(t, msg(t, dhcpv4.MessageTypeRequest, macA, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ack.YourIPAddr))))
	if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("renewal: %v %v", rep.Resp, err)
	}
	lt := rep.Resp.IPAddressLeaseTime(0)
	if lt <= 0 || !r.clk.Now().Add(lt).Before(earlier) {
		t.Fatalf("the ACK's lease time %v does not end before the earlier grant's %v: the test proves nothing", lt, earlier)
	}
	if got, _ := r.db.Get(a); got.Expiry.Before(earlier) {
		t.Errorf("the renewal's record ends %v, before the %v the client was given earlier", got.Expiry, earlier)
	}
}
