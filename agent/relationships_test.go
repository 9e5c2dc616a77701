package agent

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/config/configtest"
	"github.com/hadhcpd/hadhcpd/dhcpd"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/prometheus/client_golang/prometheus"
)

// ringBox is one box of an in-process ring over loopback addresses:
// its relationships started as the agent starts them, over a real
// lease database, without VRRP or DHCP sockets.
type ringBox struct {
	name string
	rs   *relSet
	db   *lease.DB
	edb  dhcpd.LeaseDB // the engine's commit path
	dh   *dhcpPart
	reg  *prometheus.Registry
	cfg  *config.Config
	addr string
	port int
	stop context.CancelFunc
	done chan struct{}
}

// The ring: seg1 A(primary)–B, seg2 B(primary)–C, seg3 A(primary)–C, so
// C's one listener serves two relationships (partners B and A). Each
// relationship has its own key. Addresses 127.0.0.{1,2,3}.
var ringSegs = []struct {
	name, pri, sec, subnet, pool, vip string
}{
	{"seg1", "a", "b", "192.0.2.0/26", "192.0.2.10-192.0.2.60", "192.0.2.1/26"},
	{"seg2", "b", "c", "192.0.2.64/26", "192.0.2.70-192.0.2.120", "192.0.2.65/26"},
	{"seg3", "a", "c", "192.0.2.128/26", "192.0.2.140-192.0.2.190", "192.0.2.129/26"},
}

var ringAddr = map[string]string{"a": "127.0.0.1", "b": "127.0.0.2", "c": "127.0.0.3"}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func ringConfig(t *testing.T, box string, port int, keys map[string]string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	var vr, subs, rels strings.Builder
	vrid := 1
	for _, s := range ringSegs {
		role := ""
		switch box {
		case s.pri:
			role = "primary"
		case s.sec:
			role = "secondary"
		default:
			continue
		}
		partner := s.sec
		if role == "secondary" {
			partner = s.pri
		}
		fmt.Fprintf(&vr, "    - {name: %s, interface: %s, vrid: %d, priority: 100, virtual_ips: [%s]}\n", s.name, s.name, vrid, s.vip)
		vrid++
		fmt.Fprintf(&subs, "    - {subnet: %s, pools: [{range: %s}]}\n", s.subnet, s.pool)
		fmt.Fprintf(&rels, "    - {name: %s, role: %s, peer: '%s:%d', vrrp_instance: %s, subnets: [%s], auth: {psk_file: %s}}\n",
			s.name, role, ringAddr[partner], port, s.name, s.subnet, keys[s.name])
	}
	return configtest.Load(t, fmt.Sprintf(`
node: {name: %s, state_dir: %s}
vrrp:
  instances:
%sdhcp:
  interfaces: [lan0]
  subnets:
%s    - {subnet: 203.0.113.0/24, pools: [{range: 203.0.113.10-203.0.113.20}]}
failover:
  listen: '%s:%d'
  max_response_delay: 1s
  relationships:
%s`, box, dir, vr.String(), subs.String(), ringAddr[box], port, rels.String()))
}

func startRingBox(t *testing.T, box string, port int, keys map[string]string) *ringBox {
	t.Helper()
	return startRingBoxWith(t, box, port, ringConfig(t, box, port, keys), nil, nil)
}

