package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// What every root test of a hot-standby pair does with its boxes: build
// them, start them, ask them (`hadhcpd status`, `leases`, …), wait for the
// pair to be NORMAL, read their logs, compare their databases. One helper
// per job; the tests keep only what is their own.

// pairBox is one box of a pair: hadhcpd in its namespace (lab.Box) and
// the pair's VIP.
type pairBox struct {
	*lab.Box
	vip string // the pair's VIP (address only)
}

// newPairBox makes box name in lab n with its own directory under root and
// the config cfg(dir) gives for it, checked with `hadhcpd check-config`.
// The caller connects its links; the box is not started.
func newPairBox(t *testing.T, n *testnet.Lab, root, name, vip string, cfg func(dir string) string) *pairBox {
	t.Helper()
	dir := filepath.Join(root, name)
	return &pairBox{Box: lab.NewBox(t, n.Host(name), name, dir, cfg(dir)), vip: vip}
}

// links sets both of the box's links (eth0, sync0) down or up. Box loss is
// links down, then SIGKILL: the other order lets the FIN out (PEERS.md
// "kill -9 is not a box failure").
func (b *pairBox) links(state string) {
	b.T.Helper()
	b.Host.MustIP("link", "set", "eth0", state)
	b.Host.MustIP("link", "set", "sync0", state)
}

// leases reads the box's database with `hadhcpd leases --json` (a copy,
// read-only, while the daemon runs).
func (b *pairBox) leases() []map[string]any {
	b.T.Helper()
	var ls []map[string]any
	if err := b.Leases(&ls); err != nil {
		b.T.Fatal(err)
	}
	return ls
}

// activeLeases reads the ACTIVE leases of a box's database: address → lease.
func activeLeases(t *testing.T, b *pairBox) map[netip.Addr]control.LeaseInfo {
	t.Helper()
	var ls []control.LeaseInfo
	if err := b.Leases(&ls, "--state", "active"); err != nil {
		t.Fatal(err)
	}
	m := make(map[netip.Addr]control.LeaseInfo, len(ls))
	for _, l := range ls {
		a, err := netip.ParseAddr(l.IP)
		if err != nil {
			t.Fatalf("%s: leases --json: bad ip %q", b.Name, l.IP)
		}
		m[a] = l
	}
	return m
}

// waitOutput is lab.WaitOutput: re in a process's output within d.
func waitOutput(t *testing.T, name string, out *syncBuf, proc *testnet.Proc, re string, d time.Duration) string {
	t.Helper()
	return lab.WaitOutput(t, name, out, proc, re, d)
}

// envCount reads a count knob from the environment: def when name is
// unset or empty, else a number in lo..hi (the test ends, naming the
// variable, on anything else).
func envCount(t *testing.T, name string, def, lo, hi int, what string) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		t.Fatalf("%s=%q: want a number of %s %d–%d", name, s, what, lo, hi)
	}
	return n
}

// hasVIP reports whether the box holds the pair's VIP on eth0.
func (b *pairBox) hasVIP() bool { return lab.HasAddr(b.Host, "eth0", b.vip) }

