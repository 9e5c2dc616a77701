package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/hadhcpd/hadhcpd/control"
)

// Chaos (`make chaos`): a hot-standby pair under a steady
// mix of new clients and INIT-REBOOT renewals takes one randomly chosen
// fault after another — SIGKILL of either box, its LAN link (eth0) or the
// sync cable (sync0) down and up, box loss (both links down, then SIGKILL:
// PEERS.md), a graceful restart (SIGTERM, start again), a maintenance
// handover (`maintenance start`, `stop`), a reload of the primary's dhcp:
// section (SIGHUP). After each fault and its repair the pair must be back
// in NORMAL, and then the pair's invariants are checked against what every
// client was told and against both lease databases:
//
//   - invariant 1: no address ACKed to two clients with overlapping lease
//     intervals, whichever box sent the ACKs;
//   - invariant 2: every unexpired ACKed lease is ACTIVE for its client in
//     BOTH databases, and neither database ends it before the last ACK told
//     the client (a box that thinks a lease ends early may hand it out
//     again: invariant 1 later);
//   - both databases hold the same (address, client) ACTIVE set, both boxes
//     run the same dhcp: section (config sync), and exactly one box (the
//     primary, which has the higher priority and preempts) holds the VIP.
//
// HADHCPD_CHAOS_N sets the number of faults (default chaosDefaultN, so
// `go test ./...` runs a short version); HADHCPD_CHAOS_SEED replays a run's
// schedule (kinds, targets, durations). The timing of a real pair under a
// shared CPU is not replayable, only the schedule.

// chaosPrefix is this test's namespace prefix (testnet.New).
const chaosPrefix = "hdx"

// Fault kinds.
const (
	chaosKill9    = "kill9"       // SIGKILL of one box; the kernel sends the FIN
	chaosLinkLAN  = "link-eth0"   // one box's LAN link down for hold
	chaosLinkSync = "link-sync0"  // one end of the sync cable down for hold
	chaosBoxLoss  = "boxloss"     // both links down, SIGKILL: nothing leaves
	chaosRestart  = "restart"     // SIGTERM, wait for the exit, start again
	chaosMaint    = "maintenance" // primary: maintenance start, hold, stop
	chaosReload   = "reload"      // primary: dhcp.default_lease_time changed, SIGHUP
)

// chaosKinds lists every kind; the schedule deals them like a shuffled
// deck, so every window of len(chaosKinds) faults holds each kind once and
// a short run still covers several kinds.
var chaosKinds = []string{chaosKill9, chaosLinkLAN, chaosLinkSync, chaosBoxLoss, chaosRestart, chaosMaint, chaosReload}

// Knobs.
const (
	chaosDefaultN = 4
	chaosMaxN     = 1000
	// chaosRate is exchanges started per second: new clients (DORA) and
	// renewals of clients already served (INIT-REBOOT, RFC 2131 §4.3.2),
	// half and half while the fault's budget of new clients lasts.
	chaosRate = 50
	// chaosPoolShare of crashPool is spent on new clients over a whole run
	// (1 h leases never expire within it), split evenly across faults, so
	// a long run never drains the pool.
	chaosPoolShare = 0.6
	// Lead (load before the fault) and hold (how long a fault lasts before
	// its repair) are drawn in these ranges. Holds above the pair's
	// max_response_delay (3 s) let a silent sync cut or a box loss be seen
	// by the heartbeat timeout; shorter ones only stall replication.
	chaosLeadMin, chaosLeadMax = 500 * time.Millisecond, 2 * time.Second
	chaosHoldMin, chaosHoldMax = 500 * time.Millisecond, 5 * time.Second
	// chaosRenewEvery is the least time between two reboots of one
	// client (a real client's INIT-REBOOT comes with its reboot).
	chaosRenewEvery = time.Second
	// chaosTail is load kept on the healed pair before the check.
	chaosTail = time.Second
	// Bounds: generous for a loaded 2-core machine, never open-ended.
	chaosNormalWait   = 120 * time.Second // repair → NORMAL, one VIP, standby ready
	chaosConvergeWait = 30 * time.Second  // load stopped → databases agree
	chaosExitWait     = 15 * time.Second  // SIGKILL/SIGTERM → process gone
	// chaosMinBackup is what the standby must own as BACKUP before the next
	// fault: chaosRate × (hold + takeover) new clients at most are served
	// from it while the primary is gone.
	chaosMinBackup = 300
	// chaosExpirySlack allows for the time between the server computing a
	// lease's end and the client receiving the ACK (the client's expiry is
	// receive time + lease time).
	chaosExpirySlack = 5 * time.Second
)

// chaosFault is one scheduled fault.
type chaosFault struct {
	kind   string
	target int // 0 primary, 1 secondary; maintenance and reload: always 0
	lead   time.Duration
	hold   time.Duration
}

