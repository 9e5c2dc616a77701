package e2e

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/hadhcpd/hadhcpd/internal/dhcpload"
	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// Load-balance crash loop (`make crashloop-lb`): a load-balancing pair
// (split 128) in NORMAL under new clients at 200/s and a population of
// leased clients renewing loses one box — box loss: both cables down,
// then SIGKILL of everything in its namespace, so no FIN and no priority-0
// advert leave — at a random moment, the primary and the secondary in
// turn, so the survivor is in turn the VRRP backup and the VRRP master.
// Each round shows:
//
//   - every client in flight at the loss or started after it (new or
//     renewing) is ACKed within the survivor's Master_Down_Interval
//     (RFC 5798 §6.1) + 100 ms of the loss (+ one 100 ms retransmission
//     of the client), and none is left without a lease;
//   - the crash loop's invariants (crashloop_test.go) against what the
//     clients were told, across both boxes and all rounds: no address
//     ACKed to two clients with overlapping lease intervals (invariant 1),
//     every unexpired ACKed lease ACTIVE for its client in the survivor's
//     database (invariant 2), and in both once the pair is whole again;
//   - the survivor reaches PARTNER-DOWN by itself (auto_partner_down),
//     as VRRP backup (the adverts stopped) and as VRRP master (its ARP
//     probes of the partner's own address go unanswered): the time is
//     printed;
//   - the lost box comes back on its state dir, resyncs, and the pair is
//     NORMAL again (the primary VRRP master) before the next round.
//
// Renewing clients and the server identifier: both boxes of a pair give
// the VRRP VIP as server identifier (option 54, invariant 5), in
// load-balance mode too (dhcpd Engine.serverID; agent vrrpPart.ServerID),
// and in NORMAL each answers renewals and rebinds of any bucket
// (failover Policy.Serve, draft-ietf-dhc-failover-12 §5.3). So a client
// has no "own" box for its renewal: a RENEWING client (RFC 2131 §4.4.5,
// past T1) unicasts to the VIP, i.e. to whichever box is VRRP master.
// When the backup is lost nothing changes for it; when the master is
// lost, its unicasts go to the dead box's MAC until the survivor takes
// the VIP (Master_Down_Interval after the last advert) and announces it
// with a gratuitous ARP, which moves the client's next retransmission
// there (RFC 826 merge, as a host's neighbour table does; dhcpload
// follows it). A REBINDING client (past T2) broadcasts, so both boxes
// hear it and the survivor answers as soon as its commits are released.
// Here a quarter of the renewing clients are past T2 (REBINDING at once),
// the others in RENEWING for their whole deadline; both retransmit every
// 100 ms, as the new clients do.
//
// HADHCPD_LB_ROUNDS sets the rounds per survivor kind (default 1 for
// `make test`: two losses; `make crashloop-lb`: 10 each); HADHCPD_LB_SEED
// replays the schedule of loss moments (the seed is printed; the machine's
// timing is not replayed).
func TestLoadBalanceCrashLoop(t *testing.T) {
	rounds := envCount(t, "HADHCPD_LB_ROUNDS", 1, 1, 50, "rounds per survivor kind")
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("HADHCPD_LB_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("HADHCPD_LB_SEED=%q: want an unsigned number", s)
		}
		seed = v
	}
	t.Logf("seed %d (HADHCPD_LB_SEED=%d replays the loss moments)", seed, seed)
	rng := mrand.New(mrand.NewPCG(seed, 0))

	pools, total := lbLoopPools()
	testnet.RequireCmd(t, "curl")
	spec := loadSpec{bits: 16, logLevel: "info", pools: pools,
		failover: "  mode: load-balance\n  split: 128\n  mclt: 1h\n  load_balance_max_seconds: 3\n  auto_partner_down: 3s\n"}
	// Metrics on each box (its own namespace's loopback): a round that
	// leaves clients without a lease shows the survivor's drop reasons.
	p := newPairLab(t, "hll", netip.MustParsePrefix("198.18.0.0/16"), 150, func(r boxRole, dir, psk string) string {
		return strings.Replace(spec.config(r, dir, psk), "  log_level:", "  metrics_listen: \"127.0.0.1:9767\"\n  log_level:", 1)
	})
	// The secondary holds about its half of the free addresses before
	// the first round (pool balance), at least lbLoopMinBackup later.
	if _, _, err := p.waitNormal(lbLoopNormalWait, total/2*8/10); err != nil {
		t.Fatal(err)
	}
	// The boxes' own LAN addresses (newPairLab: .2 and .3) by eth0 MAC.
	boxOf := map[string]netip.Addr{
		lab.IfMAC(t, p.pri.Host, "eth0"): netip.MustParseAddr("198.18.0.2"),
		lab.IfMAC(t, p.sec.Host, "eth0"): netip.MustParseAddr("198.18.0.3"),
	}
	cl := openClientsWith(t, p.net, p.lan, "cl", [2]byte{0x1b, 0x11},
		dhcpload.Config{StepTimeout: lbLoopStep, RequestTries: 1, Deadline: lbLoopDeadline})
	l := &lbLoop{t: t, p: p, pop: cl.pop, boxOf: boxOf}
	l.leaseRenewers()

	// Per round: the box lost, the survivor's VRRP role, the slowest
	// service after the loss of each kind of client in flight (how many
	// were in flight), the survivor's Master_Down_Interval, its
	// PARTNER-DOWN after the loss, NORMAL after the lost box's restart.
	t.Logf("%-5s %-4s %-8s %-15s %-15s %-15s %-6s %-12s %-11s %s", "round", "lost", "survivor", "new (n)", "RENEWING (n)", "REBINDING (n)", "MDI", "PARTNER-DOWN", "back NORMAL", "clients/renewals")
	for r := range 2 * rounds {
		// Round 0 loses the primary (the VRRP backup survives), round 1
		// the secondary (the VRRP master survives), and so on.
		lost, surv := p.pri, p.sec
		if r%2 == 1 {
			lost, surv = p.sec, p.pri
		}
		if _, _, err := p.waitNormal(lbLoopNormalWait, lbLoopMinBackup); err != nil {
			t.Fatalf("before round %d: %v", r, err)
		}
		lr := l.round(r, lost, surv, time.Second+time.Duration(rng.Int64N(int64(2*time.Second))))
		t.Logf("%-5d %-4s %-8s %-15s %-15s %-15s %-6v %-12s %-11s %d/%d", r, lost.Name, lr.role, lr.served["new"], lr.served["renewing"], lr.served["rebinding"],
			lr.mdi.Round(time.Millisecond), since(lr.at, lr.partnerDown), since(lr.back, lr.normal), lr.clients, lr.renewals)
		if t.Failed() {
			t.FailNow()
		}
	}
	l.mu.Lock()
	acks := len(l.acks)
	l.mu.Unlock()
	t.Logf("%d losses: %d ACKs (new and renewed), 0 lost, 0 duplicates, every client served", 2*rounds, acks)
}

