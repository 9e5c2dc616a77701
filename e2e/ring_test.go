package e2e

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
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

// ringLoadSegments are the ring with pools for a long run under load
// (TestIntegrationRingOfThree's rounds, `make chaos RING=3`): ringLoadPool
// addresses each, where ringSegments' /26 hold 51.
var ringLoadSegments = []ringSeg{
	{"seg1", "a", "b", "eth1", "198.18.0.0/17", "198.18.0.1", "198.18.1.0-198.18.120.255", map[string]string{"a": "198.18.0.2/17", "b": "198.18.0.3/17"}},
	{"seg2", "b", "c", "eth2", "198.18.128.0/17", "198.18.128.1", "198.18.129.0-198.18.248.255", map[string]string{"b": "198.18.128.2/17", "c": "198.18.128.3/17"}},
	{"seg3", "c", "a", "eth3", "198.19.0.0/17", "198.19.0.1", "198.19.1.0-198.19.120.255", map[string]string{"c": "198.19.0.2/17", "a": "198.19.0.3/17"}},
}

// ringLoadPool is the addresses of each of ringLoadSegments' pools.
const ringLoadPool = 120 * 256

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
	return newMultiLabWith(t, prefix, nil, segs, sync, names...)
}

// withFailover is a newMultiLabWith edit adding keys to every box's
// failover: section (YAML lines indented by two spaces).
func withFailover(lines string) func(t *testing.T, box, cfg string) string {
	return func(_ *testing.T, _, cfg string) string {
		return strings.Replace(cfg, "\nfailover:\n", "\nfailover:\n"+lines, 1)
	}
}

// newMultiLabWith is newMultiLabIn with each box's config passed through
// edit (nil: none) before the box is made.
func newMultiLabWith(t *testing.T, prefix string, edit func(t *testing.T, box, cfg string) string, segs []ringSeg, sync map[string]string, names ...string) *multiLab {
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
		cfg := multiBoxConfig(name, dir, psk, segs, sync)
		if edit != nil {
			cfg = edit(t, name, cfg)
		}
		b := lab.NewBox(t, m.net.Host(name), name, dir, cfg)
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

// revive brings a lost box's links up and starts it again; it returns
// the start's marker in the box's log.
func (m *multiLab) revive(box string) string {
	for _, ifn := range m.ifaces(box) {
		m.boxes[box].Host.MustIP("link", "set", ifn, "up")
	}
	return m.boxes[box].Start()
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
		if mm := ringAckRx.FindStringSubmatch(out); mm != nil {
			if mm[2] != s.vip {
				m.t.Fatalf("%s: ACK from %s, want the segment's VIP %s (invariant 5)", s.name, mm[2], s.vip)
			}
			return mm[1], cl
		}
	}
	m.t.Fatalf("%s: no lease:\n%s", s.name, out)
	return "", nil
}

// ringAckRx is dhclient's report of an ACK: address, server.
var ringAckRx = regexp.MustCompile(`DHCPACK of (\d+\.\d+\.\d+\.\d+) from (\S+)`)

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

// Rounds of TestIntegrationRingOfThree.
const (
	// The load runs a lead drawn in this range before the loss: the loss
	// falls at a random moment of a stream of commits.
	ringLeadMin, ringLeadMax = time.Second, 3 * time.Second
	// ringAfterLoss is the load kept on every segment after the loss: past
	// the takeover, the link's ack bound and the relationships with the
	// lost box leaving NORMAL.
	ringAfterLoss = 3 * time.Second
	// ringMasterDown is a standby's Master_Down_Interval at advert_interval
	// 100ms and priority 100 (RFC 5798 §6.1: 3 × Advertisement_Interval +
	// Skew_Time, Skew_Time = (256 − Priority) × Advertisement_Interval / 256).
	ringMasterDown = 3*100*time.Millisecond + (256-100)*100*time.Millisecond/256
	// ringTakeover bounds, on each segment of the lost box, the longest
	// time without an ACK from the loss on: Master_Down_Interval + 100 ms.
	// Where the standby was lost, the master's commits in flight are
	// released once its LAN witness finds the partner gone on a quiet
	// link.
	ringTakeover = ringMasterDown + 100*time.Millisecond
	// ringThirdGap bounds the longest time without an ACK on the third
	// segment after the loss: at crashRate an ACK comes every 5 ms, and a
	// pause the loss caused would last Master_Down_Interval or the ack
	// bound.
	ringThirdGap = 150 * time.Millisecond
	// ringMaxRounds keeps a run's new clients (crashRate × (ringLeadMax +
	// ringAfterLoss) a round) within a segment's pool.
	ringMaxRounds = 20
	// ringSeg1Pool is segment 1's pool after the config sync check.
	ringSeg1Pool = "198.18.1.0-198.18.119.255"
)