// waitVIP waits until the VIP is on b alone (other without it) and returns
// how long that took.
func waitVIP(t *testing.T, b, other *pairBox, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for !(b.hasVIP() && !other.hasVIP()) {
		if time.Since(start) > d {
			t.Fatalf("VIP not on %s alone within %v (%s %v, %s %v)", b.Name, d, b.Name, b.hasVIP(), other.Name, other.hasVIP())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// pair is the lab of a hot-standby pair: a LAN switch, two boxes, the sync
// cable between them.
type pair struct {
	net      *testnet.Lab
	lan      string
	pri, sec *pairBox
}

// boxRole is what differs between the two boxes' configs.
type boxRole struct {
	name, role   string // box name, failover.role
	prio         int    // VRRP priority: the primary's is higher and preempts
	listen, peer string // sync addresses
}

var pairRoles = [2]boxRole{
	{"pri", "primary", 200, "198.51.100.1:647", "198.51.100.2:647"},
	{"sec", "secondary", 100, "198.51.100.2:647", "198.51.100.1:647"},
}

// newPairLab builds and starts a pair in a lab whose namespaces start with
// prefix (one per test, so tests can run side by side): the boxes at .2
// (primary) and .3 of lanNet, the VIP at .1, the sync cable on
// 198.51.100.0/24, a fresh PSK; cfg gives a box's config. On failure it
// logs the last tail lines of each box's log (tail 0: all of it). The
// secondary starts first.
func newPairLab(t *testing.T, prefix string, lanNet netip.Prefix, tail int, cfg func(r boxRole, dir, psk string) string) *pair {
	t.Helper()
	lab.Bin.Path(t)
	n := testnet.New(t, prefix)
	p := &pair{net: n, lan: n.Switch("lan")}
	dir := t.TempDir()
	psk := filepath.Join(dir, "peer.key")
	lab.WritePSK(t, psk)
	vip := lanNet.Addr().Next()
	boxes := [2]*pairBox{}
	for i, r := range pairRoles {
		boxes[i] = newPairBox(t, n, dir, r.name, vip.String(), func(d string) string { return cfg(r, d, psk) })
		addr := vip.Next()
		if i == 1 {
			addr = addr.Next()
		}
		boxes[i].Host.Connect(p.lan, "eth0", netip.PrefixFrom(addr, lanNet.Bits()).String())
	}
	p.pri, p.sec = boxes[0], boxes[1]
	n.Cable(p.pri.Host, "sync0", "198.51.100.1/24", p.sec.Host, "sync0", "198.51.100.2/24")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("primary log:\n%s", lab.Tail(p.pri.Log.String(), tail))
			t.Logf("secondary log:\n%s", lab.Tail(p.sec.Log.String(), tail))
		}
	})
	p.sec.Start()
	p.pri.Start()
	return p
}

// pairState is one reading of a pair (poll).
type pairState struct {
	// normal: both boxes in failover NORMAL with the sync link up and the
	// same dhcp: section (config hash), the primary VRRP MASTER holding
	// the VIP alone.
	normal bool
	ready  bool // normal, and the standby owns the BACKUP addresses asked for
	exited bool // a box's hadhcpd ended: no point waiting
	backup int  // the secondary's BACKUP addresses, all pools
	why    string
}

// poll reads both boxes once; ready asks for minBackup BACKUP addresses on
// the secondary (what it serves new clients from after a takeover).
//
// The primary holds the VIP, not "whichever box": the primary has the
// higher VRRP priority and preempts once it is synchronised again, which
// can be a moment after both report NORMAL; a fault injected before that
// would hit the box that is about to become the standby.
func (p *pair) poll(minBackup int) pairState {
	for _, b := range []*pairBox{p.pri, p.sec} {
		if b.Proc.Exited() {
			return pairState{exited: true, why: b.Name + ": hadhcpd exited"}
		}
	}
	sp, errp := p.pri.TryStatus()
	ss, errs := p.sec.TryStatus()
	switch {
	case errp != nil || errs != nil:
		return pairState{why: fmt.Sprintf("status: %v / %v", errp, errs)}
	case sp.Failover == nil || ss.Failover == nil || sp.Failover.State != "NORMAL" || ss.Failover.State != "NORMAL" ||
		!sp.Failover.LinkUp || !ss.Failover.LinkUp:
		return pairState{why: fmt.Sprintf("primary %s, secondary %s", statusLine(sp), statusLine(ss))}
	case sp.Failover.ConfigHash != ss.Failover.ConfigHash:
		return pairState{why: fmt.Sprintf("dhcp: hash primary %.12s, secondary %.12s", sp.Failover.ConfigHash, ss.Failover.ConfigHash)}
	}
	pv, sv := p.pri.hasVIP(), p.sec.hasVIP()
	if !pv || sv || len(sp.VRRP) != 1 || sp.VRRP[0].State != "MASTER" {
		return pairState{why: fmt.Sprintf("VIP on primary %v, secondary %v; vrrp %+v / %+v", pv, sv, sp.VRRP, ss.VRRP)}
	}
	st := pairState{normal: true}
	for _, pl := range ss.Pools {
		st.backup += pl.Backup
	}
	if st.backup < minBackup {
		st.why = fmt.Sprintf("the secondary holds %d BACKUP addresses, want ≥ %d (pools %+v)", st.backup, minBackup, ss.Pools)
		return st
	}
	st.ready = true
	return st
}