// chaosSchedule deals n faults from seed: kinds from a reshuffled deck,
// targets and durations drawn uniformly. Pure: one seed, one schedule.
func chaosSchedule(seed uint64, n int) []chaosFault { return chaosDeal(seed, n, chaosKinds) }

// chaosDeal is chaosSchedule over the deck kinds.
func chaosDeal(seed uint64, n int, kinds []string) []chaosFault {
	rng := mrand.New(mrand.NewPCG(seed, 0x6861646863706478)) // "hadhcpdx"
	var deck []string
	between := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	out := make([]chaosFault, 0, n)
	for range n {
		if len(deck) == 0 {
			deck = slices.Clone(kinds)
			rng.Shuffle(len(deck), func(i, j int) { deck[i], deck[j] = deck[j], deck[i] })
		}
		f := chaosFault{kind: deck[0], target: rng.IntN(2)}
		deck = deck[1:]
		if f.kind == chaosMaint || f.kind == chaosReload {
			f.target = 0 // the primary's operations
		}
		f.lead = between(chaosLeadMin, chaosLeadMax).Round(time.Millisecond)
		f.hold = between(chaosHoldMin, chaosHoldMax).Round(time.Millisecond)
		out = append(out, f)
	}
	return out
}

// chaosViolations lists broken invariants, one line each.
type chaosViolations struct {
	lost  []string // unexpired ACKed lease not ACTIVE for its client on a box
	early []string // ACTIVE for its client, but ends before the last ACK said
	dups  []string // one address ACKed to two clients at overlapping times
	diff  []string // (address, client) ACTIVE on one box only
	vip   []string // not exactly one VIP holder
}

func (v chaosViolations) count() int {
	return len(v.lost) + len(v.early) + len(v.dups) + len(v.diff) + len(v.vip)
}

// converging reports whether the only violations are ones that replication
// still under way may clear (not duplicates, not the VIP).
func (v chaosViolations) converging() bool { return len(v.dups) == 0 && len(v.vip) == 0 }

// checkChaos checks every ACK so far against both boxes' ACTIVE leases and
// against each other, and the VIP holders (pv, sv: primary, secondary).
func checkChaos(acks []crashAck, pri, sec map[netip.Addr]control.LeaseInfo, pv, sv bool, now time.Time) chaosViolations {
	var v chaosViolations
	// Lost on either box, and duplicates (checkCrash's rules).
	vc := crashCheck(acks)(pri, sec, now)
	v.lost, v.dups = vc.lost, vc.dups
	// Early end: the last ACK of each (address, client) is what the client
	// holds now (a renewal may shorten a lease, RFC 2131 §4.3.2).
	type key struct {
		ip netip.Addr
		hw string
	}
	last := map[key]crashAck{}
	for _, a := range acks {
		k := key{a.ip, strings.ToLower(a.hw)}
		if p, ok := last[k]; !ok || a.at.After(p.at) {
			last[k] = a
		}
	}
	keys := make([]key, 0, len(last))
	for k := range last {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return a.ip.Compare(b.ip) })
	for _, k := range keys {
		a := last[k]
		if !a.expiry.After(now) {
			continue
		}
		for _, db := range []struct {
			name string
			ls   map[netip.Addr]control.LeaseInfo
		}{{"primary", pri}, {"secondary", sec}} {
			l, ok := db.ls[k.ip]
			if !ok || strings.ToLower(l.HWAddr) != k.hw {
				continue // reported as lost
			}
			if l.Expiry.Before(a.expiry.Add(-chaosExpirySlack)) {
				v.early = append(v.early, fmt.Sprintf("%s: %s ACKed to %s at %s until %s, the database ends it at %s",
					db.name, k.ip, k.hw, a.at.Format("15:04:05.000"), a.expiry.Format("15:04:05"), l.Expiry.Format("15:04:05")))
			}
		}
	}
	v.diff = pairsDiff(activePairs(pri), activePairs(sec))
	switch {
	case pv && sv:
		v.vip = append(v.vip, "both boxes hold the VIP")
	case !pv && !sv:
		v.vip = append(v.vip, "no box holds the VIP")
	case sv:
		v.vip = append(v.vip, "the secondary holds the VIP in NORMAL (the primary has the higher priority and preempts)")
	}
	return v
}

// chaosPair is the lab plus what the faults need.
type chaosPair struct {
	*pair
}

func (p *chaosPair) box(i int) (b, other *pairBox) {
	if i == 0 {
		return p.pri, p.sec
	}
	return p.sec, p.pri
}

// chaosLoad drives the load client with new clients and renewals.
type chaosLoad struct {
	c *loadClient
	// mu guards the counters below (the run's exchanges update them).
	mu         sync.Mutex
	renewFail  int // renewals with no answer after the retry
	renewNAK   int // renewals NAKed
	started    int
	newClients int
	renewals   int
}

// chaosLoadStats is one fault's load.
type chaosLoadStats struct {
	started, newClients, renewals int
	acks                          int // ACKs received
	unanswered                    int // exchanges with no ACK after the retry (NAKs excluded)
	naks                          int // renewals NAKed
}