// ringSpec is one scheduled round: the box lost, and after how much load.
type ringSpec struct {
	box  string
	lead time.Duration
}

// ringSchedule is the rounds of seed: B, C, A in turn, each lost after a
// lead drawn in [ringLeadMin, ringLeadMax]. Pure: one seed, one schedule.
func ringSchedule(seed uint64, rounds int) []ringSpec {
	rng := mrand.New(mrand.NewPCG(seed, 0x68636d756c)) // "hcmul"
	out := make([]ringSpec, rounds)
	for i := range out {
		lead := ringLeadMin + time.Duration(rng.Int64N(int64(ringLeadMax-ringLeadMin)+1))
		out[i] = ringSpec{box: []string{"b", "c", "a"}[i%3], lead: lead.Round(time.Millisecond)}
	}
	return out
}

// A segment's part in a round.
const (
	ringTookOver    = "standby takes over" // the lost box was its master
	ringStandbyLost = "master stays"       // the lost box was its standby
	ringThird       = "third"              // the lost box is not on it
)

// ringRow is one segment's figures of one round.
type ringRow struct {
	round      int
	box        string
	lead       time.Duration
	seg        ringSeg
	role       string
	bound      time.Duration // for gap
	gap        time.Duration // longest time without an ACK from the loss to the load's end
	before     time.Duration // the same during the lead
	vip        time.Duration // ringTookOver: loss → the VIP on the standby
	acks       int           // this round's ACKs
	unanswered int           // this round's clients without an ACK after the retry
	lost, dups int           // after the box's return, all ACKs so far
	back       time.Duration // the box's start → every relationship NORMAL
}

// ackGap is the longest time in [from, to] without one of acks.
func ackGap(acks []crashAck, from, to time.Time) time.Duration {
	ts := []time.Time{from, to}
	for _, a := range acks {
		if a.at.After(from) && a.at.Before(to) {
			ts = append(ts, a.at)
		}
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	var gap time.Duration
	for i := 1; i < len(ts); i++ {
		gap = max(gap, ts[i].Sub(ts[i-1]))
	}
	return gap
}

// ringTable prints rows, one line per segment and round.
func ringTable(rows []ringRow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%5s %3s %6s  %-4s %-18s %9s %7s %9s %9s %5s %5s %4s %4s %8s\n",
		"round", "box", "lead", "seg", "role", "gap", "bound", "gap lead", "VIP", "ACKs", "unans", "lost", "dups", "back")
	for _, r := range rows {
		vip := "-"
		if r.role == ringTookOver {
			vip = r.vip.Round(time.Millisecond).String()
		}
		fmt.Fprintf(&b, "%5d %3s %6s  %-4s %-18s %9s %7s %9s %9s %5d %5d %4d %4d %8s\n",
			r.round, strings.ToUpper(r.box), r.lead.Round(10*time.Millisecond), r.seg.name, r.role,
			r.gap.Round(time.Millisecond), r.bound.Round(time.Millisecond), r.before.Round(time.Millisecond), vip,
			r.acks, r.unanswered, r.lost, r.dups, r.back.Round(10*time.Millisecond))
	}
	return b.String()
}

