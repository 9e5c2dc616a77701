package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"

	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// Crash loop: a hot-standby pair under a steady stream
// of new clients loses its active box again and again — SIGKILL alone
// ("kill9": the kernel closes the sync TCP connection, the partner sees the
// FIN at once) or box loss ("crash": both cables down first, then SIGKILL,
// so nothing leaves) — and after each loss the pair's invariants are
// checked against what the clients were told:
//
//  1. no address ACKed to two clients with overlapping lease intervals,
//     across both boxes and all rounds;
//  2. every ACKed lease (still unexpired) is ACTIVE for its client in the
//     surviving box's database: a lease reaches the partner's disk before
//     its ACK leaves while both are up, the serving box's disk otherwise.

// loadPairConfig is the config of the load tests' pairs (crash loop,
// partitions, skew, disk loss, chaos, rejoin): a LAN in the benchmarking
// range, large enough that hundreds of new clients per round over many
// rounds never run the pool dry with 1 h leases. Verbs 1–7 are a box's
// (loadSpec.config), 8–11 the test's (loadSpec).
const loadPairConfig = `node:
  name: %[1]s
  state_dir: %[2]s/state
  control_socket: %[2]s/ctl.sock
  log_level: %[8]s
vrrp:
  instances:
    - name: lan
      interface: eth0
      vrid: 52
      priority: %[3]d
      advert_interval: 100ms
      virtual_ips: [198.18.0.1/%[9]d]
dhcp:
  interfaces: [eth0]
  default_lease_time: 1h
  min_lease_time: 10s
  subnets:
    - subnet: 198.18.0.0/%[9]d
      options: {routers: [198.18.0.1]}
      pools:
%[10]sfailover:
  role: %[4]s
  listen: %[5]s
  peer: %[6]s
  vrrp_instance: lan
  max_response_delay: 3s
%[11]s  auth: {psk_file: %[7]s}
`

// loadSpec is what a load test sets in loadPairConfig.
type loadSpec struct {
	bits     int    // the LAN is 198.18.0.0/bits; boxes .2 and .3, VIP .1
	logLevel string // debug dates each commit ("lease bind"), which times a takeover
	pools    string // the subnet's pools: YAML list items, one a line
	failover string // more failover: lines
}

// crashSpec is the crash loop's pair: a /16, crashPool addresses, debug
// logs.
var crashSpec = loadSpec{bits: 16, logLevel: "debug", pools: "        - {range: 198.18.1.0-198.18.100.255}\n"}

// crashPool is the number of addresses in crashSpec's pool.
const crashPool = 100 * 256

// config is one box's config text.
func (s loadSpec) config(r boxRole, dir, psk string) string {
	return fmt.Sprintf(loadPairConfig, r.name, dir, r.prio, r.role, r.listen, r.peer, psk, s.logLevel, s.bits, s.pools, s.failover)
}

// Load and timing knobs of one round.
const (
	crashRate        = 200                    // new clients per second
	crashAfterKill   = 2 * time.Second        // load kept running against the survivor
	crashStepTimeout = 600 * time.Millisecond // DISCOVER→OFFER, REQUEST→ACK
	crashMaxInFlight = 400                    // bounds goroutines if the pair stops answering
	// crashMinBackup is what the standby must own as BACKUP before a
	// round: ~crashAfterKill × crashRate new clients are served from it.
	crashMinBackup = 600
	// crashNormalWait bounds the wait for a ready pair before a round.
	crashNormalWait = 90 * time.Second
)

// newLoadPair builds and starts a pair of spec in a lab whose namespaces
// start with prefix (one per test, so tests can run side by side).
func newLoadPair(t *testing.T, prefix string, spec loadSpec) *pair {
	t.Helper()
	return newPairLab(t, prefix, netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 0, 0}), spec.bits), 150, spec.config)
}

// mustNormal is waitNormal for the load tests: a standby ready for a
// round (crashMinBackup) within d, or the test ends.
func (p *pair) mustNormal(t *testing.T, d time.Duration) {
	t.Helper()
	if _, _, err := p.waitNormal(d, crashMinBackup); err != nil {
		t.Fatal(err)
	}
}