// waitNormal polls the pair (poll) until it is ready, bounded by d. It
// returns when the pair was first seen normal (zero: never), the
// secondary's BACKUP count at the last reading, and an error saying what
// was missing when the pair did not get ready.
func (p *pair) waitNormal(d time.Duration, minBackup int) (normalAt time.Time, backup int, err error) {
	deadline := time.Now().Add(d)
	for {
		st := p.poll(minBackup)
		if st.normal && normalAt.IsZero() {
			normalAt = time.Now()
		}
		switch {
		case st.ready:
			return normalAt, st.backup, nil
		case st.exited:
			return normalAt, st.backup, fmt.Errorf("waiting for NORMAL: %s", st.why)
		case time.Now().After(deadline) && normalAt.IsZero():
			return normalAt, st.backup, fmt.Errorf("pair not in NORMAL with the VIP on the primary alone within %v: %s", d, st.why)
		case time.Now().After(deadline):
			return normalAt, st.backup, fmt.Errorf("pair NORMAL, but the standby not ready within %v: %s", d, st.why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// statusLine is a box's failover and VRRP state in one line.
func statusLine(st control.Status) string {
	s := "failover ?"
	if st.Failover != nil {
		s = fmt.Sprintf("failover %s (partner %s, link up %v)", st.Failover.State, st.Failover.PartnerState, st.Failover.LinkUp)
	}
	for _, v := range st.VRRP {
		s += ", vrrp " + v.State
	}
	return s
}

// since is to − from, or "never" when to is zero.
func since(from, to time.Time) string {
	if to.IsZero() {
		return "never"
	}
	return to.Sub(from).Round(time.Millisecond).String()
}

// logEvent is the time of the first log line matching rx after marker
// (zero when there is none or it has no time), and the match's position
// in the log (-1 when there is none).
func logEvent(log, marker string, rx *regexp.Regexp) (time.Time, int) {
	i := strings.Index(log, marker)
	if i < 0 {
		return time.Time{}, -1
	}
	tail := log[i:]
	loc := rx.FindStringIndex(tail)
	if loc == nil {
		return time.Time{}, -1
	}
	ls := strings.LastIndexByte(tail[:loc[0]], '\n') + 1
	line := tail[ls:]
	if j := strings.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	if m := logTimeRx.FindStringSubmatch(line); m != nil {
		if ts, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
			return ts, i + loc[0]
		}
	}
	return time.Time{}, i + loc[0]
}

// The log lines the tests date (agent's slog text format).
var (
	logTimeRx   = regexp.MustCompile(`^time=(\S+) `)
	bindRx      = regexp.MustCompile(`msg="lease bind"`)
	toNormalRx  = regexp.MustCompile(`msg="failover transition".* to=NORMAL`)
	toRecWaitRx = regexp.MustCompile(`msg="failover transition".* to=RECOVER-WAIT`)
	resyncRx    = regexp.MustCompile(`msg="peer resync done"`)
	toMasterRx  = regexp.MustCompile(`msg="vrrp transition".* to=master `)
	transRx     = regexp.MustCompile(`msg="failover transition" .*from=(\S+) to=(\S+)`)
	linkUpRx    = regexp.MustCompile(`msg="peer link up".*partner_acked_seq=(\d+) our_last_seq=(\d+)`)
)

// TestLogEventFinds guards the log reader the catch-up figures come from.
func TestLogEventFinds(t *testing.T) {
	log := "time=2030-01-01T12:00:00.000Z level=INFO msg=\"failover transition\" from=STARTUP to=NORMAL\n" +
		"--- start ---\n" +
		"time=2030-01-01T12:00:01.000Z level=INFO msg=\"peer resync done\" snapshot=true\n" +
		"time=2030-01-01T12:00:02.500Z level=INFO msg=\"failover transition\" from=RECOVER-DONE to=NORMAL reason=x\n"
	ts, pos := logEvent(log, "--- start ---", toNormalRx)
	if want := time.Date(2030, 1, 1, 12, 0, 2, 500e6, time.UTC); !ts.Equal(want) || pos < strings.Index(log, "--- start") {
		t.Errorf("NORMAL after the marker at %v (pos %d), want %v", ts, pos, want)
	}
	rs, rpos := logEvent(log, "--- start ---", resyncRx)
	if rs.IsZero() || rpos >= pos {
		t.Errorf("resync at %v (pos %d), want before NORMAL (pos %d)", rs, rpos, pos)
	}
	if ts, pos := logEvent(log, "--- start ---", toRecWaitRx); !ts.IsZero() || pos >= 0 {
		t.Errorf("RECOVER-WAIT found at %v (%d) in a log without one", ts, pos)
	}
	if ts, _ := logEvent(log, "--- absent ---", toNormalRx); !ts.IsZero() {
		t.Error("found an event after a marker that is not in the log")
	}
	waited := log + "time=2030-01-01T12:00:03Z level=INFO msg=\"failover transition\" from=RECOVER to=RECOVER-WAIT reason=y\n" +
		"time=2030-01-01T12:00:04Z level=INFO msg=\"vrrp transition\" vrid=53 from=backup to=master reason=z\n"
	if ts, _ := logEvent(waited, "--- start ---", toRecWaitRx); ts.IsZero() {
		t.Error("RECOVER-WAIT not found")
	}
	if _, mpos := logEvent(waited, "--- start ---", toMasterRx); mpos < rpos {
		t.Errorf("MASTER transition at %d, want after the resync at %d", mpos, rpos)
	}
}

// bothDBs is the findings of a check of the primary's database (vp) and
// the secondary's (vs) together; duplicates come from the ACKs alone, so
// they are taken once.
func bothDBs(vp, vs crashViolation) crashViolation {
	return crashViolation{lost: slices.Concat(vp.lost, vs.lost), dups: vp.dups}
}

// crashCheck is checkCrash of acks against both databases.
func crashCheck(acks []crashAck) func(pri, sec map[netip.Addr]control.LeaseInfo, now time.Time) crashViolation {
	return func(pri, sec map[netip.Addr]control.LeaseInfo, now time.Time) crashViolation {
		return bothDBs(checkCrash(acks, pri, "primary", now), checkCrash(acks, sec, "secondary", now))
	}
}

// convergence is the last reading of converge.
type convergence struct {
	v        crashViolation
	diff     []string // pairsDiff of the two databases
	pri, sec map[netip.Addr]control.LeaseInfo
	at       time.Time // the reading without findings; zero: none within the bound
}

// converge re-reads both databases until check finds no lost lease and they
// hold the same active (address, client) pairs, or d passes (at least one
// reading): a box reports NORMAL on its own and a copy takes a moment to
// read, so the last replicated records may still be on their way.
// Duplicates do not heal with time: the caller reports those of the last
// reading either way.
func (p *pair) converge(t *testing.T, d time.Duration, check func(pri, sec map[netip.Addr]control.LeaseInfo, now time.Time) crashViolation) convergence {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		now := time.Now()
		c := convergence{pri: activeLeases(t, p.pri), sec: activeLeases(t, p.sec)}
		c.v = check(c.pri, c.sec, now)
		c.diff = pairsDiff(activePairs(c.pri), activePairs(c.sec))
		if len(c.v.lost) == 0 && len(c.diff) == 0 {
			c.at = now
			return c
		}
		if now.After(deadline) {
			return c
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// reportLines fails the test with each line under label, at most 20 (the
// rest counted).
func reportLines(t *testing.T, label string, lines []string) {
	t.Helper()
	for i, l := range lines {
		if i == 20 {
			t.Errorf("%s: … %d more", label, len(lines)-i)
			return
		}
		t.Errorf("%s: %s", label, l)
	}
}

// reportViolations fails the test with each broken invariant; lost names
// the kind of the lost lines.
func reportViolations(t *testing.T, lost string, v crashViolation) {
	t.Helper()
	reportLines(t, lost, v.lost)
	reportLines(t, "duplicate (invariant 1)", v.dups)
}