// TestIntegrationRingOfThree: clients on each segment get leases from
// their segment's master with the VIP as server id, replicated to the
// segment's other box before the ACK; a pool changed on a relationship's
// primary reaches its secondary only. Then rounds (HADHCPD_RING_ROUNDS,
// default 3; HADHCPD_RING_SEED replays the moments): B, C, A lost in turn
// at a random moment of crashRate (200) new clients per second on every
// segment. Both of the lost box's segments are answered by their other
// box within Master_Down_Interval + 100 ms, the third segment sees no
// state change and no pause in its ACKs; the box returns, both of its
// relationships resync and it takes its segment back; every ACK so far
// is on both of its segment's boxes, no address bound twice (invariants
// 1, 2).
func TestIntegrationRingOfThree(t *testing.T) {
	rounds := envCount(t, "HADHCPD_RING_ROUNDS", 3, 1, ringMaxRounds, "box losses")
	seed, err := envSeed(os.Getenv, "HADHCPD_RING_SEED")
	if err != nil {
		t.Fatal(err)
	}
	m := newMultiLab(t, ringLoadSegments, ringSync, "a", "b", "c")
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
	for _, s := range m.segs {
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
	lab.WriteFile(t, a.Cfg, strings.Replace(string(cfgA), m.segs[0].pool, ringSeg1Pool, 1))
	reloadAt := time.Now()
	if err := a.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	lab.WaitFor(t, 10*time.Second, "B serving segment 1's new pool", func() (bool, string) {
		return hasPool(b, ringSeg1Pool) && !hasPool(b, m.segs[0].pool), "not yet"
	})
	t.Logf("segment 1's pool changed on A: B serves it %v after A's SIGHUP", time.Since(reloadAt).Round(time.Millisecond))
	if got := c.Status().Pools; fmt.Sprint(got) != fmt.Sprint(cBefore) {
		t.Errorf("C's pools changed with segment 1's: %v -> %v", cBefore, got)
	}

	// Each box lost in turn (links down, then SIGKILL) under load, then
	// back.
	loads := make([]*loadClient, len(m.segs))
	for i, s := range m.segs {
		h := m.net.Host(fmt.Sprintf("l%d", i+1))
		h.Connect(m.sw[s.name], "eth0")
		loads[i] = newLoadClient(t, h)
	}
	t.Logf("ring rounds seed %d, %d rounds (replay: make ring ROUNDS=%d SEED=%d)", seed, rounds, rounds, seed)
	var rows []ringRow
	defer func() {
		t.Logf("ring of three, %d of %d rounds (seed %d): gap = longest time without an ACK from the loss on, bound its limit; gap lead = the same before the loss; back = the box's start → every relationship NORMAL\n%s",
			len(rows)/len(m.segs), rounds, seed, ringTable(rows))
	}()
	for i, r := range ringSchedule(seed, rounds) {
		rows = append(rows, m.ringRound(i+1, r, loads)...)
		if t.Failed() {
			t.FailNow()
		}
	}
	if !hasPool(b, ringSeg1Pool) {
		t.Error("B does not serve segment 1's synced pool at the end")
	}
	for _, box := range m.names {
		m.boxes[box].Stop(t)
	}
}

// ringRound loses box r.box of the ring after r.lead of load on every
// segment: its two segments are answered by their other boxes (the one
// that was standby takes the VIP) within their bounds, the third
// segment's relationship sees no transition and its ACKs no pause; the
// box returns, both of its relationships resync and it takes its segment
// back; every ACK of every segment so far is checked on both of the
// segment's boxes (checkSegment).
func (m *multiLab) ringRound(round int, r ringSpec, loads []*loadClient) []ringRow {
	t := m.t
	t.Helper()
	x := r.box
	rows := make([]ringRow, len(m.segs))
	var third ringSeg
	for i, s := range m.segs {
		rows[i] = ringRow{round: round, box: x, lead: r.lead, seg: s}
		switch x {
		case s.pri:
			rows[i].role, rows[i].bound = ringTookOver, ringTakeover
		case s.sec:
			rows[i].role, rows[i].bound = ringStandbyLost, ringTakeover
		default:
			rows[i].role, rows[i].bound = ringThird, ringThirdGap
			third = s
		}
	}
	survivors := []string{third.pri, third.sec}

	start, failed := make([]int, len(loads)), make([]int, len(loads))
	for i, l := range loads {
		l.mu.Lock()
		start[i], failed[i] = len(l.acks), l.failed
		l.mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // a t.Fatal below must not leave the load running
	done := make(chan struct{})
	loadAt := time.Now()
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for i, l := range loads {
			wg.Go(func() { l.run(ctx, round*len(loads)+i) }) // a chaddr byte per round and segment
		}
		wg.Wait()
	}()
	time.Sleep(r.lead)
	marker := fmt.Sprintf("--- round %d: box %s lost ---\n", round, x)
	m.mark(marker, survivors...)
	failAt := time.Now()
	m.lose(x)
	for i, s := range m.segs {
		if rows[i].role == ringTookOver {
			rows[i].vip = m.waitVIP(s, s.sec, failAt)
		}
	}
	time.Sleep(time.Until(failAt.Add(ringAfterLoss)))
	stopAt := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("round %d: a load client did not stop within 10s", round)
	}
	for i, l := range loads {
		l.mu.Lock()
		acks := slices.Clone(l.acks[start[i]:])
		rows[i].unanswered = l.failed - failed[i]
		l.mu.Unlock()
		rw := &rows[i]
		rw.acks = len(acks)
		// The lead's first ACKs come once the first exchanges are done.
		rw.before = ackGap(acks, loadAt.Add(100*time.Millisecond), failAt)
		rw.gap = ackGap(acks, failAt, stopAt)
		if rw.gap > rw.bound {
			t.Errorf("round %d, box %s lost: %s (%s): %v without an ACK after the loss, want at most %v (%v during the lead)",
				round, x, rw.seg.name, rw.role, rw.gap.Round(time.Millisecond), rw.bound.Round(time.Millisecond), rw.before.Round(time.Millisecond))
		}
		if rw.acks == 0 {
			t.Errorf("round %d: %s: no ACK at all: the load client did not work", round, rw.seg.name)
		}
	}
	for _, b := range survivors {
		m.noTransition(b, third.name, marker)
		rel := ringRel(m.boxes[b].Status(), third.name)
		if rel == nil || rel.State != "NORMAL" || !rel.LinkUp {
			t.Errorf("%s: %s %+v, want NORMAL with the link up", b, third.name, rel)
		}
	}
	// The relationships with x lose their link (at the latest after
	// max_response_delay).
	for _, s := range m.segs {
		peer := s.pri
		switch x {
		case s.pri:
			peer = s.sec
		case s.sec:
		default:
			continue
		}
		lab.WaitFor(t, 10*time.Second, peer+": "+s.name+" out of NORMAL with its link down", func() (bool, string) {
			rel := ringRel(m.boxes[peer].Status(), s.name)
			return rel != nil && !rel.LinkUp && rel.State != "NORMAL", fmt.Sprintf("%+v", rel)
		})
	}

	backAt := time.Now()
	m.revive(x)
	m.waitNormal(60*time.Second, false)
	back := time.Since(backAt)
	// 0 lost, 0 duplicates: every ACK so far (those given out without x
	// included) on both of its segment's boxes, the same active bindings
	// on both, no address bound twice, the VIP on the primary alone.
	for i, s := range m.segs {
		loads[i].mu.Lock()
		acks := slices.Clone(loads[i].acks)
		loads[i].mu.Unlock()
		v, _ := m.checkSegment(s, acks)
		rows[i].lost, rows[i].dups, rows[i].back = len(v.lost)+len(v.early), len(v.dups), back
		what := fmt.Sprintf("round %d, box %s back: %s", round, x, s.name)
		reportLines(t, what+": lost (invariant 2)", v.lost)
		reportLines(t, what+": ends early (invariant 2)", v.early)
		reportLines(t, what+": duplicate (invariant 1)", v.dups)
		reportLines(t, what+": active sets differ", v.diff)
		reportLines(t, what+": VIP", v.vip)
	}
	third3 := netip.MustParsePrefix(third.net)
	for _, l := range mustLeases(t, m.boxes[x]) {
		ip, _ := l["ip"].(string)
		if a, err := netip.ParseAddr(ip); err == nil && third3.Contains(a) {
			t.Errorf("%s holds %s's %s", x, third.name, ip)
		}
	}
	for _, b := range survivors {
		m.noTransition(b, third.name, marker)
	}
	return rows
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

// One seed, one schedule: B, C, A in turn (each box lost at least three
// times in ten rounds), leads in range, a shorter run a prefix of a
// longer one.
func TestRingSchedule(t *testing.T) {
	a, b := ringSchedule(7, 10), ringSchedule(7, 10)
	if !slices.Equal(a, b) {
		t.Fatal("one seed gave two schedules")
	}
	if slices.Equal(a, ringSchedule(8, 10)) {
		t.Error("seeds 7 and 8 gave the same schedule")
	}
	if !slices.Equal(ringSchedule(7, 4), a[:4]) {
		t.Error("a shorter run is not a prefix of a longer one")
	}
	lost := map[string]int{}
	for i, r := range a {
		lost[r.box]++
		if r.lead < ringLeadMin || r.lead > ringLeadMax {
			t.Errorf("round %d: lead %v out of range", i+1, r.lead)
		}
	}
	for _, box := range []string{"a", "b", "c"} {
		if lost[box] < 3 {
			t.Errorf("10 rounds lose %s %d times, want at least 3", box, lost[box])
		}
	}
}

// ackGap: the longest time without an ACK, counting from the window's
// start to its end; ACKs outside the window do not count.
func TestAckGap(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms ...int) []crashAck {
		var out []crashAck
		for _, m := range ms {
			out = append(out, crashAck{at: t0.Add(time.Duration(m) * time.Millisecond)})
		}
		return out
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		name string
		acks []crashAck
		want time.Duration
	}{
		{"none", nil, ms(1000)},
		{"the first one late", at(400, 410, 420), ms(580)},
		{"a pause in the middle", at(10, 20, 600, 990), ms(580)},
		{"none at the end", at(10, 20, 300), ms(700)},
		{"unsorted, outside ignored", at(-50, 500, 250, 750, 1200), ms(250)},
	} {
		if got := ackGap(tc.acks, t0, t0.Add(time.Second)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