// Knobs of the load-balance crash loop.
const (
	lbLoopRate       = 200                    // new clients per second
	lbLoopRenewRate  = 50                     // renewals per second
	lbLoopRenewers   = 300                    // leased clients taking turns to renew
	lbLoopAfterLoss  = 2 * time.Second        // load kept running against the survivor
	lbLoopStep       = 100 * time.Millisecond // every client's retransmission interval
	lbLoopDeadline   = 5 * time.Second        // one client's whole exchange
	lbLoopMinBackup  = 1500                   // the secondary's BACKUP before a round: ~lbLoopAfterLoss of new clients alone
	lbLoopNormalWait = 90 * time.Second
	// lbLoopPDWait bounds the wait for PARTNER-DOWN after the loss:
	// auto_partner_down (3 s) after the partner was last heard on both
	// paths, plus the link's own timeout (max_response_delay 3 s).
	lbLoopPDWait = 20 * time.Second
)

// lbLoopPools is the crash loop's pool: 24 ranges of 2,048 addresses
// (49,152) from 198.18.8.0, so the pool balancer (per range) gives the
// secondary its half in seconds and 20 rounds of ~1,000 new clients never
// run either half dry.
func lbLoopPools() (string, int) {
	var b strings.Builder
	base := uint32(198)<<24 | uint32(18)<<16 | 8<<8
	for i := range uint32(24) {
		fmt.Fprintf(&b, "        - {range: %s-%s}\n", u32Addr(base+i*2048), u32Addr(base+i*2048+2047))
	}
	return b.String(), 24 * 2048
}