// run starts chaosRate exchanges per second until ctx ends, then waits for
// those under way. New client n of fault f has chaddr 02:c4:ff:ff:nn:nn;
// at most budget of them, then only renewals.
func (l *chaosLoad) run(ctx context.Context, fault, budget int, seed uint64) chaosLoadStats {
	rng := mrand.New(mrand.NewPCG(seed, uint64(fault)))
	l.c.mu.Lock()
	acks0, failed0 := len(l.c.acks), l.c.failed
	l.c.mu.Unlock()
	l.mu.Lock()
	l.renewFail, l.renewNAK, l.started, l.newClients, l.renewals = 0, 0, 0, 0, 0
	l.mu.Unlock()

	tick := time.NewTicker(time.Second / chaosRate)
	defer tick.Stop()
	sem := make(chan struct{}, crashMaxInFlight)
	var wg sync.WaitGroup
	n := 0
	renewedAt := map[string]time.Time{} // by chaddr: when it last rebooted
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			continue // the pair is not answering: do not pile up
		}
		l.c.mu.Lock()
		var old crashAck
		if k := len(l.c.acks); k > 0 {
			old = l.c.acks[rng.IntN(k)]
		}
		l.c.mu.Unlock()
		renew := old.ip.IsValid() && (n >= budget || rng.IntN(2) == 0)
		if renew {
			// A client reboots now and then, not many times a second:
			// early in a run the few clients served would otherwise be
			// drawn again and again, and the servers' per-client rate
			// (dhcpd.Limits) rightly refuses such a client.
			if last, ok := renewedAt[old.hw]; ok && time.Since(last) < chaosRenewEvery {
				renew = false
			} else {
				renewedAt[old.hw] = time.Now()
			}
		}
		var hw net.HardwareAddr
		switch {
		case renew:
			var err error
			if hw, err = net.ParseMAC(old.hw); err != nil {
				<-sem
				continue
			}
		case n >= budget:
			<-sem
			continue
		default:
			hw = net.HardwareAddr{0x02, 0xc4, byte(fault >> 8), byte(fault), byte(n >> 8), byte(n)}
			n++
		}
		l.mu.Lock()
		l.started++
		if renew {
			l.renewals++
		} else {
			l.newClients++
		}
		l.mu.Unlock()
		wg.Go(func() {
			defer func() { <-sem }()
			if renew {
				l.renew(fault, hw, old.ip)
			} else {
				l.c.dora(fault, hw)
			}
		})
	}
	wg.Wait()
	l.c.mu.Lock()
	s := chaosLoadStats{acks: len(l.c.acks) - acks0, unanswered: l.c.failed - failed0}
	l.c.mu.Unlock()
	l.mu.Lock()
	s.unanswered += l.renewFail
	s.naks = l.renewNAK
	s.started, s.newClients, s.renewals = l.started, l.newClients, l.renewals
	l.mu.Unlock()
	return s
}

// renew is a client rebooting with its lease (INIT-REBOOT, RFC 2131
// §4.3.2): a broadcast REQUEST with option 50 and neither ciaddr nor a
// server identifier, answered by whichever box serves now. One retry after
// a timeout; a NAK ends it (the server says the address is not the
// client's: the checker will find the lease missing).
func (l *chaosLoad) renew(fault int, hw net.HardwareAddr, ip netip.Addr) {
	for attempt := 0; attempt < 2; attempt++ {
		var xid dhcpv4.TransactionID
		_, _ = rand.Read(xid[:])
		ch := make(chan reply, 4)
		l.c.mu.Lock()
		l.c.waiters[xid] = ch
		l.c.mu.Unlock()
		rp, ok := l.requestOnce(hw, ip, xid, ch)
		l.c.mu.Lock()
		delete(l.c.waiters, xid)
		if ok && rp.m.MessageType() == dhcpv4.MessageTypeAck {
			l.c.acks = append(l.c.acks, ackOf(fault, hw, rp, time.Now()))
		}
		l.c.mu.Unlock()
		switch {
		case ok && rp.m.MessageType() == dhcpv4.MessageTypeAck:
			return
		case ok:
			l.mu.Lock()
			l.renewNAK++
			l.mu.Unlock()
			return
		case attempt == 1:
			l.mu.Lock()
			l.renewFail++
			l.mu.Unlock()
		}
	}
}

func (l *chaosLoad) requestOnce(hw net.HardwareAddr, ip netip.Addr, xid dhcpv4.TransactionID, ch chan reply) (reply, bool) {
	req, err := dhcpv4.New(
		dhcpv4.WithTransactionID(xid),
		dhcpv4.WithHwAddr(hw),
		dhcpv4.WithBroadcast(true),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip.AsSlice())),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter),
	)
	if err != nil {
		return reply{}, false
	}
	if _, err := l.c.conn.WriteTo(req.ToBytes(), bcast67); err != nil {
		return reply{}, false
	}
	return await(ch, crashStepTimeout, dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)
}

