package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// A ring of three boxes (failover.relationships): A–B serve segment 1 (A
// primary), B–C segment 2 (B primary), C–A segment 3 (C primary); every
// box is VRRP master of one segment. The sync links share one switch,
// each box one listener for the relationship it is the secondary of.

// ringSeg is one segment: its relationship, boxes and addresses.
type ringSeg struct {
	name, pri, sec string
	iface          string // the boxes' interface on it
	net, vip, pool string
	addr           map[string]string // box -> its own address (CIDR)
}

var ringSegments = []ringSeg{
	{"seg1", "a", "b", "eth1", "192.0.2.0/26", "192.0.2.1", "192.0.2.10-192.0.2.60", map[string]string{"a": "192.0.2.2/26", "b": "192.0.2.3/26"}},
	{"seg2", "b", "c", "eth2", "192.0.2.64/26", "192.0.2.65", "192.0.2.70-192.0.2.120", map[string]string{"b": "192.0.2.66/26", "c": "192.0.2.67/26"}},
	{"seg3", "c", "a", "eth3", "192.0.2.128/26", "192.0.2.129", "192.0.2.140-192.0.2.190", map[string]string{"c": "192.0.2.130/26", "a": "192.0.2.131/26"}},
}

var ringSync = map[string]string{"a": "198.51.100.1", "b": "198.51.100.2", "c": "198.51.100.3"}

// multiLab is boxes in several relationships: a switch per segment, one
// switch for every sync link, the boxes' hadhcpd started.
type multiLab struct {
	t     *testing.T
	net   *testnet.Lab
	segs  []ringSeg
	sync  map[string]string // box -> its sync address
	sw    map[string]string // segment -> its switch
	names []string
	boxes map[string]*lab.Box
	n     int // clients made
}

func newMultiLab(t *testing.T, segs []ringSeg, sync map[string]string, names ...string) *multiLab {
	t.Helper()
	testnet.RequireCmd(t, "dhclient")
	return newMultiLabIn(t, "hmul", segs, sync, names...)
}

// newMultiLabIn is newMultiLab in namespaces starting with prefix (one
// per test, so tests can run side by side).
func newMultiLabIn(t *testing.T, prefix string, segs []ringSeg, sync map[string]string, names ...string) *multiLab {
	t.Helper()
	lab.Bin.Path(t)
	m := &multiLab{t: t, net: testnet.New(t, prefix), segs: segs, sync: sync, sw: map[string]string{}, names: names, boxes: map[string]*lab.Box{}}
	root := t.TempDir()
	psk := filepath.Join(root, "peer.key")
	lab.WritePSK(t, psk)
	syncSw := m.net.Switch("sync")
	for _, s := range segs {
		m.sw[s.name] = m.net.Switch(s.name)
	}
	for _, name := range names {
		dir := filepath.Join(root, name)
		b := lab.NewBox(t, m.net.Host(name), name, dir, multiBoxConfig(name, dir, psk, segs, sync))
		b.Host.Connect(syncSw, "sync0", sync[name]+"/24")
		for _, s := range segs {
			if a, ok := s.addr[name]; ok {
				b.Host.Connect(m.sw[s.name], s.iface, a)
			}
		}
		m.boxes[name] = b
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range names {
				t.Logf("box %s log:\n%s", name, lab.Tail(m.boxes[name].Log.String(), 60))
			}
		}
	})
	for _, name := range names {
		m.boxes[name].Start()
	}
	return m
}

// ifaces are box's links: sync0 and one per segment it is on.
func (m *multiLab) ifaces(box string) []string {
	out := []string{"sync0"}
	for _, s := range m.segs {
		if _, ok := s.addr[box]; ok {
			out = append(out, s.iface)
		}
	}
	return out
}

// lose is box loss (links down first, then SIGKILL).
func (m *multiLab) lose(boxes ...string) {
	for _, b := range boxes {
		lab.KillBox(m.t, m.boxes[b].Host, m.ifaces(b)...)
	}
}