// lbLoop is the state kept across rounds: the pair, the one client
// population (new clients and renewers, so it answers ARP for every
// address its clients hold), every ACK so far.
type lbLoop struct {
	t     *testing.T
	p     *pair
	pop   *dhcpload.Population
	boxOf map[string]netip.Addr // eth0 MAC → the box's own address: both send from the VIP

	mu       sync.Mutex
	acks     []crashAck        // every ACK, new and renewed, all rounds
	renewers []dhcpload.Result // the renewers' leases (Renew's input)
	nextRen  int               // the next renewer to renew
}

// renewerBase is the client number of the first renewer; new clients of
// round r are r<<16 + i.
const renewerBase = 0xff0000

// leaseRenewers gives the renewers their leases before the first round.
func (l *lbLoop) leaseRenewers() {
	t := l.t
	var wg sync.WaitGroup
	res := make([]dhcpload.Result, lbLoopRenewers)
	tick := time.NewTicker(time.Second / lbLoopRate)
	defer tick.Stop()
	for i := range lbLoopRenewers {
		<-tick.C
		wg.Go(func() { res[i] = l.pop.DORA(context.Background(), renewerBase+i) })
	}
	wg.Wait()
	for _, r := range res {
		if !r.OK() {
			t.Fatalf("renewer %d: no lease before the first round: %v", r.Client-renewerBase, r.Err)
		}
		l.record(-1, r.MAC.String(), r.Addr, r.AckFrom, r.Ack, r.LeaseTime)
	}
	l.renewers = res
}

// record keeps one ACK for the invariants; from names the box by its
// MAC (the IP source is the VIP for both).
func (l *lbLoop) record(round int, hw string, ip netip.Addr, from dhcpload.Server, at time.Time, lease time.Duration) {
	a := crashAck{round: round, hw: hw, ip: ip, serverID: from.ID, from: from.IP, at: at, expiry: at.Add(lease)}
	if b, ok := l.boxOf[from.MAC.String()]; ok {
		a.from = b
	}
	l.mu.Lock()
	l.acks = append(l.acks, a)
	l.mu.Unlock()
}

// boxName names the box that sent a reply, by its MAC.
func (l *lbLoop) boxName(from dhcpload.Server) string {
	if b, ok := l.boxOf[from.MAC.String()]; ok {
		return b.String()
	}
	return from.String()
}

// lbRound is what one round measured.
type lbRound struct {
	role              string // the survivor's VRRP role at the loss
	mdi               time.Duration
	at                time.Time           // the loss
	served            map[string]*lbWorst // "new", "renewing", "rebinding"
	clients, renewals int
	partnerDown       time.Time // the survivor's PARTNER-DOWN (zero: none)
	back, normal      time.Time // the lost box's restart; the pair NORMAL again
}

// lbWorst is the slowest service after the loss of one kind of client,
// and how many were in flight (ACKed after the loss).
type lbWorst struct {
	d   time.Duration
	n   int
	who string // the slowest client, for a failure
}

// add counts one client served d after the loss (0: before it).
func (w *lbWorst) add(d time.Duration, who func() string) {
	if d <= 0 {
		return
	}
	w.n++
	if d > w.d {
		w.d, w.who = d, who()
	}
}

func (w *lbWorst) String() string {
	return fmt.Sprintf("%v (%d)", w.d.Round(time.Millisecond), w.n)
}

// dropsRx is one reason's count of hadhcpd_dhcp_drops_total.
var dropsRx = regexp.MustCompile(`(?m)^hadhcpd_dhcp_drops_total\{reason="([^"]+)"\} (\S+)$`)

// boxDrops reads a box's packets dropped without a reply, by reason, from
// its metrics.
func boxDrops(t *testing.T, b *pairBox) map[string]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := b.Host.Output(ctx, "curl", "-sf", "http://127.0.0.1:9767/metrics")
	if err != nil {
		t.Fatalf("%s: metrics: %v\n%s", b.Name, err, out)
	}
	m := map[string]float64{}
	for _, g := range dropsRx.FindAllStringSubmatch(out, -1) {
		m[g[1]], _ = strconv.ParseFloat(g[2], 64)
	}
	return m
}