// startRingBoxWith is startRingBox with cfg (ringConfig's, changed),
// logging to log (nil: discard, or stderr with -v), with before called
// on the relationships before they run (to observe their transitions).
func startRingBoxWith(t *testing.T, box string, port int, cfg *config.Config, log *slog.Logger, before func(*relSet)) *ringBox {
	t.Helper()
	b, err := config.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case log != nil:
	case testing.Verbose():
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", box)
	default:
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	rs, err := newRelSet(b, log, reg, &vrrpPart{}, clock.Wall())
	if err != nil {
		t.Fatal(err)
	}
	db, rep, err := lease.Open(leaseOptions(b, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetPools(b.DHCP.Pools()); err != nil {
		t.Fatal(err)
	}
	edb := rs.attach(db)
	// The DHCP part without sockets: the engine over the commit path,
	// so sections are applied as the agent applies them.
	eng, err := dhcpd.NewEngine(dhcpd.EngineOptions{Config: b.DHCP, DB: edb, Gate: rs.gate(), Clock: clock.Wall(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	dh := &dhcpPart{log: log, clock: clock.Wall(), db: db, eng: eng}
	secBytes, err := config.SectionBytes(cfg.DHCP)
	if err != nil {
		t.Fatal(err)
	}
	dh.setSection(cfg.DHCP, secBytes)
	if err := rs.start(dh, cfg.DHCP, rep); err != nil {
		t.Fatal(err)
	}
	unknown := prometheus.NewCounter(prometheus.CounterOpts{Name: "hadhcpd_peer_unknown_source_total"})
	reg.MustRegister(unknown)
	if err := rs.listen(context.Background(), unknown); err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(rs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rb := &ringBox{name: box, rs: rs, db: db, edb: edb, dh: dh, reg: reg, cfg: cfg, addr: ringAddr[box], port: port, stop: cancel, done: make(chan struct{})}
	n := len(rs.rels) + len(rs.muxs)
	errc := make(chan error, n)
	for _, r := range rs.rels {
		go func() { errc <- r.p.Run(ctx) }()
	}
	for _, m := range rs.muxs {
		go func() { errc <- m.run(ctx) }()
	}
	go func() {
		defer close(rb.done)
		for range n {
			if err := <-errc; err != nil && ctx.Err() == nil {
				t.Errorf("box %s: %v", box, err)
			}
		}
		db.Close()
	}()
	t.Cleanup(rb.kill)
	return rb
}

func (b *ringBox) kill() {
	b.stop()
	<-b.done
}

func (b *ringBox) rel(name string) *relationship {
	for _, r := range b.rs.rels {
		if r.spec.Name == name {
			return r
		}
	}
	return nil
}

// counter sums the box's counter name (over every label).
func (b *ringBox) counter(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := b.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

func (b *ringBox) linkUp(name string) bool { return b.rel(name).p.Status().LinkUp }

func ringLease(addr string, hw byte) lease.Lease {
	now := time.Now().Truncate(time.Second)
	return lease.Lease{Addr: netip.MustParseAddr(addr), HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, hw}, State: lease.StateActive,
		Start: now, Expiry: now.Add(time.Hour), CLTT: now, StateStart: now}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("not within 10s: %s", what)
}

// TestRingOfThreeRelationships: three boxes, three relationships over
// loopback. Every link comes up (C's one listener routes A's and B's
// connections to their relationships); a lease committed on A goes to
// the partner of its subnet's relationship only, and before the commit
// returns (invariant 2); a subnet in no relationship stays on A. When C
// goes away, A's and B's relationships with C lose their link, while
// A–B's stays up and keeps replicating.
func TestRingOfThreeRelationships(t *testing.T) {
	port := freePort(t)
	dir := t.TempDir()
	keys := map[string]string{}
	for _, s := range ringSegs {
		keys[s.name] = filepath.Join(dir, s.name+".key")
		key := make([]byte, 32)
		rand.Read(key)
		if err := os.WriteFile(keys[s.name], key, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a := startRingBox(t, "a", port, keys)
	b := startRingBox(t, "b", port, keys)
	c := startRingBox(t, "c", port, keys)
	eventually(t, "every link up", func() bool {
		return a.linkUp("seg1") && a.linkUp("seg3") && b.linkUp("seg1") && b.linkUp("seg2") && c.linkUp("seg2") && c.linkUp("seg3")
	})

	// Each connection reached its own relationship's link: none was
	// refused (a wrong link would refuse the other relationship's key).
	for _, box := range []*ringBox{a, b, c} {
		if n := box.counter(t, "hadhcpd_peer_refused_peers_total"); n != 0 {
			t.Errorf("box %s refused %v partner connections", box.name, n)
		}
	}
	// A connection from an address that is no partner's is closed at once
	// and counted.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9)}}
	conn, err := d.Dial("tcp", net.JoinHostPort(c.addr, strconv.Itoa(c.port)))
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a stranger's connection was not closed: %v", err)
	}
	conn.Close()
	eventually(t, "the stranger counted", func() bool { return c.counter(t, "hadhcpd_peer_unknown_source_total") == 1 })

	// One commit holding a lease of each of A's relationships and one of
	// its own subnet: each partner gets its relationship's lease before
	// Commit returns, and nothing else.
	l1, l3, alone := ringLease("192.0.2.20", 1), ringLease("192.0.2.150", 3), ringLease("203.0.113.10", 9)
	if _, err := a.edb.Commit(l1, l3, alone); err != nil {
		t.Fatal(err)
	}
	has := func(box *ringBox, l lease.Lease) bool {
		got, ok := box.db.Get(l.Addr)
		return ok && got.State == lease.StateActive && got.HWAddr.String() == l.HWAddr.String()
	}
	if !has(b, l1) || !has(c, l3) {
		t.Fatalf("after Commit returned: B has seg1's lease %v, C has seg3's %v; want both (invariant 2)", has(b, l1), has(c, l3))
	}
	if has(b, l3) || has(c, l1) || has(b, alone) || has(c, alone) {
		t.Fatal("a lease reached a box outside its relationship")
	}
	// B's seg2 lease reaches C, not A.
	l2 := ringLease("192.0.2.80", 2)
	if _, err := b.edb.Commit(l2); err != nil {
		t.Fatal(err)
	}
	if !has(c, l2) || has(a, l2) {
		t.Fatalf("seg2's lease: on C %v, on A %v", has(c, l2), has(a, l2))
	}
	// Each relationship's view counts its own stream only.
	if got, want := a.rel("seg1").view.LastSeq(), a.db.LastSeq(); got >= want {
		t.Errorf("seg1's LastSeq %d, the database's %d: seg3's record is later and not seg1's", got, want)
	}
	if b.rel("seg1").view.PartnerSeq() == 0 || b.rel("seg2").view.PartnerSeq() != 0 {
		t.Errorf("B's partner seqs: seg1 %d (want A's record), seg2 %d (C sent none)", b.rel("seg1").view.PartnerSeq(), b.rel("seg2").view.PartnerSeq())
	}
	st := a.rs.status()
	if len(st) != 2 || st[0].Name != "seg1" || st[0].PartnerName != "b" || st[1].PartnerName != "c" || st[0].ConfigMatch == nil || !*st[0].ConfigMatch {
		t.Errorf("A's status: %+v", st)
	}

	// Config sync: a reload on A that changes seg1's pool changes seg1's
	// hash only, and A (seg1's primary) sends seg1's part: B serves the
	// new pool with its own other subnets and keeps the part; C, not in
	// seg1, is untouched.
	sec := *a.cfg.DHCP
	sec.Subnets = append([]config.SubnetConfig(nil), sec.Subnets...)
	sec.Subnets[0].Pools = []config.PoolConfig{{Range: "192.0.2.10-192.0.2.50"}}
	cBefore := c.dh.ConfigHash()
	if _, err := a.dh.Apply(a.cfg, &sec, "reload"); err != nil {
		t.Fatal(err)
	}
	after := a.rs.status()
	if after[0].ConfigHash == st[0].ConfigHash || after[1].ConfigHash != st[1].ConfigHash {
		t.Errorf("hashes after a reload of seg1's pool: seg1 %.8s -> %.8s, seg3 %.8s -> %.8s", st[0].ConfigHash, after[0].ConfigHash, st[1].ConfigHash, after[1].ConfigHash)
	}
	bPool := func() string {
		b.dh.mu.Lock()
		defer b.dh.mu.Unlock()
		var out []string
		for _, sc := range b.dh.section.Subnets {
			out = append(out, sc.Subnet+"="+sc.Pools[0].Range)
		}
		return strings.Join(out, " ")
	}
	eventually(t, "B serving seg1's new pool", func() bool { return strings.Contains(bPool(), "192.0.2.0/26=192.0.2.10-192.0.2.50") })
	if !strings.Contains(bPool(), "192.0.2.64/26=192.0.2.70-192.0.2.120") {
		t.Errorf("B lost its own seg2 subnet: %s", bPool())
	}
	if b.rel("seg1").hash.Load() == nil || *b.rel("seg1").hash.Load() != after[0].ConfigHash {
		t.Errorf("B's seg1 hash %v, A's %s", *b.rel("seg1").hash.Load(), after[0].ConfigHash)
	}
	if _, err := os.Stat(filepath.Join(b.cfg.Node.StateDir, config.RelationshipSyncedFile("seg1"))); err != nil {
		t.Errorf("B did not keep seg1's part: %v", err)
	}
	if c.dh.ConfigHash() != cBefore {
		t.Error("C's section changed with seg1's")
	}
	// B's reload of its own file keeps seg1's synced subnets.
	if _, err := b.dh.Apply(b.cfg, b.cfg.DHCP, "reload"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(bPool(), "192.0.2.0/26=192.0.2.10-192.0.2.50") {
		t.Errorf("B's reload dropped seg1's synced pool: %s", bPool())
	}

	c.kill()
	eventually(t, "A's and B's links to C down", func() bool { return !a.linkUp("seg3") && !b.linkUp("seg2") })
	if !a.linkUp("seg1") || !b.linkUp("seg1") {
		t.Fatal("A–B's link went down with C")
	}
	l1b := ringLease("192.0.2.21", 4)
	if _, err := a.edb.Commit(l1b); err != nil {
		t.Fatal(err)
	}
	if !has(b, l1b) {
		t.Fatal("A–B stopped replicating when C went away")
	}

	// Maintenance is the box's: every relationship of B answers, each
	// named. seg2's partner is gone, so seg2 refuses (nobody could take
	// over in sync) while seg1 applies it. partner-down is one
	// relationship's: without a name, or with one B is not in, it is
	// refused with B's relationships listed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	op := relOperator{set: b.rs}
	res, err := op.Maintenance(ctx, true)
	if err != nil || res.Applied || !strings.Contains(res.State, "seg1=") || !strings.Contains(res.Message, "seg1: ") || !strings.HasPrefix(res.Refused, "seg2: ") {
		t.Errorf("maintenance start on B: %+v, %v", res, err)
	}
	for _, name := range []string{"", "seg3"} {
		_, err := op.PartnerDown(ctx, name)
		if err == nil || !strings.Contains(err.Error(), "seg1 (partner ") || !strings.Contains(err.Error(), "seg2 (partner ") {
			t.Errorf("partner-down %q on B: %v, want refused with the relationships listed", name, err)
		}
	}
	// seg1's partner A is heard: refused, and nothing changes.
	if res, err := op.PartnerDown(ctx, "seg1"); err == nil || res.Applied {
		t.Errorf("partner-down seg1 with A alive: %+v, %v", res, err)
	}
	// seg2's partner C is gone: seg2 goes PARTNER-DOWN, seg1 does not.
	res, err = op.PartnerDown(ctx, "seg2")
	if err != nil || !res.Applied || res.State != "PARTNER-DOWN" || res.Command != "partner-down" || !strings.HasPrefix(res.Message, "seg2: ") {
		t.Fatalf("partner-down seg2 with C gone: %+v, %v", res, err)
	}
	for _, st := range b.rs.status() {
		want := "PARTNER-DOWN"
		if st.Name == "seg1" {
			want = "NORMAL"
		}
		if st.State != want {
			t.Errorf("after partner-down seg2, %s is %s, want %s", st.Name, st.State, want)
		}
	}
}

// openRelDB opens the lease database in dir as a box in the
// relationships specs does (leaseOptions); closed at the test's end.
func openRelDB(t *testing.T, dir string, specs ...*config.FailoverSpec) *lease.DB {
	t.Helper()
	b := &config.Built{File: &config.Config{Node: config.NodeConfig{StateDir: dir}}, Relationships: specs}
	db, _, err := lease.Open(leaseOptions(b, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A relationship's sequence numbers after a restart are those of every
// record of its addresses written or applied before it, also one a later
// record replaced: our record the partner replaced with its own (LastSeq
// counted from the leases held came out below what the partner had
// acknowledged of us, and the box waited one MCLT in RECOVER-WAIT), and
// the partner's record we replaced with ours (PartnerSeq). Another
// relationship's records and the box's own subnets count for neither
// (the database's LastSeq and PartnerSeq are the box's, over every
// partner); a compaction (no replaced record left on disk) changes
// nothing.
func TestRelViewSeqsSurviveReplacedRecords(t *testing.T) {
	seg1 := &config.FailoverSpec{Name: "seg1", Subnets: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/26")}}
	seg2 := &config.FailoverSpec{Name: "seg2", Subnets: []netip.Prefix{netip.MustParsePrefix("192.0.2.64/26")}}
	dir := t.TempDir()
	db := openRelDB(t, dir, seg1, seg2)
	v := &relView{db: db, spec: seg1}
	commit := func(addr string, hw byte) {
		t.Helper()
		if _, err := db.Commit(ringLease(addr, hw)); err != nil {
			t.Fatal(err)
		}
	}
	theirs := func(addr string, hw byte, seq uint64) lease.Lease {
		l := ringLease(addr, hw)
		l.Expiry = l.Expiry.Add(time.Hour) // outlasts ours: replaces it
		l.Seq = seq
		return l
	}
	// seg1: our highest record replaced by the partner's.
	commit("192.0.2.10", 1) // seq 1
	commit("192.0.2.11", 2) // seq 2
	if err := v.Apply(theirs("192.0.2.11", 3, 40)); err != nil {
		t.Fatal(err)
	}
	// seg2: the partner's highest record replaced by ours.
	v2 := &relView{db: db, spec: seg2}
	if err := v2.Apply(theirs("192.0.2.70", 4, 50), theirs("192.0.2.71", 5, 51)); err != nil {
		t.Fatal(err)
	}
	commit("192.0.2.71", 6)   // seq 3
	commit("198.51.100.9", 7) // seq 4: in no relationship
	check := func(when string, db *lease.DB) {
		t.Helper()
		for _, c := range []struct {
			spec      *config.FailoverSpec
			last, got uint64
		}{{seg1, 2, 40}, {seg2, 3, 51}} {
			v := &relView{db: db, spec: c.spec}
			if last, got := v.LastSeq(), v.PartnerSeq(); last != c.last || got != c.got {
				t.Errorf("%s: %s's LastSeq %d PartnerSeq %d, want %d %d", when, c.spec.Name, last, got, c.last, c.got)
			}
		}
	}
	check("running", db)
	db.Close()
	db = openRelDB(t, dir, seg1, seg2)
	check("restarted", db)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openRelDB(t, dir, seg1, seg2)
	check("compacted, restarted", db)
}

// A partner may write the leases of its relationship only.
func TestRelViewRefusesOtherRelationshipsRecords(t *testing.T) {
	spec := &config.FailoverSpec{Name: "seg1", Subnets: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/26")}}
	db := openRelDB(t, t.TempDir(), spec)
	v := &relView{db: db, spec: spec}
	in, out := ringLease("192.0.2.20", 1), ringLease("192.0.2.150", 2)
	in.Seq, out.Seq = 7, 8
	if err := v.Apply(in, out); !errors.Is(err, lease.ErrInvalid) {
		t.Fatalf("Apply with a record outside the relationship: %v", err)
	}
	if _, ok := db.Get(in.Addr); ok {
		t.Fatal("a refused batch stored a record")
	}
	if err := v.Apply(in); err != nil {
		t.Fatal(err)
	}
	if v.PartnerSeq() != 7 {
		t.Errorf("PartnerSeq %d", v.PartnerSeq())
	}
	// Get and Range show the relationship's leases only.
	if err := db.Apply(out); err != nil {
		t.Fatal(err)
	}
	if _, ok := v.Get(out.Addr); ok {
		t.Error("Get shows another relationship's lease")
	}
	n := 0
	v.Range(func(l lease.Lease) bool { n++; return true })
	if n != 1 {
		t.Errorf("Range shows %d leases, want 1", n)
	}
}

// A record of ours that comes back from the partner (a resync after our
// disk was replaced) counts as ours, not as the partner's: PartnerSeq is
// what we acknowledge of the partner's stream, and one raised by our own
// numbers made the partner wait one MCLT in RECOVER-WAIT at its next
// start (its own last sequence number below what we said we had).
func TestRelViewOwnRecordsBackAreNotThePartners(t *testing.T) {
	spec := &config.FailoverSpec{Name: "seg1", Subnets: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/26")}}
	db := openRelDB(t, t.TempDir(), spec)
	v := &relView{db: db, spec: spec}
	theirs, ours := ringLease("192.0.2.20", 1), ringLease("192.0.2.21", 2)
	theirs.Seq = 7
	ours.Seq, ours.Peer = 50, true // the partner holds it as its partner's
	if err := v.Apply(theirs, ours); err != nil {
		t.Fatal(err)
	}
	if got := v.PartnerSeq(); got != 7 {
		t.Errorf("PartnerSeq %d, want 7 (the partner's own record)", got)
	}
	if got := v.LastSeq(); got != 50 {
		t.Errorf("LastSeq %d, want 50 (our record back)", got)
	}
}

// The engine's gate: a subnet's relationship decides; a subnet in none is
// served alone; a lease's time follows its address's relationship.
func TestRelGateDispatch(t *testing.T) {
	seg1 := &config.FailoverSpec{Name: "seg1", Subnets: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/26")}}
	seg3 := &config.FailoverSpec{Name: "seg3", Subnets: []netip.Prefix{netip.MustParsePrefix("192.0.2.128/26")}}
	set := &relSet{rels: []*relationship{{spec: seg1}, {spec: seg3}}}
	g1, g3 := &capGate{t: time.Minute}, &capGate{t: 2 * time.Minute}
	g := &relGate{set: set, gates: []dhcpd.Gate{g1, g3}}
	if g.For(netip.MustParsePrefix("192.0.2.128/26")) != g3 || g.For(netip.MustParsePrefix("192.0.2.0/26")) != g1 {
		t.Error("For picks the wrong relationship")
	}
	if _, alone := g.For(netip.MustParsePrefix("203.0.113.0/24")).(dhcpd.SingleServer); !alone {
		t.Error("a subnet in no relationship is not served alone")
	}
	if got := g.LeaseTime(lease.Lease{Addr: netip.MustParseAddr("192.0.2.150")}, time.Hour, time.Now()).Time; got != 2*time.Minute {
		t.Errorf("lease time %v: not seg3's gate", got)
	}
	if g.Serve(dhcpd.Client{}) {
		t.Error("the box-wide Serve must not serve")
	}
}

type capGate struct {
	dhcpd.SingleServer
	t time.Duration
}

func (c *capGate) LeaseTime(lease.Lease, time.Duration, time.Time) dhcpd.Grant {
	return dhcpd.Grant{Time: c.t}
}

// TestRingRestartAfterPartnerReplacedOurRecords: A's newest record of
// seg3 is replaced by C's (a client moved to C), then A restarts with
// its journal intact. A's seg3 last sequence number is still that
// record's, which C acknowledged, so the sequence numbers prove C holds
// everything of A's and seg3 is NORMAL again at once. Counted from the
// leases A holds, it fell below what C acknowledged: "our journal lost
// records", one MCLT (an hour here) in RECOVER-WAIT.
func TestRingRestartAfterPartnerReplacedOurRecords(t *testing.T) {
	port := freePort(t)
	keys := ringKeys(t)
	a := startRingBox(t, "a", port, keys)
	c := startRingBox(t, "c", port, keys)
	state := func(box *ringBox) string { return box.rel("seg3").p.Status().State }
	eventually(t, "seg3 NORMAL on A and C", func() bool { return state(a) == "NORMAL" && state(c) == "NORMAL" })
	if _, err := a.edb.Commit(ringLease("192.0.2.150", 1), ringLease("192.0.2.151", 2)); err != nil {
		t.Fatal(err)
	}
	moved := ringLease("192.0.2.151", 3)
	moved.Expiry = moved.Expiry.Add(time.Hour) // outlasts A's: A takes it
	if _, err := c.edb.Commit(moved); err != nil {
		t.Fatal(err)
	}
	if got, ok := a.db.Get(moved.Addr); !ok || !got.Peer {
		t.Fatalf("A's lease of %s after C's commit: %+v, want C's", moved.Addr, got)
	}
	ourLast := a.rel("seg3").view.LastSeq()
	a.kill()
	a = startRingBoxWith(t, "a", port, a.cfg, nil, nil)
	if got := a.rel("seg3").view.LastSeq(); got != ourLast {
		t.Errorf("A's seg3 LastSeq after the restart %d, before %d", got, ourLast)
	}
	eventually(t, "A's seg3 NORMAL again without RECOVER-WAIT", func() bool { return state(a) == "NORMAL" })
}