// crashAck is one DHCPACK the load client received.
type crashAck struct {
	round    int
	hw       string // chaddr, net.HardwareAddr.String form
	ip       netip.Addr
	serverID netip.Addr
	from     netip.Addr // the reply's IP source: which box sent it
	at       time.Time  // received
	expiry   time.Time  // at + lease time (option 51)
}

// loadClient runs DORA exchanges for many made-up clients over one UDP
// socket on port 68 in the client namespace. DISCOVER and REQUEST carry the
// broadcast flag (RFC 2131 §4.1), so OFFERs and ACKs come back to
// 255.255.255.255:68 and no L2 unicast is needed; replies are matched to
// their client by xid.
type loadClient struct {
	conn net.PacketConn

	mu      sync.Mutex
	waiters map[dhcpv4.TransactionID]chan reply
	acks    []crashAck
	failed  int // clients that got no ACK after the retry
}

func newLoadClient(t *testing.T, h *testnet.Host) *loadClient {
	t.Helper()
	var conn net.PacketConn
	err := h.Do(func() error {
		lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1); serr != nil {
					return
				}
				serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, "eth0")
			})
			return errors.Join(err, serr)
		}}
		var err error
		conn, err = lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:68")
		return err
	})
	if err != nil {
		t.Fatalf("load client socket in %s: %v", h.Name, err)
	}
	c := &loadClient{conn: conn, waiters: map[dhcpv4.TransactionID]chan reply{}}
	t.Cleanup(func() { _ = conn.Close() })
	go c.receive()
	return c
}

// receive hands each reply to the exchange waiting for its xid; it ends
// when the socket is closed.
func (c *loadClient) receive() {
	buf := make([]byte, 1500)
	for {
		n, from, err := c.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		m, err := dhcpv4.FromBytes(buf[:n])
		if err != nil || m.OpCode != dhcpv4.OpcodeBootReply {
			continue
		}
		rp := reply{m: m}
		if ua, ok := from.(*net.UDPAddr); ok {
			rp.from, _ = netip.AddrFromSlice(ua.IP.To4())
		}
		c.mu.Lock()
		ch := c.waiters[m.TransactionID]
		c.mu.Unlock()
		if ch != nil {
			select {
			case ch <- rp:
			default:
			}
		}
	}
}

// reply is a server's message and its IP source (which box sent it).
type reply struct {
	m    *dhcpv4.DHCPv4
	from netip.Addr
}

// await waits for a reply of one of the given types on ch.
func await(ch chan reply, d time.Duration, types ...dhcpv4.MessageType) (reply, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case rp := <-ch:
			for _, ty := range types {
				if rp.m.MessageType() == ty {
					return rp, true
				}
			}
		case <-timer.C:
			return reply{}, false
		}
	}
}

var bcast67 = &net.UDPAddr{IP: net.IPv4bcast, Port: 67}

// dora runs one client's DISCOVER-OFFER-REQUEST-ACK, with one retry of the
// whole exchange after a timeout or a NAK.
func (c *loadClient) dora(round int, hw net.HardwareAddr) {
	for attempt := 0; attempt < 2; attempt++ {
		var xid dhcpv4.TransactionID
		_, _ = rand.Read(xid[:])
		ch := make(chan reply, 4)
		c.mu.Lock()
		c.waiters[xid] = ch
		c.mu.Unlock()
		ack, ok := c.exchange(hw, xid, ch)
		c.mu.Lock()
		delete(c.waiters, xid)
		if ok {
			c.acks = append(c.acks, ackOf(round, hw, ack, time.Now()))
		} else if attempt == 1 {
			c.failed++
		}
		c.mu.Unlock()
		if ok {
			return
		}
	}
}

// ackOf is the record of an ACK received at at.
func ackOf(round int, hw net.HardwareAddr, rp reply, at time.Time) crashAck {
	a := crashAck{round: round, hw: hw.String(), at: at, from: rp.from}
	a.ip, _ = netip.AddrFromSlice(rp.m.YourIPAddr.To4())
	a.serverID, _ = netip.AddrFromSlice(rp.m.ServerIdentifier().To4())
	a.expiry = a.at.Add(rp.m.IPAddressLeaseTime(0))
	return a
}

