package agent

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
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

// hdfSeg is a relationship of the defaults tests: primary, secondary,
// subnet, pool.
type hdfSeg struct{ name, pri, sec, subnet, pool string }

// A chain A–B–C: A is a partner of B only, C of B only.
var hdfChain = []hdfSeg{
	{"seg1", "a", "b", "192.0.2.0/26", "192.0.2.10-192.0.2.60"},
	{"seg2", "b", "c", "192.0.2.64/26", "192.0.2.70-192.0.2.120"},
}

// hdfBox is a box of the chain: its relationships and DHCP part started
// as RunWith starts them (startDefaults, hook, attach), without sockets.
type hdfBox struct {
	name string
	gd   *globalDefaults
	dh   *dhcpPart
	cfg  *config.Config
	reg  *prometheus.Registry
	stop func()
}

// hdfConfig is box's config: its own lease times and a local option
// (each box's file differs), defaults from from.
func hdfConfig(t *testing.T, box, dir string, port int, key, from, lease string) *config.Config {
	var vr, subs, rels strings.Builder
	for i, s := range hdfChain {
		role, partner := "", ""
		switch box {
		case s.pri:
			role, partner = "primary", s.sec
		case s.sec:
			role, partner = "secondary", s.pri
		default:
			continue
		}
		fmt.Fprintf(&vr, "    - {name: %s, interface: %s, vrid: %d, priority: 100, virtual_ips: [%s]}\n", s.name, s.name, i+1, strings.Replace(s.subnet, ".0/", ".1/", 1))
		fmt.Fprintf(&subs, "    - {subnet: %s, pools: [{range: %s}]}\n", s.subnet, s.pool)
		fmt.Fprintf(&rels, "    - {name: %s, role: %s, peer: '%s:%d', vrrp_instance: %s, subnets: [%s]}\n", s.name, role, ringAddr[partner], port, s.name, s.subnet)
	}
	return configtest.Load(t, fmt.Sprintf(`
node: {name: %s, state_dir: %s}
vrrp:
  instances:
%sdhcp:
  interfaces: [lan0]
  default_lease_time: %s
  trusted_relays: [%s]
  options: {domain_name: %s.example}
  subnets:
%sfailover:
  listen: '%s:%d'
  max_response_delay: 1s
  defaults_from: %s
  auth: {psk_file: %s}
  relationships:
%s`, box, dir, vr.String(), lease, ringAddr[box], box, subs.String(), ringAddr[box], port, from, key, rels.String()))
}

