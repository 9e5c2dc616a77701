package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/agent"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// Rejoin after many leases (issue 8, point 3): the primary of a ready pair
// is lost (box loss: cables down, then SIGKILL), the secondary takes the
// VIP and gives out N leases alone under a new-client load as fast as it
// takes them, then the primary comes back on its own state dir while the
// load goes on. What it must show:
//
//   - the catch-up time: from the primary's start to its NORMAL, and to
//     the resync that makes its database complete (its log dates both);
//   - the secondary's DORA/s while it served alone and during the
//     catch-up (the paged snapshot or the resumed stream must not stall it);
//   - no RECOVER-WAIT: every record the primary wrote was acknowledged by
//     the secondary before its ACK left (invariant 2), so the sequence
//     numbers prove the secondary has them and the MCLT wait is skipped
//     (DESIGN.md "Recovery");
//   - the VIP moves back only once the primary is in sync (invariant 3): the
//     VIP is sampled every rejoinSample; at the first sample on the primary
//     the secondary's database is read, then the primary's, and every
//     lease active in the first must be active for the same client in the
//     second; the primary's log must date the resync before its VRRP
//     MASTER transition;
//   - afterwards both databases hold the same active lease set and every
//     ACKed lease.
//
// N is HADHCPD_REJOIN_LEASES (default rejoinDefault, for `make test`; the
// issue's figure is 100000).

// rejoinPairConfig is a pair on a /15 (131,056 addresses in 64 ranges of
// 2,048: the pool balancer moves at most 256 addresses per range and
// second, so the standby gets a 100k share in seconds, not minutes). The
// secondary holds 95 % as BACKUP: alone it allocates only those (agent
// BUG: in PARTNER-DOWN it does not use the primary's FREE ones either).
// Info logs: a debug line per commit would be 100k lines in memory.
const rejoinPairConfig = `node:
  name: %[1]s
  state_dir: %[2]s/state
  control_socket: %[2]s/ctl.sock
  log_level: info
vrrp:
  instances:
    - name: lan
      interface: eth0
      vrid: 53
      priority: %[3]d
      advert_interval: 100ms
      virtual_ips: [198.18.0.1/15]
dhcp:
  interfaces: [eth0]
  default_lease_time: 1h
  min_lease_time: 10s
  subnets:
    - subnet: 198.18.0.0/15
      options: {routers: [198.18.0.1]}
      pools:
%[8]sfailover:
  role: %[4]s
  listen: %[5]s
  peer: %[6]s
  vrrp_instance: lan
  max_response_delay: 3s
  standby_share: 95%%
  auth: {psk_file: %[7]s}
`

// Knobs of the rejoin test.
const (
	rejoinDefault = 3000
	rejoinWorkers = 96 // closed-loop clients: as fast as the standby answers
	rejoinSample  = 20 * time.Millisecond
	rejoinPreLoad = time.Second // the primary gives out leases before its loss
)

// rejoinPools is the YAML list of rejoinPairConfig's ranges: 198.18.0.16
// up to 198.19.255.254, in 64 ranges (the box and VIP addresses below .16
// stay out).
func rejoinPools() (string, int) {
	var b strings.Builder
	total := 0
	base := uint32(198)<<24 | uint32(18)<<16
	for i := range uint32(64) {
		lo, hi := base+i*2048, base+i*2048+2047
		if i == 0 {
			lo += 16
		}
		if i == 63 {
			hi-- // 198.19.255.255 is the subnet's broadcast address
		}
		fmt.Fprintf(&b, "        - {range: %s-%s}\n", u32Addr(lo), u32Addr(hi))
		total += int(hi - lo + 1)
	}
	return b.String(), total
}