// exchange is one attempt; it reports the ACK, or false after a timeout or
// a NAK.
func (c *loadClient) exchange(hw net.HardwareAddr, xid dhcpv4.TransactionID, ch chan reply) (reply, bool) {
	disc, err := dhcpv4.NewDiscovery(hw, dhcpv4.WithTransactionID(xid), dhcpv4.WithBroadcast(true))
	if err != nil {
		return reply{}, false
	}
	if _, err := c.conn.WriteTo(disc.ToBytes(), bcast67); err != nil {
		return reply{}, false
	}
	offer, ok := await(ch, crashStepTimeout, dhcpv4.MessageTypeOffer)
	if !ok {
		return reply{}, false
	}
	req, err := dhcpv4.NewRequestFromOffer(offer.m, dhcpv4.WithBroadcast(true))
	if err != nil {
		return reply{}, false
	}
	if _, err := c.conn.WriteTo(req.ToBytes(), bcast67); err != nil {
		return reply{}, false
	}
	rp, ok := await(ch, crashStepTimeout, dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)
	if !ok || rp.m.MessageType() != dhcpv4.MessageTypeAck {
		return reply{}, false
	}
	return rp, true
}

// run starts crashRate new clients per second until ctx ends, then waits
// for the exchanges under way (each is bounded by its timeouts). Client n
// of round r has chaddr 02:cc:rr:00:nn:nn.
func (c *loadClient) run(ctx context.Context, round int) int {
	tick := time.NewTicker(time.Second / crashRate)
	defer tick.Stop()
	sem := make(chan struct{}, crashMaxInFlight)
	var wg sync.WaitGroup
	n := 0
	for n < 1<<16 {
		select {
		case <-ctx.Done():
			wg.Wait()
			return n
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			continue // the pair is not answering: do not pile up
		}
		hw := net.HardwareAddr{0x02, 0xcc, byte(round), 0, byte(n >> 8), byte(n)}
		n++
		wg.Go(func() {
			defer func() { <-sem }()
			c.dora(round, hw)
		})
	}
	wg.Wait()
	return n
}

// crashViolation lists broken invariants, one line each.
type crashViolation struct {
	lost, dups []string
}

// checkCrash checks the ACKs against the ACTIVE leases of one box's
// database, db (invariant 2: every unexpired ACKed lease is ACTIVE for its
// client), and against each other (invariant 1: no address ACKed to two
// clients with overlapping lease intervals); box names it in the lines.
func checkCrash(acks []crashAck, db map[netip.Addr]control.LeaseInfo, box string, now time.Time) crashViolation {
	var v crashViolation
	for _, a := range acks {
		if !a.expiry.After(now) {
			continue
		}
		l, ok := db[a.ip]
		if !ok || !strings.EqualFold(l.HWAddr, a.hw) {
			got := "not active"
			if ok {
				got = "active for " + l.HWAddr
			}
			v.lost = append(v.lost, fmt.Sprintf("round %d: %s ACKed to %s by %s at %s (expiry %s): %s in %s's database",
				a.round, a.ip, a.hw, a.from, a.at.Format("15:04:05.000"), a.expiry.Format("15:04:05"), got, box))
		}
	}
	byIP := map[netip.Addr][]crashAck{}
	for _, a := range acks {
		byIP[a.ip] = append(byIP[a.ip], a)
	}
	for ip, as := range byIP {
		sort.Slice(as, func(i, j int) bool { return as[i].at.Before(as[j].at) })
		for i := range as {
			for j := i + 1; j < len(as); j++ {
				x, y := as[i], as[j]
				if x.hw != y.hw && y.at.Before(x.expiry) {
					v.dups = append(v.dups, fmt.Sprintf("%s: ACKed to %s (round %d, by %s, %s–%s) and to %s (round %d, by %s, at %s)",
						ip, x.hw, x.round, x.from, x.at.Format("15:04:05.000"), x.expiry.Format("15:04:05"),
						y.hw, y.round, y.from, y.at.Format("15:04:05.000")))
				}
			}
		}
	}
	return v
}