func startHdfBox(t *testing.T, cfg *config.Config) *hdfBox {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", cfg.Node.Name)
	}
	base, err := config.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	built, parts := loadParts(base, log)
	gd, built := startDefaults(built, log)
	reg := prometheus.NewRegistry()
	if err := gd.register(reg); err != nil {
		t.Fatal(err)
	}
	rs, err := newRelSet(built, log, reg, &vrrpPart{}, clock.Wall())
	if err != nil {
		t.Fatal(err)
	}
	rs.parts = parts
	gd.hook(rs)
	db, rep, err := lease.Open(leaseOptions(built, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetPools(built.DHCP.Pools()); err != nil {
		t.Fatal(err)
	}
	edb := rs.attach(db)
	eng, err := dhcpd.NewEngine(dhcpd.EngineOptions{Config: built.DHCP, DB: edb, Gate: rs.gate(), Clock: clock.Wall(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	dh := &dhcpPart{log: log, clock: clock.Wall(), db: db, eng: eng}
	secBytes, err := config.SectionBytes(built.File.DHCP)
	if err != nil {
		t.Fatal(err)
	}
	dh.setSection(built.File.DHCP, secBytes)
	if err := rs.start(dh, cfg.DHCP, rep); err != nil {
		t.Fatal(err)
	}
	gd.attach(dh)
	unknown := prometheus.NewCounter(prometheus.CounterOpts{Name: "hadhcpd_peer_unknown_source_total"})
	reg.MustRegister(unknown)
	ctx, cancel := context.WithCancel(context.Background())
	if err := rs.listen(ctx, unknown); err != nil {
		t.Fatal(err)
	}
	n := len(rs.rels) + len(rs.muxs)
	errc := make(chan error, n)
	for _, r := range rs.rels {
		go func() { errc <- r.p.Run(ctx) }()
	}
	for _, m := range rs.muxs {
		go func() { errc <- m.run(ctx) }()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			<-errc
		}
		db.Close()
	}()
	b := &hdfBox{name: cfg.Node.Name, gd: gd, dh: dh, cfg: cfg, reg: reg, stop: sync1(func() { cancel(); <-done })}
	t.Cleanup(b.stop)
	return b
}

// sync1 runs f once, whoever calls.
func sync1(f func()) func() {
	var done bool
	return func() {
		if !done {
			done = true
			f()
		}
	}
}

// served is the box's section in force: its default lease time, its
// domain name option, its trusted relays and subnets.
func (b *hdfBox) served() (time.Duration, string, string) {
	b.dh.mu.Lock()
	defer b.dh.mu.Unlock()
	var subs []string
	for _, s := range b.dh.section.Subnets {
		subs = append(subs, s.Subnet)
	}
	slices.Sort(subs) // a relationship's part synced again goes last
	return b.dh.section.DefaultLeaseTime, fmt.Sprint(b.dh.section.Options["domain_name"]),
		strings.Join(b.dh.section.TrustedRelays, ",") + " " + strings.Join(subs, ",")
}

// TestDefaultsFlowDownTheChain: A–B–C, the source A a partner of B only.
// Before any set, and on the source, each box serves its own file's
// global keys; A's set reaches C through B (B forwards what it adopts);
// a reload on A that changes the default lease time and an option
// reaches both with the next serial, each box keeping its own local keys
// (trusted relays, subnets). A restart of C while A is away serves the
// set it kept.
func TestDefaultsFlowDownTheChain(t *testing.T) {
	port := freePort(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "peer.key")
	k := make([]byte, 32)
	rand.Read(k)
	if err := os.WriteFile(key, k, 0o600); err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{"a": t.TempDir(), "b": t.TempDir(), "c": t.TempDir()}
	cfgs := map[string]*config.Config{}
	for box, lease := range map[string]string{"a": "1h", "b": "2h", "c": "3h"} {
		cfgs[box] = hdfConfig(t, box, dirs[box], port, key, "a", lease)
	}
	c := startHdfBox(t, cfgs["c"])
	if lt, dom, _ := c.served(); lt != 3*time.Hour || dom != "c.example" {
		t.Fatalf("C before any set: %v %s, want its own keys", lt, dom)
	}
	if st := c.gd.status(); st.Source != "a" || st.Serial != 0 {
		t.Errorf("C's status before any set: %+v", st)
	}
	a := startHdfBox(t, cfgs["a"])
	b := startHdfBox(t, cfgs["b"])
	_, _, bLocal := b.served()
	_, _, cLocal := c.served()
	for _, x := range []*hdfBox{a, b, c} {
		eventually(t, x.name+" serving A's first set", func() bool {
			lt, dom, _ := x.served()
			return lt == time.Hour && dom == "a.example" && x.gd.status().Serial == 1
		})
	}
	if st := c.gd.status(); st.Via != "seg2" || st.Hash != a.gd.status().Hash || st.Error != "" {
		t.Errorf("C's status: %+v, want A's hash via seg2 (from B)", st)
	}

	// A's reload: a new default lease time and domain name.
	sec := *a.cfg.DHCP
	sec.DefaultLeaseTime = 40 * time.Minute
	sec.Options = map[string]any{"domain_name": "ring.example"}
	t0 := time.Now()
	if _, err := a.dh.Apply(a.cfg, &sec, "reload"); err != nil {
		t.Fatal(err)
	}
	if st := a.gd.status(); st.Serial != 2 {
		t.Fatalf("A's serial after a reload changing its globals: %+v", st)
	}
	for _, x := range []*hdfBox{b, c} {
		eventually(t, x.name+" serving A's second set", func() bool {
			lt, dom, _ := x.served()
			return lt == 40*time.Minute && dom == "ring.example" && x.gd.status().Serial == 2
		})
	}
	t.Logf("A's reload reached B and C in %v", time.Since(t0).Round(time.Millisecond))
	for _, x := range []*hdfBox{a, b, c} {
		if v := x.gauge(t, "hadhcpd_defaults_serial"); v != 2 {
			t.Errorf("%s: hadhcpd_defaults_serial %v, want 2", x.name, v)
		}
	}
	if _, _, l := b.served(); l != bLocal {
		t.Errorf("B's local keys changed: %q -> %q", bLocal, l)
	}
	if _, _, l := c.served(); l != cLocal {
		t.Errorf("C's local keys changed: %q -> %q", cLocal, l)
	}
	// A reload of A that leaves its globals alone keeps the serial.
	if _, err := a.dh.Apply(a.cfg, &sec, "reload"); err != nil {
		t.Fatal(err)
	}
	if st := a.gd.status(); st.Serial != 2 {
		t.Errorf("A's serial after a reload without change: %d", st.Serial)
	}
	// B's own reload keeps A's set (its file's keys do not come back).
	if _, err := b.dh.Apply(b.cfg, b.cfg.DHCP, "reload"); err != nil {
		t.Fatal(err)
	}
	if lt, dom, _ := b.served(); lt != 40*time.Minute || dom != "ring.example" {
		t.Errorf("B's reload put its own keys back: %v %s", lt, dom)
	}

	// A away, C restarted: C serves the set it kept.
	a.stop()
	c.stop()
	c2 := startHdfBox(t, cfgs["c"])
	if lt, dom, _ := c2.served(); lt != 40*time.Minute || dom != "ring.example" || c2.gd.status().Serial != 2 {
		t.Errorf("C restarted while A is away: %v %s %+v, want A's kept set", lt, dom, c2.gd.status())
	}

	// A comes back with its state_dir's defaults lost (its file's 1h,
	// counted from serial 1 again): B's serial 2 makes it jump past, and
	// its set reaches B and C.
	if err := os.Remove(filepath.Join(dirs["a"], config.DefaultsFile)); err != nil {
		t.Fatal(err)
	}
	a2 := startHdfBox(t, cfgs["a"])
	for _, x := range []*hdfBox{a2, b, c2} {
		eventually(t, x.name+" serving A's set after A lost its serial", func() bool {
			lt, dom, _ := x.served()
			return lt == time.Hour && dom == "a.example" && x.gd.status().Serial == 3
		})
	}
}

// A set that does not build with a box's config (its pool allows a class
// the source does not define) is refused there and named in the status;
// the keys in force stay, and the set still goes on down the chain.
func TestDefaultsRefusedStillForwarded(t *testing.T) {
	port := freePort(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "peer.key")
	k := make([]byte, 32)
	rand.Read(k)
	if err := os.WriteFile(key, k, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgs := map[string]*config.Config{}
	for box, lease := range map[string]string{"a": "1h", "b": "2h", "c": "3h"} {
		cfgs[box] = hdfConfig(t, box, t.TempDir(), port, key, "a", lease)
	}
	// B's seg2 pool allows class "voip", which only B's file defines.
	cfgs["b"].DHCP.ClientClasses = []config.ClientClassConfig{{Name: "voip", Test: "option[60].text == 'voip'"}}
	cfgs["b"].DHCP.Subnets[1].Pools[0].Allow = []string{"voip"}
	if _, err := config.Build(cfgs["b"]); err != nil {
		t.Fatal(err)
	}
	a := startHdfBox(t, cfgs["a"])
	b := startHdfBox(t, cfgs["b"])
	c := startHdfBox(t, cfgs["c"])
	eventually(t, "C serving A's set through B", func() bool { return c.gd.status().Serial == 1 })
	eventually(t, "B naming the refusal", func() bool { return strings.Contains(b.gd.status().Error, "voip") })
	if lt, _, _ := b.served(); lt != 2*time.Hour || b.gd.status().Serial != 0 {
		t.Errorf("B after refusing A's set: %v, %+v; want its own keys", lt, b.gd.status())
	}
	if v := b.gauge(t, "hadhcpd_defaults_refused"); v != 1 {
		t.Errorf("B: hadhcpd_defaults_refused %v, want 1", v)
	}
	// B's reload drops the pool's class: A's set, refused until then,
	// serves now, without A sending it again.
	sec := *b.cfg.DHCP
	sec.Subnets = append([]config.SubnetConfig(nil), sec.Subnets...)
	sec.Subnets[1].Pools = []config.PoolConfig{{Range: sec.Subnets[1].Pools[0].Range}}
	if _, err := b.dh.Apply(b.cfg, &sec, "reload"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B serving A's set after its reload", func() bool {
		lt, _, _ := b.served()
		st := b.gd.status()
		return lt == time.Hour && st.Serial == 1 && st.Error == "" && st.Via == "seg1"
	})
	_ = a
}

// gauge is the value of the box's gauge name.
func (b *hdfBox) gauge(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := b.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}