func u32Addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// rejoinLeases is HADHCPD_REJOIN_LEASES.
func rejoinLeases(t *testing.T) int {
	s := os.Getenv("HADHCPD_REJOIN_LEASES")
	if s == "" {
		return rejoinDefault
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 110000 {
		t.Fatalf("HADHCPD_REJOIN_LEASES=%q: want a number of leases 100–110000 (the pool has ~131k addresses)", s)
	}
	return n
}

// newRejoinPair is newLoadPair with rejoinPairConfig.
func newRejoinPair(t *testing.T) (*crashPair, int) {
	t.Helper()
	binary(t)
	n := testnet.New(t, "hdr")
	lan := n.Switch("lan")
	p := &crashPair{net: n, lan: lan}
	dir := t.TempDir()
	psk := make([]byte, 48)
	if _, err := rand.Read(psk); err != nil {
		t.Fatal(err)
	}
	pskFile := filepath.Join(dir, "peer.key")
	if err := os.WriteFile(pskFile, psk, 0o600); err != nil {
		t.Fatal(err)
	}
	pools, total := rejoinPools()
	mk := func(name, role, lanAddr, listen, peer string, prio int) *pairBox {
		b := &pairBox{t: t, name: name, host: n.Host(name), dir: filepath.Join(dir, name), log: &syncBuf{}}
		b.host.Connect(lan, "eth0", lanAddr)
		if err := os.MkdirAll(b.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		b.cfg = filepath.Join(b.dir, "hadhcpd.yaml")
		c := fmt.Sprintf(rejoinPairConfig, name, b.dir, prio, role, listen, peer, pskFile, pools)
		if err := os.WriteFile(b.cfg, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(binary(t), "check-config", "-c", b.cfg).CombinedOutput(); err != nil {
			t.Fatalf("check-config %s: %v\n%s", name, err, out)
		}
		return b
	}
	p.pri = mk("pri", "primary", "198.18.0.2/15", "198.51.100.1:647", "198.51.100.2:647", 200)
	p.sec = mk("sec", "secondary", "198.18.0.3/15", "198.51.100.2:647", "198.51.100.1:647", 100)
	n.Cable(p.pri.host, "sync0", "198.51.100.1/24", p.sec.host, "sync0", "198.51.100.2/24")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("primary log (tail):\n%s", logTail(p.pri.log.String(), 150))
			t.Logf("secondary log (tail):\n%s", logTail(p.sec.log.String(), 150))
		}
	})
	crashStart(p.sec)
	crashStart(p.pri)
	return p, total
}