// TestCrashCheckerDetects guards the checker itself: a missing lease, a
// lease active for another client and an overlapping double ACK are found;
// an expired ACK and a reuse after expiry are not violations.
func TestCrashCheckerDetects(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	ip := netip.MustParseAddr
	ack := func(hw, a string, at time.Time, d time.Duration) crashAck {
		return crashAck{hw: hw, ip: ip(a), at: at, expiry: at.Add(d)}
	}
	acks := []crashAck{
		ack("02:cc:00:00:00:01", "198.18.1.1", now.Add(-time.Minute), time.Hour),    // ok
		ack("02:cc:00:00:00:02", "198.18.1.2", now.Add(-time.Minute), time.Hour),    // lost
		ack("02:cc:00:00:00:03", "198.18.1.3", now.Add(-time.Minute), time.Hour),    // active for another client
		ack("02:cc:00:00:00:04", "198.18.1.4", now.Add(-2*time.Hour), time.Hour),    // expired: not required
		ack("02:cc:00:00:00:05", "198.18.1.4", now.Add(-time.Minute), time.Hour),    // reuse after expiry: fine
		ack("02:cc:00:00:00:06", "198.18.1.6", now.Add(-2*time.Minute), time.Hour),  // dup with the next
		ack("02:cc:00:00:00:07", "198.18.1.6", now.Add(-time.Minute), time.Hour),    // dup, and active
		ack("02:cc:00:00:00:01", "198.18.1.1", now.Add(-30*time.Second), time.Hour), // renewal, same client
	}
	survivor := map[netip.Addr]control.LeaseInfo{
		ip("198.18.1.1"): {IP: "198.18.1.1", HWAddr: "02:cc:00:00:00:01"},
		ip("198.18.1.3"): {IP: "198.18.1.3", HWAddr: "02:cc:00:00:00:09"},
		ip("198.18.1.4"): {IP: "198.18.1.4", HWAddr: "02:cc:00:00:00:05"},
		ip("198.18.1.6"): {IP: "198.18.1.6", HWAddr: "02:cc:00:00:00:07"},
	}
	v := checkCrash(acks, survivor, "sec", now)
	// lost: .2 (missing), .3 (other client), .6 for :06 (active for :07)
	if len(v.lost) != 3 || !strings.Contains(v.lost[0], "198.18.1.2") || !strings.Contains(v.lost[1], "198.18.1.3") || !strings.Contains(v.lost[2], "198.18.1.6") {
		t.Errorf("lost = %q, want 198.18.1.2, 198.18.1.3, 198.18.1.6", v.lost)
	}
	if len(v.dups) != 1 || !strings.Contains(v.dups[0], "198.18.1.6") {
		t.Errorf("dups = %q, want one for 198.18.1.6", v.dups)
	}
	for _, l := range v.lost {
		if !strings.HasSuffix(l, "in sec's database") {
			t.Errorf("lost line %q does not name the box", l)
		}
	}
}

// crashRound is one round of the crash loop (killRound).
type crashRound struct {
	r               int
	kind            string // "kill9" (SIGKILL alone) or "crash" (box loss)
	active, standby *pairBox
	killAt          time.Time
	started, failed int                // clients started this round; clients without an ACK after the retry
	before, after   int                // this round's ACKs before and after the kill
	froms           map[netip.Addr]int // this round's ACKs by IP source
	firstAck        time.Duration      // kill → the standby's first "lease bind"; -1: none
	acks            []crashAck         // every ACK so far, all rounds
}