// chaosEnv reads HADHCPD_CHAOS_N and HADHCPD_CHAOS_SEED (a fresh random
// seed when unset or empty).
func chaosEnv(getenv func(string) string) (n int, seed uint64, err error) {
	n = chaosDefaultN
	if s := getenv("HADHCPD_CHAOS_N"); s != "" {
		n, err = strconv.Atoi(s)
		if err != nil || n < 1 || n > chaosMaxN {
			return 0, 0, fmt.Errorf("HADHCPD_CHAOS_N=%q: want a number of faults 1–%d", s, chaosMaxN)
		}
	}
	seed, err = envSeed(getenv, "HADHCPD_CHAOS_SEED")
	return n, seed, err
}

// envSeed reads a seed knob (an unsigned 64-bit decimal number); a fresh
// random seed when it is unset or empty, a small one (32 bits), easy to
// copy from a log.
func envSeed(getenv func(string) string, name string) (uint64, error) {
	if s := getenv(name); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s=%q: want an unsigned 64-bit decimal number", name, s)
		}
		return seed, nil
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, err
	}
	return uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3]), nil
}

// chaosModeSpec is the pair of the chaos run in failover mode mode
// (HADHCPD_CHAOS_MODE, make chaos MODE=…): hot-standby (the default) or
// load-balance at split 128, where both boxes answer new clients and the
// invariants must hold all the same.
func chaosModeSpec(mode string) (loadSpec, string, error) {
	spec := crashSpec
	switch mode {
	case "", "hot-standby":
		return spec, "hot-standby", nil
	case "load-balance":
		spec.failover += "  mode: load-balance\n  split: 128\n"
		return spec, mode, nil
	}
	return spec, "", fmt.Errorf("HADHCPD_CHAOS_MODE=%q: want hot-standby or load-balance", mode)
}

// chaosResult is one fault's outcome.
type chaosResult struct {
	fault          chaosFault
	load           chaosLoadStats
	repairToNormal time.Duration
	faultToNormal  time.Duration
	converge       time.Duration // load stopped → databases agree
	lost, dups     int
}

// reloadLeaseTimes are the primary's dhcp.default_lease_time values a
// reload alternates between, both far longer than any run and neither
// above the MCLT (1 h by default), so every ACK in NORMAL carries exactly
// the one in force.
var reloadLeaseTimes = [2]struct {
	line string
	d    time.Duration
}{{"default_lease_time: 1h\n", time.Hour}, {"default_lease_time: 50m\n", 50 * time.Minute}}

// rewriteForReload flips the lease time in a config file's text and
// returns the new text and the new lease time.
func rewriteForReload(cfg string) (string, time.Duration, error) {
	for i, lt := range reloadLeaseTimes {
		if strings.Count(cfg, lt.line) == 1 {
			to := reloadLeaseTimes[1-i]
			return strings.Replace(cfg, lt.line, to.line, 1), to.d, nil
		}
	}
	return "", 0, fmt.Errorf("config has no single %q or %q line to flip", reloadLeaseTimes[0].line, reloadLeaseTimes[1].line)
}

// inject runs one fault up to and including its repair, and returns the
// time of the repair (for a reload also the new lease time). Errors are the harness's (a command that failed, a
// process that did not die), not the product's invariants.
func (p *chaosPair) inject(t *testing.T, f chaosFault) (time.Time, time.Duration) {
	t.Helper()
	b, other := p.box(f.target)
	switch f.kind {
	case chaosKill9:
		b.Kill(syscall.SIGKILL, chaosExitWait)
		time.Sleep(f.hold)
		b.Start()
	case chaosBoxLoss:
		// Cables first, so no FIN leaves (PEERS.md "kill -9 is not a box
		// failure").
		b.links("down")
		b.Kill(syscall.SIGKILL, chaosExitWait)
		time.Sleep(f.hold)
		b.links("up")
		b.Start()
	case chaosLinkLAN, chaosLinkSync:
		dev := "eth0"
		if f.kind == chaosLinkSync {
			dev = "sync0"
		}
		b.Host.MustIP("link", "set", dev, "down")
		time.Sleep(f.hold)
		b.Host.MustIP("link", "set", dev, "up")
	case chaosRestart:
		b.Kill(syscall.SIGTERM, chaosExitWait)
		b.Start()
	case chaosMaint:
		if out, err := b.Run("maintenance", "start"); err != nil {
			t.Fatalf("%s: maintenance start: %v\n%s", b.Name, err, out)
		}
		// The handover must happen: the partner alone holds the VIP
		// (bounded; the command may return a moment before).
		waitVIP(t, other, b, 10*time.Second)
		time.Sleep(f.hold)
		if out, err := b.Run("maintenance", "stop"); err != nil {
			t.Fatalf("%s: maintenance stop: %v\n%s", b.Name, err, out)
		}
	case chaosReload:
		before, err := b.TryStatus()
		if err != nil || before.Failover == nil {
			t.Fatalf("%s: status before the reload: %v", b.Name, err)
		}
		old, err := os.ReadFile(b.Cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg, leaseTime, err := rewriteForReload(string(old))
		if err != nil {
			t.Fatalf("%s: %v", b.Name, err)
		}
		// Write and rename: the daemon never reads half a file.
		tmp := b.Cfg + ".new"
		if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, b.Cfg); err != nil {
			t.Fatal(err)
		}
		if out, err := b.Run("check-config"); err != nil {
			t.Fatalf("check-config after the edit: %v\n%s", err, out)
		}
		if err := b.Proc.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		repairAt := time.Now()
		// The reload must take: the primary's hash changes (NORMAL then
		// also needs the secondary to run the same section).
		deadline := time.Now().Add(chaosNormalWait)
		for {
			st, err := b.TryStatus()
			if err == nil && st.Failover != nil && st.Failover.ConfigHash != before.Failover.ConfigHash {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: dhcp: hash still %.12s %v after SIGHUP", b.Name, before.Failover.ConfigHash, chaosNormalWait)
			}
			time.Sleep(100 * time.Millisecond)
		}
		return repairAt, leaseTime
	case chaosDiskFull:
		p.diskFull(t, b, f.hold)
	case chaosJournal:
		b.Kill(syscall.SIGKILL, chaosExitWait)
		damaged := damageJournal(t, b)
		marker := b.Start()
		if damaged {
			// The box must say so: recovery names the damage.
			waitLogAfter(t, b.Box, marker, "lease database was damaged", 15*time.Second)
		}
	default:
		t.Fatalf("unknown fault kind %q", f.kind)
	}
	return time.Now(), 0
}