// revive brings a lost box's links up and starts it again.
func (m *multiLab) revive(box string) {
	for _, ifn := range m.ifaces(box) {
		m.boxes[box].Host.MustIP("link", "set", ifn, "up")
	}
	m.boxes[box].Start()
}

// waitNormal waits until every relationship is NORMAL on both boxes with
// its link up and its VIP on its primary alone; with ready, each partner
// serves the same config and each secondary holds BACKUP addresses.
func (m *multiLab) waitNormal(d time.Duration, ready bool) {
	m.t.Helper()
	lab.WaitFor(m.t, d, "every relationship NORMAL", func() (bool, string) {
		for _, s := range m.segs {
			var backup int
			for _, bn := range []string{s.pri, s.sec} {
				st, err := m.boxes[bn].TryStatus()
				if err != nil {
					return false, err.Error()
				}
				r := ringRel(st, s.name)
				if r == nil || r.State != "NORMAL" || !r.LinkUp {
					return false, fmt.Sprintf("%s on %s: %+v", s.name, bn, r)
				}
				if ready && (r.ConfigMatch == nil || !*r.ConfigMatch) {
					return false, fmt.Sprintf("%s on %s: config not the partner's", s.name, bn)
				}
				if bn == s.sec {
					for _, p := range st.Pools {
						if p.Relationship == s.name {
							backup += p.Backup
						}
					}
				}
			}
			if ready && backup == 0 {
				return false, s.name + ": the secondary holds no BACKUP address yet"
			}
			if !lab.HasAddr(m.boxes[s.pri].Host, s.iface, s.vip) || lab.HasAddr(m.boxes[s.sec].Host, s.iface, s.vip) {
				return false, s.name + ": VIP not on its primary alone"
			}
		}
		return true, ""
	})
}

// lease gets a new client on segment s a lease (from the segment's VIP,
// invariant 5) and returns its address and the client (the caller stops
// it with -x).
func (m *multiLab) lease(s ringSeg) (string, *dhcpClient) {
	m.t.Helper()
	m.n++
	cl := newClient(m.t, m.net.Host(fmt.Sprintf("%sc%d", s.name, m.n)))
	cl.h.Connect(m.sw[s.name], "eth0")
	var out string
	for try := 0; try < 3; try++ {
		out, _ = cl.dhclient(m.t)
		if mm := ackRx.FindStringSubmatch(out); mm != nil {
			if mm[2] != s.vip {
				m.t.Fatalf("%s: ACK from %s, want the segment's VIP %s (invariant 5)", s.name, mm[2], s.vip)
			}
			return mm[1], cl
		}
	}
	m.t.Fatalf("%s: no lease:\n%s", s.name, out)
	return "", nil
}

