package e2e

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
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

// ringBoxConfig is box's config: a VRRP instance, a subnet and a
// relationship per segment it is on.
func ringBoxConfig(box, dir, psk string) string {
	var vr, sub, rel, ifs strings.Builder
	for i, s := range ringSegments {
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
		fmt.Fprintf(&vr, "    - {name: %s, interface: %s, vrid: %d, priority: %d, advert_interval: 100ms, virtual_ips: [%s/26]}\n", s.name, s.iface, 51+i, prio, s.vip)
		fmt.Fprintf(&sub, "    - {subnet: %s, pools: [{range: %s}], options: {routers: [%s]}}\n", s.net, s.pool, s.vip)
		fmt.Fprintf(&rel, "    - {name: %s, role: %s, peer: '%s:647', vrrp_instance: %s, subnets: [%s]}\n", s.name, role, ringSync[partner], s.name, s.net)
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
%[8]s`, box, dir, vr.String(), strings.TrimSuffix(ifs.String(), ", "), sub.String(), ringSync[box], psk, rel.String())
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
// segment's other box before the ACK. Box B is lost (links down, then
// SIGKILL): segment 1 is answered by A, segment 2 by C (which takes the
// VIP), and segment 3's relationship (C–A) sees no state change.
func TestIntegrationRingOfThree(t *testing.T) {
	testnet.RequireCmd(t, "dhclient")
	lab.Bin.Path(t)
	n := testnet.New(t, "hmul")
	root := t.TempDir()
	psk := filepath.Join(root, "peer.key")
	lab.WritePSK(t, psk)
	syncSw := n.Switch("sync")
	sw := map[string]string{}
	for _, s := range ringSegments {
		sw[s.name] = n.Switch(s.name)
	}
	boxes := map[string]*lab.Box{}
	for _, name := range []string{"a", "b", "c"} {
		dir := filepath.Join(root, name)
		b := lab.NewBox(t, n.Host(name), name, dir, ringBoxConfig(name, dir, psk))
		b.Host.Connect(syncSw, "sync0", ringSync[name]+"/24")
		for _, s := range ringSegments {
			if a, ok := s.addr[name]; ok {
				b.Host.Connect(sw[s.name], s.iface, a)
			}
		}
		boxes[name] = b
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{"a", "b", "c"} {
				t.Logf("box %s log:\n%s", name, lab.Tail(boxes[name].Log.String(), 60))
			}
		}
	})
	for _, name := range []string{"a", "b", "c"} {
		boxes[name].Start()
	}
	a, b, c := boxes["a"], boxes["b"], boxes["c"]

	// Ready: every relationship NORMAL on both boxes with its link up,
	// the partner serving the same config, each segment's VIP on its
	// primary alone, each secondary holding BACKUP addresses.
	lab.WaitFor(t, 60*time.Second, "every relationship NORMAL and ready", func() (bool, string) {
		for _, s := range ringSegments {
			var backup int
			for _, bn := range []string{s.pri, s.sec} {
				st, err := boxes[bn].TryStatus()
				if err != nil {
					return false, err.Error()
				}
				r := ringRel(st, s.name)
				if r == nil || r.State != "NORMAL" || !r.LinkUp || r.ConfigMatch == nil || !*r.ConfigMatch {
					return false, fmt.Sprintf("%s on %s: %+v", s.name, bn, r)
				}
				if bn == s.sec {
					for _, p := range st.Pools {
						if p.Relationship == s.name {
							backup += p.Backup
						}
					}
				}
			}
			if backup == 0 {
				return false, s.name + ": the secondary holds no BACKUP address yet"
			}
			if !lab.HasAddr(boxes[s.pri].Host, s.iface, s.vip) || lab.HasAddr(boxes[s.sec].Host, s.iface, s.vip) {
				return false, s.name + ": VIP not on its primary alone"
			}
		}
		return true, ""
	})

	// A client per segment: a lease from the segment's VIP, on both of
	// the segment's boxes by the time of the ACK, on no other box.
	clients := 0
	lease := func(s ringSeg, tag string) (string, *dhcpClient) {
		t.Helper()
		clients++
		cl := newClient(t, n.Host(fmt.Sprintf("%s%s%d", s.name, tag, clients)))
		cl.h.Connect(sw[s.name], "eth0")
		var out string
		for try := 0; try < 3; try++ {
			out, _ = cl.dhclient(t)
			if m := ackRx.FindStringSubmatch(out); m != nil {
				if m[2] != s.vip {
					t.Fatalf("%s: ACK from %s, want the segment's VIP %s (invariant 5)", s.name, m[2], s.vip)
				}
				return m[1], cl
			}
		}
		t.Fatalf("%s: no lease:\n%s", s.name, out)
		return "", nil
	}
	var stops []*dhcpClient
	defer func() {
		for _, cl := range stops {
			_, _ = cl.dhclient(t, "-x")
		}
	}()
	for _, s := range ringSegments {
		ip, cl := lease(s, "c")
		stops = append(stops, cl)
		for _, bn := range []string{"a", "b", "c"} {
			st := leaseState(mustLeases(t, boxes[bn]), ip)
			want := ""
			if bn == s.pri || bn == s.sec {
				want = "active"
			}
			if st != want {
				t.Errorf("%s's lease %s on box %s: %q, want %q", s.name, ip, bn, st, want)
			}
		}
	}

	// Box loss of B.
	marker := "--- box b lost ---\n"
	a.Log.Write([]byte(marker))
	c.Log.Write([]byte(marker))
	failAt := time.Now()
	lab.KillBox(t, b.Host, "sync0", "eth1", "eth2")

	// Segment 2's VIP moves to C.
	var vipAt time.Duration
	for {
		if lab.HasAddr(c.Host, "eth2", "192.0.2.65") {
			vipAt = time.Since(failAt)
			break
		}
		if time.Since(failAt) > 10*time.Second {
			t.Fatal("segment 2's VIP not on C within 10s of B's loss")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// New clients on segments 1 and 2 get leases from A and C.
	ip1, cl1 := lease(ringSegments[0], "n")
	stops = append(stops, cl1)
	ip2, cl2 := lease(ringSegments[1], "n")
	stops = append(stops, cl2)
	ackAt := func(box *lab.Box, ip string) time.Duration {
		ts, _ := logEvent(box.Log.String(), marker, regexp.MustCompile(`msg="lease bind" .*ip=`+regexp.QuoteMeta(ip)+` `))
		if ts.IsZero() {
			t.Fatalf("%s: no dated lease bind of %s after the loss", box.Name, ip)
		}
		return ts.Sub(failAt).Round(time.Millisecond)
	}
	t.Logf("box B lost: segment 2's VIP on C after %v; first new ACKs: segment 1 (A) %v, segment 2 (C) %v (dhclient's retries set most of it)",
		vipAt.Round(time.Millisecond), ackAt(a, ip1), ackAt(c, ip2))
	if st := leaseState(mustLeases(t, a), ip2); st != "" {
		t.Errorf("segment 2's lease %s reached A: %q", ip2, st)
	}

	// Segment 3 (C–A) never noticed: no transition of its relationship
	// after the loss, NORMAL with the link up on both boxes.
	seg3Trans := regexp.MustCompile(`msg="failover transition".*relationship=seg3`)
	for _, box := range []*lab.Box{a, c} {
		if !seg3Trans.MatchString(box.Log.String()) {
			t.Fatalf("%s: no transition of seg3 ever logged: the check below would be blind", box.Name)
		}
		if _, pos := logEvent(box.Log.String(), marker, seg3Trans); pos >= 0 {
			t.Errorf("%s: segment 3's relationship changed state after B's loss", box.Name)
		}
		r := ringRel(box.Status(), "seg3")
		if r == nil || r.State != "NORMAL" || !r.LinkUp {
			t.Errorf("%s: seg3 %+v, want NORMAL with the link up", box.Name, r)
		}
	}
	// The relationships with B lose their link (at the latest after
	// max_response_delay); A still serves seg1, C seg2.
	for _, x := range []struct {
		box *lab.Box
		rel string
	}{{a, "seg1"}, {c, "seg2"}} {
		lab.WaitFor(t, 10*time.Second, x.box.Name+": "+x.rel+" out of NORMAL with its link down", func() (bool, string) {
			r := ringRel(x.box.Status(), x.rel)
			return r != nil && !r.LinkUp && r.State != "NORMAL", fmt.Sprintf("%+v", r)
		})
	}

	// B returns: it resyncs both of its relationships (the leases A and
	// C gave out without it), takes segment 2's VIP back, and holds
	// nothing of segment 3.
	for _, ifn := range []string{"sync0", "eth1", "eth2"} {
		b.Host.MustIP("link", "set", ifn, "up")
	}
	backAt := time.Now()
	b.Start()
	lab.WaitFor(t, 60*time.Second, "every relationship NORMAL again, segment 2's VIP on B", func() (bool, string) {
		for _, s := range ringSegments {
			for _, bn := range []string{s.pri, s.sec} {
				st, err := boxes[bn].TryStatus()
				if err != nil {
					return false, err.Error()
				}
				if r := ringRel(st, s.name); r == nil || r.State != "NORMAL" || !r.LinkUp {
					return false, fmt.Sprintf("%s on %s: %+v", s.name, bn, r)
				}
			}
		}
		if !lab.HasAddr(b.Host, "eth2", "192.0.2.65") || lab.HasAddr(c.Host, "eth2", "192.0.2.65") {
			return false, "segment 2's VIP not on B alone"
		}
		return true, ""
	})
	t.Logf("box B back: every relationship NORMAL and segment 2's VIP on B %v after its start", time.Since(backAt).Round(time.Millisecond))
	bl := mustLeases(t, b)
	for _, ip := range []string{ip1, ip2} {
		if st := leaseState(bl, ip); st != "active" {
			t.Errorf("B after its return: %s (given out while it was away) is %q, want active", ip, st)
		}
	}
	seg3 := netip.MustParsePrefix(ringSegments[2].net)
	for _, l := range bl {
		ip, _ := l["ip"].(string)
		if a, err := netip.ParseAddr(ip); err == nil && seg3.Contains(a) {
			t.Errorf("B holds segment 3's %s", ip)
		}
	}
	for _, box := range []*lab.Box{a, c} {
		if _, pos := logEvent(box.Log.String(), marker, seg3Trans); pos >= 0 {
			t.Errorf("%s: segment 3's relationship changed state while B was away or came back", box.Name)
		}
	}
	for _, box := range []*lab.Box{a, b, c} {
		box.Stop(t)
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