// killRound runs round r on a ready pair (the primary active): new clients
// at crashRate, the loss of the active box at a random moment 1–3 s in
// (SIGKILL alone in even rounds, box loss in odd ones), crashAfterKill more
// load against the standby. It fails the test (not fatally) when the load
// client got no ACK before the kill or the standby none after it. The
// caller checks the invariants against the standby's database, then
// restarts the lost box (restart).
func (p *pair) killRound(t *testing.T, load *loadClient, r int) crashRound {
	t.Helper()
	c := crashRound{r: r, kind: "kill9", active: p.pri, standby: p.sec, firstAck: -1, froms: map[netip.Addr]int{}}
	if r%2 == 1 {
		c.kind = "crash"
	}
	load.mu.Lock()
	start := len(load.acks)
	load.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // a t.Fatal below must not leave the load running
	done := make(chan int, 1)
	go func() { done <- load.run(ctx, r) }()

	time.Sleep(time.Second + mrand.N(2*time.Second))
	marker := fmt.Sprintf("--- round %d: %s of %s ---\n", r, c.kind, c.active.Name)
	_, _ = fmt.Fprint(c.standby.Log, marker)
	c.killAt = time.Now()
	if c.kind == "crash" {
		c.active.links("down")
	}
	if err := c.active.Proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(crashAfterKill)
	cancel()
	select {
	case c.started = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("load client did not stop within 10s")
	}
	if exited, _ := c.active.Proc.Wait(10 * time.Second); !exited {
		t.Fatalf("%s did not die of SIGKILL within 10s", c.active.Name)
	}

	load.mu.Lock()
	c.acks = append([]crashAck(nil), load.acks...)
	c.failed = load.failed
	load.failed = 0
	load.mu.Unlock()
	for _, a := range c.acks[start:] {
		c.froms[a.from]++
		if a.at.Before(c.killAt) {
			c.before++
		} else {
			c.after++
		}
	}
	// The standby's own log dates its first commit after the kill (an
	// ACK's IP source does not tell the boxes apart: see froms).
	if at, _ := logEvent(c.standby.Log.String(), marker, bindRx); !at.IsZero() {
		c.firstAck = at.Sub(c.killAt)
	}
	if c.before == 0 {
		t.Errorf("round %d: no ACK before the kill: the load client did not work", r)
	}
	if c.after == 0 || c.firstAck < 0 {
		t.Errorf("round %d: the standby %s ACKed no new client within %v of the kill", r, c.standby.Name, crashAfterKill)
	}
	return c
}

// restart brings the round's lost box back on its own state dir.
func (c crashRound) restart() {
	if c.kind == "crash" {
		c.active.links("up")
	}
	c.active.Start()
}

// TestIntegrationFailoverCrashLoop: rounds of load, loss of the active box
// at a random moment 1–3 s in (alternately SIGKILL alone and box loss),
// 2 s more load against the standby, invariant checks, restart of the lost
// box on its state dir, back to NORMAL.
func TestIntegrationFailoverCrashLoop(t *testing.T) {
	// HADHCPD_CRASH_ROUNDS: 3 by default, so `make test` stays quick
	// (HADHCPD_CRASH_ROUNDS=20 for a long run); chaddr has one byte for the round.
	rounds := envCount(t, "HADHCPD_CRASH_ROUNDS", 3, 1, 200, "rounds")
	p := newLoadPair(t, "hdc", crashSpec)
	cl := p.net.Host("cl")
	cl.Connect(p.lan, "eth0")
	load := newLoadClient(t, cl)

	var before, after, lost, dup int
	var worst time.Duration
	for r := range rounds {
		p.mustNormal(t, crashNormalWait)
		c := p.killRound(t, load, r)
		v := checkCrash(c.acks, activeLeases(t, c.standby), c.standby.Name, time.Now())
		t.Logf("round %d (%s of %s): %d clients started, ACKs before the kill %d, after %d, no ACK %d; lost %d, duplicates %d; kill → standby's first ACK %v (ACK sources %v)",
			r, c.kind, c.active.Name, c.started, c.before, c.after, c.failed, len(v.lost), len(v.dups), c.firstAck.Round(time.Millisecond), c.froms)
		reportViolations(t, "lost (invariant 2)", v)
		if t.Failed() {
			t.FailNow()
		}
		before, after, lost, dup = before+c.before, after+c.after, lost+len(v.lost), dup+len(v.dups)
		worst = max(worst, c.firstAck)
		c.restart()
	}
	p.mustNormal(t, crashNormalWait)
	t.Logf("%d rounds: %d ACKs before kills, %d after; lost %d, duplicates %d; slowest kill → standby's first ACK %v",
		rounds, before, after, lost, dup, worst.Round(time.Millisecond))
	if crashPool-len(activeLeases(t, p.pri)) < crashRate*5 {
		t.Log("note: the pool is nearly used up; fewer rounds per run or a bigger pool")
	}
}