// rejoinReady waits (bounded) for both boxes in NORMAL, the VIP on the
// primary alone, and at least need BACKUP addresses on the secondary; it
// returns the secondary's BACKUP count.
func rejoinReady(t *testing.T, p *crashPair, need int, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		for _, b := range []*pairBox{p.pri, p.sec} {
			if b.proc.Exited() {
				t.Fatalf("%s: hadhcpd exited while waiting for NORMAL", b.name)
			}
		}
		sp, errp := tryStatus(p.pri)
		ss, errs := tryStatus(p.sec)
		pv, sv := crashHasVIP(p.pri), crashHasVIP(p.sec)
		backup := 0
		for _, pl := range ss.Pools {
			backup += pl.Backup
		}
		switch {
		case errp != nil || errs != nil:
			last = fmt.Sprintf("status: %v / %v", errp, errs)
		case sp.Failover == nil || ss.Failover == nil || sp.Failover.State != "NORMAL" || ss.Failover.State != "NORMAL":
			last = fmt.Sprintf("primary %s, secondary %s", statusLine(sp), statusLine(ss))
		case !pv || sv:
			last = fmt.Sprintf("VIP on primary %v, secondary %v", pv, sv)
		case backup < need:
			last = fmt.Sprintf("secondary holds %d BACKUP addresses, want ≥ %d", backup, need)
		default:
			return backup
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("pair not ready within %v: %s", d, last)
	return 0
}

// flood runs rejoinWorkers closed-loop clients: each starts a new client's
// DORA (loadClient.dora: one retry) as soon as its last one ended, until
// ctx ends or the counter next reaches limit. Client n has chaddr
// 02:dd:00:nn:nn:nn; a client's ACK is recorded with round = phase (read
// when it starts). It returns the number of clients started.
func flood(ctx context.Context, c *loadClient, phase *atomic.Int32, next *atomic.Int64, limit int64) int64 {
	var wg sync.WaitGroup
	var started atomic.Int64
	for range rejoinWorkers {
		wg.Go(func() {
			for ctx.Err() == nil {
				n := next.Add(1) - 1
				if n >= limit {
					return
				}
				started.Add(1)
				hw := net.HardwareAddr{0x02, 0xdd, 0, byte(n >> 16), byte(n >> 8), byte(n)}
				c.dora(int(phase.Load()), hw)
			}
		})
	}
	wg.Wait()
	return started.Load()
}

// acksSince counts the ACKs received at or after from (and before to, when
// it is set).
func acksSince(c *loadClient, from, to time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, a := range c.acks {
		if !a.at.Before(from) && (to.IsZero() || a.at.Before(to)) {
			n++
		}
	}
	return n
}

// logEvent is the time of the first log line matching rx after marker
// (zero when there is none), and the line's position in the log.
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

var (
	logTimeRx   = regexp.MustCompile(`^time=(\S+) `)
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

// activeCount is the number of active leases a running box reports in
// `hadhcpd status` (its pools' counters: no database copy to read).
func activeCount(t *testing.T, b *pairBox) int {
	t.Helper()
	st, err := tryStatus(b)
	if err != nil {
		t.Fatalf("%s: status: %v", b.name, err)
	}
	n := 0
	for _, pl := range st.Pools {
		n += pl.Active
	}
	return n
}

// missingIn lists the (address, client) pairs active in from that are not
// active for the same client in to.
func missingIn(from, to map[netip.Addr]agent.LeaseInfo) []string {
	var out []string
	for a, l := range from {
		if m, ok := to[a]; !ok || !strings.EqualFold(m.HWAddr, l.HWAddr) {
			out = append(out, fmt.Sprintf("%s (%s)", a, l.HWAddr))
		}
	}
	return out
}

// TestIntegrationFailoverRejoin: see the top of this file.
func TestIntegrationFailoverRejoin(t *testing.T) {
	n := rejoinLeases(t)
	p, pool := newRejoinPair(t)
	cl := p.net.Host("cl")
	cl.Connect(p.lan, "eth0")
	load := newLoadClient(t, cl)

	// The secondary must hold N BACKUP addresses, and some to go on
	// serving during the catch-up.
	need := n + max(5000, n/10)
	readyWait := 90*time.Second + time.Duration(need)*time.Millisecond
	backup := rejoinReady(t, p, need, readyWait)
	t.Logf("pair ready: %d addresses in the pool, the secondary holds %d as BACKUP; N = %d", pool, backup, n)

	var (
		phase atomic.Int32
		next  atomic.Int64
	)
	// The primary gives out leases first (its records must be proven
	// known to the secondary when it returns); the load stops before the
	// loss so no record of its own is in flight then.
	ctx, cancel := context.WithTimeout(context.Background(), rejoinPreLoad)
	pre := flood(ctx, load, &phase, &next, 1<<24)
	cancel()
	preAcks := acksSince(load, time.Time{}, time.Time{})
	if preAcks == 0 {
		t.Fatalf("no ACK from the primary in %v (%d clients started): the load client did not work", rejoinPreLoad, pre)
	}

	// Box loss of the primary: cables first, so no FIN leaves (PEERS.md).
	killAt := time.Now()
	p.pri.host.MustIP("link", "set", "eth0", "down")
	p.pri.host.MustIP("link", "set", "sync0", "down")
	if err := p.pri.proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if exited, _ := p.pri.proc.Wait(10 * time.Second); !exited {
		t.Fatal("primary did not die of SIGKILL within 10s")
	}
	for !crashHasVIP(p.sec) {
		if time.Since(killAt) > 10*time.Second {
			t.Fatal("the secondary did not take the VIP within 10s of the primary's loss")
		}
		time.Sleep(rejoinSample)
	}
	takeover := time.Since(killAt)

	// Alone: N leases as fast as the secondary gives them. The load then
	// goes on through the catch-up, bounded by the BACKUP addresses left.
	phase.Store(1)
	aloneAt := time.Now()
	lctx, lcancel := context.WithCancel(context.Background())
	defer lcancel()
	done := make(chan int64, 1)
	go func() { done <- flood(lctx, load, &phase, &next, next.Load()+int64(backup)-1000) }()
	aloneDeadline := aloneAt.Add(60*time.Second + time.Duration(n)*5*time.Millisecond)
	for acksSince(load, aloneAt, time.Time{}) < n {
		if time.Now().After(aloneDeadline) {
			t.Fatalf("the secondary gave %d of %d leases within %v", acksSince(load, aloneAt, time.Time{}), n, time.Since(aloneAt).Round(time.Second))
		}
		select {
		case <-done:
			t.Fatalf("the load ended after %d of %d leases (BACKUP exhausted?)", acksSince(load, aloneAt, time.Time{}), n)
		case <-time.After(50 * time.Millisecond):
		}
	}

	// The primary returns on its own state dir. Its stale VIP goes first,
	// as systemd's ExecStopPost (`hadhcpd cleanup`) does after a crash,
	// so a VIP seen on it later is one it took.
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	out, err := p.pri.host.Output(ctx, binary(t), "cleanup", "-c", p.pri.cfg)
	cancel()
	if err != nil {
		t.Fatalf("hadhcpd cleanup on the primary: %v\n%s", err, out)
	}
	if crashHasVIP(p.pri) {
		t.Fatal("the primary still holds the VIP after hadhcpd cleanup")
	}
	p.pri.host.MustIP("link", "set", "eth0", "up")
	p.pri.host.MustIP("link", "set", "sync0", "up")
	phase.Store(2)
	restartAt := time.Now()
	marker := fmt.Sprintf("--- start %s ---", restartAt.Format(time.RFC3339Nano))
	_, _ = fmt.Fprintln(p.pri.log, marker)
	p.pri.proc = p.pri.host.Start(p.pri.log, binary(t), "run", "-c", p.pri.cfg)
	alone := acksSince(load, aloneAt, restartAt)

	// Sample the VIP until the primary takes it back.
	var vipAt time.Time
	vipDeadline := restartAt.Add(60*time.Second + time.Duration(n)*time.Millisecond)
	for vipAt.IsZero() {
		switch {
		case crashHasVIP(p.pri):
			vipAt = time.Now()
			continue
		case p.pri.proc.Exited():
			t.Fatal("the primary exited during its catch-up")
		case time.Now().After(vipDeadline):
			t.Fatalf("the primary did not take the VIP back within %v of its start", vipDeadline.Sub(restartAt))
		}
		time.Sleep(rejoinSample)
	}
	// At once, the quick look: the running boxes' own counts of active
	// leases (`status`, tens of ms), the secondary's first: the primary
	// must have at least as many. Then the primary's database (a copy of its files taken a few
	// ms after the VIP was seen) must hold every lease ACKed before; then
	// the secondary's, then the primary's again: everything the secondary
	// had at its read must be in the primary's by the next (the primary
	// commits first when it serves, and the secondary replicated
	// synchronously before). The primary's log below dates the resync
	// before the VRRP MASTER transition, which needs no read at all.
	lcancel()
	secCount, priCount := activeCount(t, p.sec), activeCount(t, p.pri)
	priFirst := activeLeases(t, p.pri)
	secAt := activeLeases(t, p.sec)
	priAt := activeLeases(t, p.pri)
	readTook := time.Since(vipAt)
	missing := missingIn(secAt, priAt)
	catchup := acksSince(load, restartAt, vipAt)
	started := <-done
	load.mu.Lock()
	failed := load.failed
	load.mu.Unlock()

	priLog := p.pri.log.String()
	normalAt, _ := logEvent(priLog, marker, toNormalRx)
	resyncAt, resyncPos := logEvent(priLog, marker, resyncRx)
	masterAt, masterPos := logEvent(priLog, marker, toMasterRx)
	waitAt, _ := logEvent(priLog, marker, toRecWaitRx)
	var path []string
	if i := strings.Index(priLog, marker); i >= 0 {
		for _, m := range transRx.FindAllStringSubmatch(priLog[i:], -1) {
			if len(path) == 0 {
				path = append(path, m[1])
			}
			path = append(path, m[2])
		}
	}
	seqs := "?"
	if i := strings.Index(priLog, marker); i >= 0 {
		if m := linkUpRx.FindStringSubmatch(priLog[i:]); m != nil {
			seqs = fmt.Sprintf("partner acked %s of our last %s", m[1], m[2])
		}
	}
	aloneDur := restartAt.Sub(aloneAt)
	catchDur := vipAt.Sub(restartAt)
	t.Logf("primary lost (box loss) after %d leases of its own; secondary took the VIP in %v and gave %d leases alone in %v: %.0f DORA/s",
		preAcks, takeover.Round(time.Millisecond), alone, aloneDur.Round(time.Millisecond), float64(alone)/aloneDur.Seconds())
	t.Logf("primary's return: resync done %s, NORMAL %s, VRRP MASTER %s, VIP seen %v after its start; states %s; %s",
		since(restartAt, resyncAt), since(restartAt, normalAt), since(restartAt, masterAt), catchDur.Round(time.Millisecond),
		strings.Join(path, " → "), seqs)
	t.Logf("secondary during the catch-up: %d ACKs in %v: %.0f DORA/s (alone: %.0f DORA/s); %d clients started in all, %d without an ACK",
		catchup, catchDur.Round(time.Millisecond), float64(catchup)/catchDur.Seconds(), float64(alone)/aloneDur.Seconds(), started, failed)
	t.Logf("at the VIP's return: status counts secondary %d, primary %d active; databases: primary %d active, then secondary %d, then primary %d (read within %v): %d of the secondary's missing on the primary",
		secCount, priCount, len(priFirst), len(secAt), len(priAt), readTook.Round(time.Millisecond), len(missing))

	if alone < n {
		t.Errorf("the secondary gave %d leases alone, want %d", alone, n)
	}
	if !waitAt.IsZero() {
		t.Errorf("the primary waited in RECOVER-WAIT (at %s) although every record of its own was acknowledged (%s)", since(restartAt, waitAt), seqs)
	}
	if normalAt.IsZero() {
		t.Error("the primary logged no transition to NORMAL after its start")
	}
	if resyncAt.IsZero() || masterAt.IsZero() || resyncPos > masterPos {
		t.Errorf("the primary's log does not date its resync (%v) before its VRRP MASTER transition (%v)", resyncAt, masterAt)
	}
	for i, m := range missing {
		if i == 20 {
			t.Errorf("… %d more", len(missing)-i)
			break
		}
		t.Errorf("VIP on the primary while it lacked %s, active on the secondary (invariant 3)", m)
	}
	if priCount < secCount {
		t.Errorf("VIP on the primary while it counted %d active leases, the secondary %d just before (invariant 3)", priCount, secCount)
	}
	if catchup == 0 {
		t.Error("the secondary ACKed nothing while the primary caught up: serving stalled")
	}
	load.mu.Lock()
	acks := append([]crashAck(nil), load.acks...)
	load.mu.Unlock()
	var beforeVIP []crashAck
	for _, a := range acks {
		if a.at.Before(vipAt) {
			beforeVIP = append(beforeVIP, a)
		}
	}
	v := checkCrash(beforeVIP, priFirst, time.Now())
	for i, l := range v.lost {
		if i == 20 {
			t.Errorf("… %d more", len(v.lost)-i)
			break
		}
		t.Errorf("ACKed before the VIP's return, not in the primary's database at it (invariant 3): %s", l)
	}

	// Afterwards: the same active pairs in both databases, every ACK in
	// both, no address given twice (re-read until then, bounded).
	var (
		diff   []string
		vp, vs crashViolation
	)
	deadline := time.Now().Add(60 * time.Second)
	for {
		now := time.Now()
		pl, sl := activeLeases(t, p.pri), activeLeases(t, p.sec)
		vp, vs = checkCrash(acks, pl, now), checkCrash(acks, sl, now)
		diff = pairsDiff(activePairs(pl), activePairs(sl))
		if len(vp.lost)+len(vs.lost)+len(diff) == 0 || now.After(deadline) {
			t.Logf("afterwards: %d ACKs checked; primary %d active, secondary %d active; lost on the primary %d, on the secondary %d; pairs differing %d; duplicates %d",
				len(acks), len(pl), len(sl), len(vp.lost), len(vs.lost), len(diff), len(vp.dups))
			break
		}
		time.Sleep(time.Second)
	}
	reportViolations(t, crashViolation{lost: append(prefixed("primary: ", vp.lost), prefixed("secondary: ", vs.lost)...), dups: vp.dups})
	for i, d := range diff {
		if i == 20 {
			t.Errorf("… %d more", len(diff)-i)
			break
		}
		t.Errorf("active pairs differ: %s", d)
	}
}

func prefixed(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}