// waitVIP waits for segment s's VIP on box and returns how long after
// from it was seen there.
func (m *multiLab) waitVIP(s ringSeg, box string, from time.Time) time.Duration {
	m.t.Helper()
	for !lab.HasAddr(m.boxes[box].Host, s.iface, s.vip) {
		if time.Since(from) > 10*time.Second {
			m.t.Fatalf("%s's VIP not on %s within 10s", s.name, box)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(from).Round(time.Millisecond)
}

// ackAfter is when box's log dates the bind of ip after marker, from t0.
func (m *multiLab) ackAfter(box, marker, ip string, t0 time.Time) time.Duration {
	m.t.Helper()
	ts, _ := logEvent(m.boxes[box].Log.String(), marker, regexp.MustCompile(`msg="lease bind" .*ip=`+regexp.QuoteMeta(ip)+` `))
	if ts.IsZero() {
		m.t.Fatalf("%s: no dated lease bind of %s after %q", box, ip, marker)
	}
	return ts.Sub(t0).Round(time.Millisecond)
}

// noTransition fails when box logged a transition of relationship rel
// after marker (and when it never logged one: the check would be blind).
func (m *multiLab) noTransition(box, rel, marker string) {
	m.t.Helper()
	rx := regexp.MustCompile(`msg="failover transition".*relationship=` + regexp.QuoteMeta(rel) + ` `)
	log := m.boxes[box].Log.String()
	if !rx.MatchString(log) {
		m.t.Fatalf("%s: no transition of %s ever logged: the check would be blind", box, rel)
	}
	if _, pos := logEvent(log, marker, rx); pos >= 0 {
		line := log[pos:]
		if i := strings.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		m.t.Errorf("%s: relationship %s changed state after %q: %s", box, rel, strings.TrimSpace(marker), line)
	}
}

func (m *multiLab) mark(marker string, boxes ...string) {
	for _, b := range boxes {
		m.boxes[b].Log.Write([]byte(marker))
	}
}

// multiBoxConfig is box's config: a VRRP instance, a subnet and a
// relationship per segment it is on; one listener, one key.
func multiBoxConfig(box, dir, psk string, segs []ringSeg, sync map[string]string) string {
	var vr, sub, rel, ifs strings.Builder
	for i, s := range segs {
		role, partner, prio := "", "", 0
		switch box {
		case s.pri:
			role, partner, prio = "primary", s.sec, 200
		case s.sec:
			role, partner, prio = "secondary", s.pri, 100
		default:
			continue
		}
		fmt.Fprintf(&ifs, "%s, ", s.iface)
		fmt.Fprintf(&vr, "    - {name: %s, interface: %s, vrid: %d, priority: %d, advert_interval: 100ms, virtual_ips: [%s/%d]}\n", s.name, s.iface, 51+i, prio, s.vip, netip.MustParsePrefix(s.net).Bits())
		fmt.Fprintf(&sub, "    - {subnet: %s, pools: [{range: %s}], options: {routers: [%s]}}\n", s.net, s.pool, s.vip)
		fmt.Fprintf(&rel, "    - {name: %s, role: %s, peer: '%s:647', vrrp_instance: %s, subnets: [%s]}\n", s.name, role, sync[partner], s.name, s.net)
	}
	return fmt.Sprintf(`node:
  name: %[1]s
  state_dir: %[2]s/state
  control_socket: %[2]s/ctl.sock
  metrics_listen: ""
  log_level: debug
vrrp:
  instances:
%[3]sdhcp:
  interfaces: [%[4]s]
  default_lease_time: 1h
  min_lease_time: 10s
  subnets:
%[5]sfailover:
  listen: '%[6]s:647'
  max_response_delay: 3s
  auth: {psk_file: %[7]s}
  relationships:
%[8]s`, box, dir, vr.String(), strings.TrimSuffix(ifs.String(), ", "), sub.String(), sync[box], psk, rel.String())
}

// ringRel is box's status line of relationship name (nil: none).
func ringRel(st control.Status, name string) *control.RelationshipStatus {
	for i := range st.Relationships {
		if st.Relationships[i].Name == name {
			return &st.Relationships[i]
		}
	}
	return nil
}

// TestIntegrationRingOfThree: clients on each segment get leases from
// their segment's master with the VIP as server id, replicated to the
// segment's other box before the ACK; a pool changed on a relationship's
// primary reaches its secondary only. Then each box is lost in turn
// (HMUL_RING_ROUNDS, default 3: B, C, A): its two segments are answered
// by their other boxes, the third segment's relationship sees no state
// change; the box returns, resyncs both relationships and takes its
// segment back. At the end every segment's boxes agree, no address bound
// twice.
func TestIntegrationRingOfThree(t *testing.T) {
	m := newMultiLab(t, ringSegments, ringSync, "a", "b", "c")
	a, b, c := m.boxes["a"], m.boxes["b"], m.boxes["c"]
	m.waitNormal(60*time.Second, true)

	// A client per segment: a lease on both of the segment's boxes by
	// the time of the ACK (invariant 2), on no other box.
	var stops []*dhcpClient
	defer func() {
		for _, cl := range stops {
			_, _ = cl.dhclient(t, "-x")
		}
	}()
	for _, s := range ringSegments {
		ip, cl := m.lease(s)
		stops = append(stops, cl)
		for _, bn := range m.names {
			st := leaseState(mustLeases(t, m.boxes[bn]), ip)
			want := ""
			if bn == s.pri || bn == s.sec {
				want = "active"
			}
			if st != want {
				t.Errorf("%s's lease %s on box %s: %q, want %q", s.name, ip, bn, st, want)
			}
		}
	}

	// Config in step: segment 1's pool changed on A (its primary) and
	// reloaded: B serves it soon after, C (not in segment 1) is untouched.
	cBefore := c.Status().Pools
	cfgA, err := os.ReadFile(a.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	lab.WriteFile(t, a.Cfg, strings.Replace(string(cfgA), "192.0.2.10-192.0.2.60", "192.0.2.10-192.0.2.50", 1))
	reloadAt := time.Now()
	if err := a.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	lab.WaitFor(t, 10*time.Second, "B serving segment 1's new pool", func() (bool, string) {
		return hasPool(b, "192.0.2.10-192.0.2.50") && !hasPool(b, "192.0.2.10-192.0.2.60"), "not yet"
	})
	t.Logf("segment 1's pool changed on A: B serves it %v after A's SIGHUP", time.Since(reloadAt).Round(time.Millisecond))
	if got := c.Status().Pools; fmt.Sprint(got) != fmt.Sprint(cBefore) {
		t.Errorf("C's pools changed with segment 1's: %v -> %v", cBefore, got)
	}

	// Each box lost in turn (links down, then SIGKILL), then back.
	rounds := envCount(t, "HMUL_RING_ROUNDS", 3, 1, 30, "box losses")
	order := []string{"b", "c", "a"}
	for i := range rounds {
		m.ringRound(i+1, order[i%3], &stops)
	}
	// 0 lost, 0 duplicates: every segment's two boxes hold the same
	// active bindings, and no address is bound to two clients.
	for _, s := range ringSegments {
		want := activeByIP(t, m.boxes[s.pri], s.net)
		got := activeByIP(t, m.boxes[s.sec], s.net)
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Errorf("%s: %s holds %v, %s holds %v", s.name, s.pri, want, s.sec, got)
		}
		if len(want) == 0 {
			t.Errorf("%s: no active lease at all", s.name)
		}
	}
	if !hasPool(b, "192.0.2.10-192.0.2.50") {
		t.Error("B does not serve segment 1's synced pool at the end")
	}
	for _, box := range m.names {
		m.boxes[box].Stop(t)
	}
}

// ringRound loses box x of the ring: its two segments are answered by
// their other boxes (the one that was standby takes the VIP), the third
// segment's relationship sees no transition; x returns, both of its
// relationships resync (it holds the leases given out without it) and it
// takes its segment back.
func (m *multiLab) ringRound(round int, x string, stops *[]*dhcpClient) {
	t := m.t
	t.Helper()
	var mine, other []ringSeg
	var third ringSeg
	for _, s := range m.segs {
		switch x {
		case s.pri:
			mine = append(mine, s) // x was its master: the standby takes over
		case s.sec:
			other = append(other, s) // the master stays
		default:
			third = s
		}
	}
	survivors := []string{third.pri, third.sec}
	marker := fmt.Sprintf("--- round %d: box %s lost ---\n", round, x)
	m.mark(marker, survivors...)
	failAt := time.Now()
	m.lose(x)
	var given []string
	var report []string
	for _, s := range mine {
		v := m.waitVIP(s, s.sec, failAt)
		ip, cl := m.lease(s)
		*stops = append(*stops, cl)
		given = append(given, ip)
		report = append(report, fmt.Sprintf("%s: VIP on %s after %v, first new ACK %v", s.name, s.sec, v, m.ackAfter(s.sec, marker, ip, failAt)))
	}
	for _, s := range other {
		ip, cl := m.lease(s)
		*stops = append(*stops, cl)
		given = append(given, ip)
		report = append(report, fmt.Sprintf("%s: %s stays master, first new ACK %v", s.name, s.pri, m.ackAfter(s.pri, marker, ip, failAt)))
	}
	t.Logf("box %s lost: %s", x, strings.Join(report, "; "))
	for _, b := range survivors {
		m.noTransition(b, third.name, marker)
		r := ringRel(m.boxes[b].Status(), third.name)
		if r == nil || r.State != "NORMAL" || !r.LinkUp {
			t.Errorf("%s: %s %+v, want NORMAL with the link up", b, third.name, r)
		}
	}
	// The relationships with x lose their link (at the latest after
	// max_response_delay).
	for _, s := range append(append([]ringSeg(nil), mine...), other...) {
		peer := s.pri
		if peer == x {
			peer = s.sec
		}
		lab.WaitFor(t, 10*time.Second, peer+": "+s.name+" out of NORMAL with its link down", func() (bool, string) {
			r := ringRel(m.boxes[peer].Status(), s.name)
			return r != nil && !r.LinkUp && r.State != "NORMAL", fmt.Sprintf("%+v", r)
		})
	}

	backAt := time.Now()
	m.revive(x)
	m.waitNormal(60*time.Second, false)
	t.Logf("box %s back: every relationship NORMAL, its segment's VIP on it %v after its start", x, time.Since(backAt).Round(time.Millisecond))
	xl := mustLeases(t, m.boxes[x])
	for _, ip := range given {
		if st := leaseState(xl, ip); st != "active" {
			t.Errorf("%s after its return: %s (given out while it was away) is %q, want active", x, ip, st)
		}
	}
	third3 := netip.MustParsePrefix(third.net)
	for _, l := range xl {
		ip, _ := l["ip"].(string)
		if a, err := netip.ParseAddr(ip); err == nil && third3.Contains(a) {
			t.Errorf("%s holds %s's %s", x, third.name, ip)
		}
	}
	for _, b := range survivors {
		m.noTransition(b, third.name, marker)
	}
}

func boxRSS(t *testing.T, b *lab.Box) int { return rssKiB(t, b.Proc.Cmd.Process.Pid) }

// hasPool reports whether box serves pool (its status).
func hasPool(box *lab.Box, pool string) bool {
	st, err := box.TryStatus()
	if err != nil {
		return false
	}
	for _, p := range st.Pools {
		if p.Pool == pool {
			return true
		}
	}
	return false
}

// activeByIP is box's active bindings inside the prefix net: address ->
// hardware address.
func activeByIP(t *testing.T, b *lab.Box, net string) map[string]string {
	t.Helper()
	p := netip.MustParsePrefix(net)
	out := map[string]string{}
	for _, l := range mustLeases(t, b) {
		ip, _ := l["ip"].(string)
		a, err := netip.ParseAddr(ip)
		if err != nil || !p.Contains(a) || l["state"] != "active" {
			continue
		}
		hw, _ := l["hw_address"].(string)
		out[ip] = hw
	}
	return out
}

// The hub H is the secondary of three spokes, each the primary of its
// segment: H's one listener serves the three relationships.
var hubSegments = []ringSeg{
	{"seg1", "s1", "h", "eth1", "192.0.2.0/26", "192.0.2.1", "192.0.2.10-192.0.2.60", map[string]string{"s1": "192.0.2.2/26", "h": "192.0.2.3/26"}},
	{"seg2", "s2", "h", "eth2", "192.0.2.64/26", "192.0.2.65", "192.0.2.70-192.0.2.120", map[string]string{"s2": "192.0.2.66/26", "h": "192.0.2.67/26"}},
	{"seg3", "s3", "h", "eth3", "192.0.2.128/26", "192.0.2.129", "192.0.2.140-192.0.2.190", map[string]string{"s3": "192.0.2.130/26", "h": "192.0.2.131/26"}},
}

var hubSync = map[string]string{"h": "198.51.100.10", "s1": "198.51.100.1", "s2": "198.51.100.2", "s3": "198.51.100.3"}

// TestIntegrationHubAndSpoke: two spokes lost at once, the hub serves
// both of their segments (their VIPs move to it) and the third
// relationship sees no state change; the hub lost, the remaining spoke
// goes on alone, and resyncs with the hub when it returns.
func TestIntegrationHubAndSpoke(t *testing.T) {
	m := newMultiLab(t, hubSegments, hubSync, "h", "s1", "s2", "s3")
	m.waitNormal(60*time.Second, true)
	// Memory at idle: the hub runs three relationships, each spoke one.
	t.Logf("RSS at idle: hub (3 relationships) %d KiB, spokes (1 each) %d, %d, %d KiB",
		boxRSS(t, m.boxes["h"]), boxRSS(t, m.boxes["s1"]), boxRSS(t, m.boxes["s2"]), boxRSS(t, m.boxes["s3"]))
	var stops []*dhcpClient
	defer func() {
		for _, cl := range stops {
			_, _ = cl.dhclient(t, "-x")
		}
	}()
	for _, s := range hubSegments {
		ip, cl := m.lease(s)
		stops = append(stops, cl)
		if st := leaseState(mustLeases(t, m.boxes["h"]), ip); st != "active" {
			t.Errorf("%s's lease %s on the hub: %q, want active", s.name, ip, st)
		}
	}

	marker := "--- spokes s1, s2 lost ---\n"
	m.mark(marker, "h", "s3")
	failAt := time.Now()
	m.lose("s1", "s2")
	v1, v2 := m.waitVIP(hubSegments[0], "h", failAt), m.waitVIP(hubSegments[1], "h", failAt)
	ip1, cl1 := m.lease(hubSegments[0])
	ip2, cl2 := m.lease(hubSegments[1])
	stops = append(stops, cl1, cl2)
	t.Logf("spokes s1, s2 lost: their VIPs on the hub after %v, %v; first new ACKs from the hub %v, %v",
		v1, v2, m.ackAfter("h", marker, ip1, failAt), m.ackAfter("h", marker, ip2, failAt))
	for _, box := range []string{"h", "s3"} {
		m.noTransition(box, "seg3", marker)
	}

	// The hub lost: s3 goes on alone.
	marker2 := "--- hub lost ---\n"
	m.mark(marker2, "s3")
	hubAt := time.Now()
	m.lose("h")
	ip3, cl3 := m.lease(hubSegments[2])
	stops = append(stops, cl3)
	t.Logf("hub lost: s3's first new ACK %v after", m.ackAfter("s3", marker2, ip3, hubAt))

	// The hub returns (the spokes s1, s2 stay away): s3–H resyncs, the
	// hub holds the lease s3 gave out without it.
	m.revive("h")
	lab.WaitFor(t, 60*time.Second, "seg3 NORMAL again", func() (bool, string) {
		for _, bn := range []string{"h", "s3"} {
			st, err := m.boxes[bn].TryStatus()
			if err != nil {
				return false, err.Error()
			}
			if r := ringRel(st, "seg3"); r == nil || r.State != "NORMAL" || !r.LinkUp {
				return false, fmt.Sprintf("%s: %+v", bn, r)
			}
		}
		return true, ""
	})
	if st := leaseState(mustLeases(t, m.boxes["h"]), ip3); st != "active" {
		t.Errorf("the hub after its return: s3's %s is %q, want active", ip3, st)
	}
	for _, box := range []string{"h", "s3"} {
		m.boxes[box].Stop(t)
	}
}

func mustLeases(t *testing.T, b *lab.Box) []map[string]any {
	t.Helper()
	var ls []map[string]any
	if err := b.Leases(&ls); err != nil {
		t.Fatal(err)
	}
	return ls
}
