package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/control"
)

// Rejoin after many leases (`make rejoin`): the primary of a ready pair
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
//     (no RECOVER-WAIT when sequence numbers prove nothing is missing);
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

// rejoinSpec is a pair on a /15 (131,056 addresses in 64 ranges of 2,048:
// the pool balancer moves at most 256 addresses per range and second, so
// the standby gets a 100k share in seconds, not minutes). The secondary
// holds 95 % as BACKUP: alone it allocates only those (agent BUG: in
// PARTNER-DOWN it does not use the primary's FREE ones either). Info logs:
// a debug line per commit would be 100k lines in memory. It returns the
// number of addresses too.
func rejoinSpec() (loadSpec, int) {
	pools, total := rejoinPools()
	return loadSpec{bits: 15, logLevel: "info", pools: pools, failover: "  standby_share: 95%\n"}, total
}

// Knobs of the rejoin test.
const (
	rejoinDefault = 3000
	rejoinWorkers = 96 // closed-loop clients: as fast as the standby answers
	rejoinSample  = 20 * time.Millisecond
	rejoinPreLoad = time.Second // the primary gives out leases before its loss
)

// rejoinPools is the YAML list of rejoinSpec's ranges: 198.18.0.16
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

// activeCount is the number of active leases a running box reports in
// `hadhcpd status` (its pools' counters: no database copy to read).
func activeCount(t *testing.T, b *pairBox) int {
	t.Helper()
	st, err := b.TryStatus()
	if err != nil {
		t.Fatalf("%s: status: %v", b.Name, err)
	}
	n := 0
	for _, pl := range st.Pools {
		n += pl.Active
	}
	return n
}

// missingIn lists the (address, client) pairs active in from that are not
// active for the same client in to.
func missingIn(from, to map[netip.Addr]control.LeaseInfo) []string {
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
	// HADHCPD_REJOIN_LEASES: at most 110000 of the pool's ~131k addresses.
	n := envCount(t, "HADHCPD_REJOIN_LEASES", rejoinDefault, 100, 110000, "leases")
	spec, pool := rejoinSpec()
	p := newLoadPair(t, "hdr", spec)
	cl := p.net.Host("cl")
	cl.Connect(p.lan, "eth0")
	load := newLoadClient(t, cl)

	// The secondary must hold N BACKUP addresses, and some to go on
	// serving during the catch-up.
	need := n + max(5000, n/10)
	readyWait := 90*time.Second + time.Duration(need)*time.Millisecond
	_, backup, err := p.waitNormal(readyWait, need)
	if err != nil {
		t.Fatal(err)
	}
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
	p.pri.links("down")
	p.pri.Kill(syscall.SIGKILL, 10*time.Second)
	for !p.sec.hasVIP() {
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
	out, err := p.pri.Host.Output(ctx, binary(t), "cleanup", "-c", p.pri.Cfg)
	cancel()
	if err != nil {
		t.Fatalf("hadhcpd cleanup on the primary: %v\n%s", err, out)
	}
	if p.pri.hasVIP() {
		t.Fatal("the primary still holds the VIP after hadhcpd cleanup")
	}
	p.pri.links("up")
	phase.Store(2)
	restartAt := time.Now()
	marker := p.pri.Start()
	alone := acksSince(load, aloneAt, restartAt)

	// Sample the VIP until the primary takes it back.
	var vipAt time.Time
	vipDeadline := restartAt.Add(60*time.Second + time.Duration(n)*time.Millisecond)
	for vipAt.IsZero() {
		switch {
		case p.pri.hasVIP():
			vipAt = time.Now()
			continue
		case p.pri.Proc.Exited():
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

	priLog := p.pri.Log.String()
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
	reportLines(t, "VIP on the primary while it lacked this lease, active on the secondary (invariant 3)", missing)
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
	v := checkCrash(beforeVIP, priFirst, "primary", time.Now())
	reportLines(t, "ACKed before the VIP's return, not in the primary's database at it (invariant 3)", v.lost)

	// Afterwards: the same active pairs in both databases, every ACK in
	// both, no address given twice.
	c := p.converge(t, 60*time.Second, crashCheck(acks))
	t.Logf("afterwards: %d ACKs checked; primary %d active, secondary %d active; lost %d; pairs differing %d; duplicates %d",
		len(acks), len(c.pri), len(c.sec), len(c.v.lost), len(c.diff), len(c.v.dups))
	reportViolations(t, "lost (invariant 2)", c.v)
	reportLines(t, "active pairs differ", c.diff)
}