// check re-reads both databases until they satisfy
// every invariant or chaosConvergeWait passes, and returns the last
// violations (duplicates and VIP holders end the wait at once: time does
// not heal them).
func (p *chaosPair) check(t *testing.T, acks []crashAck) (chaosViolations, time.Duration) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(chaosConvergeWait)
	for {
		now := time.Now()
		pl, sl := activeLeases(t, p.pri), activeLeases(t, p.sec)
		v := checkChaos(acks, pl, sl, p.pri.hasVIP(), p.sec.hasVIP(), now)
		if v.count() == 0 || !v.converging() || now.After(deadline) {
			return v, time.Since(start)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestIntegrationChaos: HADHCPD_CHAOS_N random faults under load, each
// followed by its repair, the wait for NORMAL and the invariant check.
func TestIntegrationChaos(t *testing.T) {
	n, seed, err := chaosEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	spec, mode, err := chaosModeSpec(os.Getenv("HADHCPD_CHAOS_MODE"))
	if err != nil {
		t.Fatal(err)
	}
	p := &chaosPair{newLoadPair(t, chaosPrefix, spec)}
	t.Logf("failover mode %s (HADHCPD_CHAOS_MODE=%s)", mode, mode)
	runChaos(t, p, chaosKinds, n, seed)
}

// runChaos runs n faults dealt from kinds against p under load.
func runChaos(t *testing.T, p *chaosPair, kinds []string, n int, seed uint64) {
	t.Helper()
	sched := chaosDeal(seed, n, kinds)
	t.Logf("chaos seed %d, %d faults (replay the schedule: HADHCPD_CHAOS_SEED=%d HADHCPD_CHAOS_N=%d)", seed, n, seed, n)
	cl := p.net.Host("cl")
	cl.Connect(p.lan, "eth0")
	load := &chaosLoad{c: newLoadClient(t, cl)}
	// chaddr has two bytes for the client number within a fault.
	budget := min(int(chaosPoolShare*crashPool/float64(n)), 1<<16)

	if _, _, err := p.waitNormal(chaosNormalWait, chaosMinBackup); err != nil {
		t.Fatalf("at the start: %v", err)
	}
	var results []chaosResult
	defer func() { chaosSummary(t, seed, n, kinds, results, load) }()
	// A fault's load ends with the fault; this ends it too when the test
	// stops early (t.Fatal), so no load goroutine outlives the test.
	runCtx, stopAll := context.WithCancel(context.Background())
	defer stopAll()

	for i, f := range sched {
		b, _ := p.box(f.target)
		what := fmt.Sprintf("fault %d/%d: %s of %s (lead %v, hold %v)", i+1, n, f.kind, b.Name, f.lead, f.hold)
		if f.kind == chaosRestart || f.kind == chaosReload {
			what = fmt.Sprintf("fault %d/%d: %s of %s (lead %v)", i+1, n, f.kind, b.Name, f.lead)
		}
		ctx, cancel := context.WithCancel(runCtx)
		done := make(chan chaosLoadStats, 1)
		go func() { done <- load.run(ctx, i, budget, seed) }()
		stopLoad := func() chaosLoadStats {
			cancel()
			select {
			case s := <-done:
				return s
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: load client did not stop within 10s", what)
				return chaosLoadStats{}
			}
		}

		time.Sleep(f.lead)
		marker := "--- chaos " + what + " ---\n"
		_, _ = fmt.Fprint(p.pri.Log, marker)
		_, _ = fmt.Fprint(p.sec.Log, marker)
		faultAt := time.Now()
		repairAt, leaseTime := p.inject(t, f)
		normalAt, _, err := p.waitNormal(chaosNormalWait, chaosMinBackup)
		if err != nil {
			stopLoad()
			t.Fatalf("%s, after the repair: %v (seed %d)", what, err, seed)
		}
		time.Sleep(chaosTail)
		ls := stopLoad()

		load.c.mu.Lock()
		acks := slices.Clone(load.c.acks)
		load.c.mu.Unlock()
		v, conv := p.check(t, acks)
		r := chaosResult{
			fault: f, load: ls,
			repairToNormal: normalAt.Sub(repairAt), faultToNormal: normalAt.Sub(faultAt),
			converge: conv, lost: len(v.lost) + len(v.early), dups: len(v.dups),
		}
		results = append(results, r)
		t.Logf("%s: %d exchanges (%d new, %d renewals), %d ACKs, %d unanswered, %d NAKs; repair → NORMAL %v (fault → NORMAL %v); check %v: lost %d, duplicates %d, differing %d",
			what, ls.started, ls.newClients, ls.renewals, ls.acks, ls.unanswered, ls.naks,
			r.repairToNormal.Round(time.Millisecond), r.faultToNormal.Round(time.Millisecond), conv.Round(time.Millisecond),
			r.lost, r.dups, len(v.diff))
		if ls.acks == 0 {
			t.Errorf("%s: no ACK at all: the load client did not work", what)
		}
		if f.kind == chaosReload {
			// The reload took on the serving box: every ACK given in
			// NORMAL after it carries the new lease time (option 51).
			got := map[time.Duration]int{}
			for _, a := range acks {
				if a.round == i && a.at.After(normalAt) {
					got[a.expiry.Sub(a.at)]++
				}
			}
			if len(got) != 1 || got[leaseTime] == 0 {
				t.Errorf("%s: ACKs after the reload carry lease times %v, want all %v", what, got, leaseTime)
			}
		}
		reportLines(t, what+": lost (invariant 2)", v.lost)
		reportLines(t, what+": ends early (invariant 2)", v.early)
		reportLines(t, what+": duplicate (invariant 1)", v.dups)
		reportLines(t, what+": active sets differ", v.diff)
		reportLines(t, what+": VIP", v.vip)
		if t.Failed() {
			t.FailNow()
		}
	}
}

// chaosSummary logs the run's figures by fault kind.
func chaosSummary(t *testing.T, seed uint64, n int, kinds []string, results []chaosResult, load *chaosLoad) {
	t.Helper()
	load.c.mu.Lock()
	clients := map[string]bool{}
	for _, a := range load.c.acks {
		clients[a.hw] = true
	}
	total := len(load.c.acks)
	load.c.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "chaos summary (seed %d, %d of %d faults run): %d clients ACKed, %d ACKs in all\n", seed, len(results), n, len(clients), total)
	fmt.Fprintf(&b, "  %-12s %6s %8s %10s %5s %5s %5s %22s %22s\n", "kind", "faults", "ACKs", "unanswered", "NAKs", "lost", "dups", "repair→NORMAL med/max", "fault→NORMAL med/max")
	var lost, dups, unans int
	for _, k := range kinds {
		var rs []chaosResult
		for _, r := range results {
			if r.fault.kind == k {
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			continue
		}
		var acks, un, naks, l, d int
		var rep, flt []time.Duration
		for _, r := range rs {
			acks += r.load.acks
			un += r.load.unanswered
			naks += r.load.naks
			l += r.lost
			d += r.dups
			rep = append(rep, r.repairToNormal)
			flt = append(flt, r.faultToNormal)
		}
		lost, dups, unans = lost+l, dups+d, unans+un
		fmt.Fprintf(&b, "  %-12s %6d %8d %10d %5d %5d %5d %22s %22s\n", k, len(rs), acks, un, naks, l, d, medMax(rep), medMax(flt))
	}
	fmt.Fprintf(&b, "  total: lost %d, duplicates %d, unanswered %d", lost, dups, unans)
	t.Log(b.String())
}

// medMax formats the median and the maximum of ds ("-" when empty).
func medMax(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return fmt.Sprintf("%v / %v", med.Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}

// TestChaosCheckerDetects guards the checker: each violation kind is found
// on its own, and a clean state yields none.
func TestChaosCheckerDetects(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	ip := netip.MustParseAddr
	ack := func(hw, a string, at time.Time) crashAck {
		return crashAck{hw: hw, ip: ip(a), at: at, expiry: at.Add(time.Hour)}
	}
	lease := func(a, hw string, expiry time.Time) control.LeaseInfo {
		return control.LeaseInfo{IP: a, State: "active", HWAddr: hw, Expiry: expiry}
	}
	t0 := now.Add(-time.Minute)
	acks := []crashAck{
		ack("02:c4:00:00:00:01", "198.18.1.1", t0),
		ack("02:c4:00:00:00:02", "198.18.1.2", t0),
	}
	db := func() map[netip.Addr]control.LeaseInfo {
		return map[netip.Addr]control.LeaseInfo{
			ip("198.18.1.1"): lease("198.18.1.1", "02:c4:00:00:00:01", t0.Add(time.Hour)),
			ip("198.18.1.2"): lease("198.18.1.2", "02:C4:00:00:00:02", t0.Add(time.Hour)), // case does not matter
		}
	}
	if v := checkChaos(acks, db(), db(), true, false, now); v.count() != 0 {
		t.Fatalf("clean state: violations %+v", v)
	}
	// An expired ACK absent everywhere is fine.
	old := append(slices.Clone(acks), crashAck{hw: "02:c4:00:00:00:09", ip: ip("198.18.1.9"), at: now.Add(-2 * time.Hour), expiry: now.Add(-time.Hour)})
	if v := checkChaos(old, db(), db(), true, false, now); v.count() != 0 {
		t.Errorf("expired ACK: violations %+v", v)
	}

	tests := []struct {
		name     string
		acks     []crashAck
		pri, sec func(map[netip.Addr]control.LeaseInfo)
		pv, sv   bool
		want     func(chaosViolations) []string // the list that must name 198.18.1.2 (or the VIP)
		contains string
		total    int
	}{
		{
			name: "missing on the secondary only",
			sec:  func(m map[netip.Addr]control.LeaseInfo) { delete(m, ip("198.18.1.2")) },
			pv:   true, want: func(v chaosViolations) []string { return v.lost }, contains: "198.18.1.2 ACKed to 02:c4:00:00:00:02 by invalid IP at 11:59:00.000 (expiry 12:59:00): not active in secondary's database",
			total: 2, // lost on the secondary, and the active sets differ
		},
		{
			name: "missing on the primary only",
			pri:  func(m map[netip.Addr]control.LeaseInfo) { delete(m, ip("198.18.1.2")) },
			pv:   true, want: func(v chaosViolations) []string { return v.lost }, contains: "198.18.1.2 ACKed to 02:c4:00:00:00:02 by invalid IP at 11:59:00.000 (expiry 12:59:00): not active in primary's database",
			total: 2,
		},
		{
			name: "active for another client on both",
			pri: func(m map[netip.Addr]control.LeaseInfo) {
				m[ip("198.18.1.2")] = lease("198.18.1.2", "02:c4:00:00:00:07", t0.Add(time.Hour))
			},
			sec: func(m map[netip.Addr]control.LeaseInfo) {
				m[ip("198.18.1.2")] = lease("198.18.1.2", "02:c4:00:00:00:07", t0.Add(time.Hour))
			},
			pv: true, want: func(v chaosViolations) []string { return v.lost }, contains: "active for 02:c4:00:00:00:07",
			total: 2,
		},
		{
			name: "duplicate",
			acks: []crashAck{ack("02:c4:00:00:00:03", "198.18.1.2", t0.Add(10*time.Second))},
			pv:   true, want: func(v chaosViolations) []string { return v.dups }, contains: "198.18.1.2: ACKed to 02:c4:00:00:00:02",
			total: 3, // the duplicate, and the second client's lease missing on both
		},
		{
			name: "lease sets differ (an extra lease nobody was ACKed)",
			sec: func(m map[netip.Addr]control.LeaseInfo) {
				m[ip("198.18.1.5")] = lease("198.18.1.5", "02:c4:00:00:00:05", now)
			},
			pv:    true,
			want:  func(v chaosViolations) []string { return v.diff },
			total: 1, contains: "198.18.1.5: primary \"\", secondary 02:c4:00:00:00:05",
		},
		{
			name: "ends early on the primary",
			pri: func(m map[netip.Addr]control.LeaseInfo) {
				m[ip("198.18.1.2")] = lease("198.18.1.2", "02:c4:00:00:00:02", now)
			},
			pv:    true,
			want:  func(v chaosViolations) []string { return v.early },
			total: 1, contains: "primary: 198.18.1.2",
		},
		{
			name: "two VIP holders", pv: true, sv: true,
			want: func(v chaosViolations) []string { return v.vip }, contains: "both", total: 1,
		},
		{
			name: "no VIP holder",
			want: func(v chaosViolations) []string { return v.vip }, contains: "no box", total: 1,
		},
		{
			name: "the secondary holds the VIP", sv: true,
			want: func(v chaosViolations) []string { return v.vip }, contains: "secondary", total: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pri, sec := db(), db()
			if tc.pri != nil {
				tc.pri(pri)
			}
			if tc.sec != nil {
				tc.sec(sec)
			}
			v := checkChaos(append(slices.Clone(acks), tc.acks...), pri, sec, tc.pv, tc.sv, now)
			got := tc.want(v)
			if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tc.contains) {
				t.Errorf("want a violation containing %q, got %q (all: %+v)", tc.contains, got, v)
			}
			if v.count() != tc.total {
				t.Errorf("%d violations, want %d: %+v", v.count(), tc.total, v)
			}
		})
	}

	// A renewal that shortened the lease: the last ACK is what counts.
	short := append(slices.Clone(acks), crashAck{hw: "02:c4:00:00:00:02", ip: ip("198.18.1.2"), at: now.Add(-time.Second), expiry: now.Add(30 * time.Minute)})
	pri := db()
	pri[ip("198.18.1.2")] = lease("198.18.1.2", "02:c4:00:00:00:02", now.Add(30*time.Minute))
	sec := db()
	sec[ip("198.18.1.2")] = lease("198.18.1.2", "02:c4:00:00:00:02", now.Add(30*time.Minute))
	if v := checkChaos(short, pri, sec, true, false, now); v.count() != 0 {
		t.Errorf("renewal with a shorter lease: violations %+v", v)
	}
}

// TestChaosSchedule: a seed replays its schedule; every window of
// len(chaosKinds) faults dealt from a fresh deck holds each kind once;
// durations stay in their ranges; the primary's operations target it.
func TestChaosSchedule(t *testing.T) {
	a, b := chaosSchedule(42, 50), chaosSchedule(42, 50)
	if !slices.Equal(a, b) {
		t.Fatal("one seed gave two schedules")
	}
	if c := chaosSchedule(43, 50); slices.Equal(a, c) {
		t.Error("seeds 42 and 43 gave the same schedule")
	}
	if p := chaosSchedule(42, 10); !slices.Equal(p, a[:10]) {
		t.Error("a shorter run is not a prefix of a longer one with the same seed")
	}
	for w := 0; w+len(chaosKinds) <= len(a); w += len(chaosKinds) {
		seen := map[string]int{}
		for _, f := range a[w : w+len(chaosKinds)] {
			seen[f.kind]++
		}
		for _, k := range chaosKinds {
			if seen[k] != 1 {
				t.Errorf("faults %d–%d: kind %s %d times, want once", w, w+len(chaosKinds)-1, k, seen[k])
			}
		}
	}
	targets := map[int]int{}
	for i, f := range a {
		if f.lead < chaosLeadMin || f.lead > chaosLeadMax || f.hold < chaosHoldMin || f.hold > chaosHoldMax {
			t.Errorf("fault %d: lead %v, hold %v out of range", i, f.lead, f.hold)
		}
		if (f.kind == chaosMaint || f.kind == chaosReload) && f.target != 0 {
			t.Errorf("fault %d: %s targets box %d, want the primary", i, f.kind, f.target)
		}
		targets[f.target]++
	}
	if targets[0] == 0 || targets[1] == 0 {
		t.Errorf("targets %v: want both boxes", targets)
	}
}

// TestChaosEnv: the knobs' parsing and their errors.
func TestChaosEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	if n, _, err := chaosEnv(env()); err != nil || n != chaosDefaultN {
		t.Errorf("defaults: n %d, err %v", n, err)
	}
	if n, seed, err := chaosEnv(env("HADHCPD_CHAOS_N", "30", "HADHCPD_CHAOS_SEED", "18446744073709551615")); err != nil || n != 30 || seed != 1<<64-1 {
		t.Errorf("N=30 SEED=max: n %d seed %d err %v", n, seed, err)
	}
	for _, bad := range [][]string{
		{"HADHCPD_CHAOS_N", "0"}, {"HADHCPD_CHAOS_N", "x"}, {"HADHCPD_CHAOS_N", "1001"},
		{"HADHCPD_CHAOS_SEED", "-1"}, {"HADHCPD_CHAOS_SEED", "0x10"},
	} {
		if _, _, err := chaosEnv(env(bad...)); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%s=%q: err %v, want one naming the variable", bad[0], bad[1], err)
		}
	}
}

// TestRewriteForReload: the reload's edit flips the lease time both ways
// and refuses a file it cannot edit unambiguously.
func TestRewriteForReload(t *testing.T) {
	cfg := crashSpec.config(pairRoles[0], "/d", "/k")
	once, d, err := rewriteForReload(cfg)
	if err != nil || d != 50*time.Minute || !strings.Contains(once, "default_lease_time: 50m\n") || strings.Contains(once, "default_lease_time: 1h\n") {
		t.Fatalf("first flip: %v, err %v\n%s", d, err, once)
	}
	if twice, d, err := rewriteForReload(once); err != nil || d != time.Hour || twice != cfg {
		t.Errorf("second flip does not give the original back: %v, err %v", d, err)
	}
	if _, _, err := rewriteForReload("dhcp: {}\n"); err == nil {
		t.Error("a config without the line: no error")
	}
}