// dropsDiff is after − before, the reasons that grew, sorted.
func dropsDiff(before, after map[string]float64) string {
	var d []string
	for r, n := range after {
		if n > before[r] {
			d = append(d, fmt.Sprintf("%s %.0f", r, n-before[r]))
		}
	}
	sort.Strings(d)
	return strings.Join(d, ", ")
}

// lbServed is the time a client in flight at the loss waited for its ACK:
// from the loss, or from its own start if later; zero when it was ACKed
// before the loss.
func lbServed(loss, start, ack time.Time) time.Duration {
	if !ack.After(loss) {
		return 0
	}
	return ack.Sub(maxTime(loss, start))
}

// round runs round r: load, the loss of lost after wait, lbLoopAfterLoss
// more load, the checks, the survivor's PARTNER-DOWN, the lost box's
// return, NORMAL, both databases checked again.
func (l *lbLoop) round(r int, lost, surv *pairBox, wait time.Duration) lbRound {
	t := l.t
	t.Helper()
	lr := lbRound{role: "backup", served: map[string]*lbWorst{"new": {}, "renewing": {}, "rebinding": {}}}
	prio := 100
	if surv == l.p.pri {
		lr.role, prio = "master", 200
	}
	// The survivor's Master_Down_Interval (RFC 5798 §6.1), adverts 100 ms.
	adv := 100 * time.Millisecond
	lr.mdi = 3*adv + time.Duration(256-prio)*adv/256

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var newRes []dhcpload.Result
	var resMu sync.Mutex
	wg.Go(func() { // new clients
		tick := time.NewTicker(time.Second / lbLoopRate)
		defer tick.Stop()
		var cw sync.WaitGroup
		defer cw.Wait()
		for i := 0; i < 1<<16; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			cw.Go(func() {
				res := l.pop.DORA(context.Background(), r<<16+i)
				resMu.Lock()
				newRes = append(newRes, res)
				resMu.Unlock()
			})
		}
	})
	type renewal struct {
		start time.Time
		rr    dhcpload.RenewResult
		held  dhcpload.Result
		err   error
	}
	var rens []renewal
	wg.Go(func() { // renewers, in turn
		tick := time.NewTicker(time.Second / lbLoopRenewRate)
		defer tick.Stop()
		var cw sync.WaitGroup
		defer cw.Wait()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			l.mu.Lock()
			k := l.nextRen
			l.nextRen++
			held := l.renewers[k%lbLoopRenewers]
			l.mu.Unlock()
			// A quarter past T2: REBINDING at once (no RENEWING time).
			renewFor := lbLoopDeadline
			if k%4 == 3 {
				renewFor = 0
			}
			cw.Go(func() {
				start := time.Now()
				rr, err := l.pop.Renew(context.Background(), held, renewFor, lbLoopDeadline)
				resMu.Lock()
				rens = append(rens, renewal{start, rr, held, err})
				resMu.Unlock()
			})
		}
	})

	drops0 := boxDrops(t, surv)
	time.Sleep(wait)
	marker := fmt.Sprintf("--- round %d: box loss of %s ---", r, lost.Name)
	_, _ = fmt.Fprintln(surv.Log, marker)
	lr.at = time.Now()
	lab.KillBox(t, lost.Host, "eth0", "sync0")
	time.Sleep(lbLoopAfterLoss)
	cancel()
	wg.Wait() // every exchange is bounded by lbLoopDeadline
	if exited, _ := lost.Proc.Wait(10 * time.Second); !exited {
		t.Fatalf("round %d: %s did not die of SIGKILL within 10s", r, lost.Name)
	}

	// Service: every client got its lease, in flight ones within the bound.
	var problems []string
	lr.clients, lr.renewals = len(newRes), len(rens)
	for _, res := range newRes {
		if !res.OK() {
			problems = append(problems, fmt.Sprintf("new client %d (started %+v from the loss): %v", res.Client, res.Start.Sub(lr.at).Round(time.Millisecond), res.Err))
			continue
		}
		lr.served["new"].add(lbServed(lr.at, res.Start, res.Ack), func() string {
			return fmt.Sprintf("new client %s: started %+v from the loss, %d DISCOVERs, %d REQUESTs, ACK from %s",
				res.MAC, res.Start.Sub(lr.at).Round(time.Millisecond), res.Discovers, res.Requests, l.boxName(res.AckFrom))
		})
		l.record(r, res.MAC.String(), res.Addr, res.AckFrom, res.Ack, res.LeaseTime)
	}
	for _, rn := range rens {
		switch {
		case rn.err != nil:
			problems = append(problems, fmt.Sprintf("renewer %s (%s, started %+v from the loss): %v", rn.held.MAC, rn.held.Addr, rn.start.Sub(lr.at).Round(time.Millisecond), rn.err))
			continue
		case rn.rr.Type != dhcpv4.MessageTypeAck || rn.rr.Addr != rn.held.Addr:
			problems = append(problems, fmt.Sprintf("renewer %s (%s): %s %s of %s from %v", rn.held.MAC, rn.held.Addr, rn.rr.Mode, rn.rr.Type, rn.rr.Addr, rn.rr.From))
			continue
		}
		lr.served[rn.rr.Mode].add(lbServed(lr.at, rn.start, rn.rr.At), func() string {
			return fmt.Sprintf("renewer %s: started %+v from the loss, ACKed in %s (that mode from %+v) by %s",
				rn.held.MAC, rn.start.Sub(lr.at).Round(time.Millisecond), strings.ToUpper(rn.rr.Mode), rn.rr.Sent.Sub(lr.at).Round(time.Millisecond), l.boxName(rn.rr.From))
		})
		l.record(r, rn.held.MAC.String(), rn.rr.Addr, rn.rr.From, rn.rr.At, rn.rr.LeaseTime)
	}
	reportLines(t, fmt.Sprintf("round %d: without a lease", r), problems)
	if len(problems) > 0 {
		t.Logf("round %d: %s's drops during the round, by reason: %s", r, surv.Name, dropsDiff(drops0, boxDrops(t, surv)))
	}
	// The bound: the survivor's Master_Down_Interval + 100 ms, plus one
	// 100 ms retransmission of the client (the answer may be ready just
	// after a transmission it missed).
	bound := lr.mdi + 100*time.Millisecond
	for _, kind := range []string{"new", "renewing", "rebinding"} {
		if w := lr.served[kind]; w.d > bound+lbLoopStep {
			t.Errorf("round %d (%s survives as VRRP %s): a %s client in flight was served %v after the loss; want every one within %v (+ one %v retransmission); the slowest: %s",
				r, surv.Name, lr.role, kind, w.d.Round(time.Millisecond), bound.Round(time.Millisecond), lbLoopStep, w.who)
		}
	}

	// Invariants 1 and 2 against the survivor's database.
	l.mu.Lock()
	acks := append([]crashAck(nil), l.acks...)
	l.mu.Unlock()
	reportViolations(t, fmt.Sprintf("round %d: lost (invariant 2)", r), checkCrash(acks, activeLeases(t, surv), surv.Name, time.Now()))

	// PARTNER-DOWN by itself, as VRRP master or backup.
	pdRx := regexp.MustCompile(`msg="failover transition".* to=PARTNER-DOWN`)
	lab.WaitFor(t, lbLoopPDWait, fmt.Sprintf("round %d: %s (VRRP %s) in PARTNER-DOWN", r, surv.Name, lr.role), func() (bool, string) {
		_, pos := logEvent(surv.Log.String(), marker, pdRx)
		st, err := surv.TryStatus()
		if err != nil || st.Failover == nil {
			return false, fmt.Sprint(err)
		}
		return pos >= 0 && st.Failover.State == "PARTNER-DOWN", statusLine(st)
	})
	lr.partnerDown, _ = logEvent(surv.Log.String(), marker, pdRx)

	// The lost box returns on its state dir.
	lost.links("up")
	lr.back = time.Now()
	lost.Start()
	if _, _, err := l.p.waitNormal(lbLoopNormalWait, lbLoopMinBackup); err != nil {
		t.Fatalf("round %d: after %s's return: %v", r, lost.Name, err)
	}
	lr.normal = time.Now()
	c := l.p.converge(t, 15*time.Second, crashCheck(acks))
	reportViolations(t, fmt.Sprintf("round %d: back in NORMAL: lost (invariant 2)", r), c.v)
	reportLines(t, fmt.Sprintf("round %d: back in NORMAL: databases differ", r), c.diff)
	return lr
}
