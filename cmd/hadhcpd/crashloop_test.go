package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"

	"github.com/hadhcpd/hadhcpd/agent"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// Crash loop (issue 8, point 1): a hot-standby pair under a steady stream
// of new clients loses its active box again and again — SIGKILL alone
// ("kill9": the kernel closes the sync TCP connection, the partner sees the
// FIN at once) or box loss ("crash": both cables down first, then SIGKILL,
// so nothing leaves) — and after each loss DESIGN.md's invariants are
// checked against what the clients were told:
//
//  1. no address ACKed to two clients with overlapping lease intervals,
//     across both boxes and all rounds;
//  2. every ACKed lease (still unexpired) is ACTIVE for its client in the
//     surviving box's database: a lease reaches the partner's disk before
//     its ACK leaves while both are up, the serving box's disk otherwise.

// crashPairConfig differs from pairConfig in the LAN (a /16 in the
// benchmarking range, so hundreds of new clients per round over many rounds
// never run the pool dry with 1 h leases); debug logs date each commit
// ("lease bind"), which times the takeover.
const crashPairConfig = `node:
  name: %[1]s
  state_dir: %[2]s/state
  control_socket: %[2]s/ctl.sock
  log_level: debug
vrrp:
  instances:
    - name: lan
      interface: eth0
      vrid: 52
      priority: %[3]d
      advert_interval: 100ms
      virtual_ips: [198.18.0.1/16]
dhcp:
  interfaces: [eth0]
  default_lease_time: 1h
  min_lease_time: 10s
  subnets:
    - subnet: 198.18.0.0/16
      pools: [{range: 198.18.1.0-198.18.100.255}]
      options: {routers: [198.18.0.1]}
failover:
  role: %[4]s
  listen: %[5]s
  peer: %[6]s
  vrrp_instance: lan
  max_response_delay: 3s
  auth: {psk_file: %[7]s}
`

// crashPool is the number of addresses in crashPairConfig's pool.
const crashPool = 100 * 256

// Load and timing knobs of one round.
const (
	crashRate        = 200                    // new clients per second
	crashAfterKill   = 2 * time.Second        // load kept running against the survivor
	crashStepTimeout = 600 * time.Millisecond // DISCOVER→OFFER, REQUEST→ACK
	crashMaxInFlight = 400                    // bounds goroutines if the pair stops answering
	// crashMinBackup is what the standby must own as BACKUP before a
	// round: ~crashAfterKill × crashRate new clients are served from it.
	crashMinBackup = 600
)

type crashPair struct {
	net      *testnet.Lab
	lan      string
	pri, sec *pairBox
}

// newCrashPair is newPair with the "hdc" prefix and crashPairConfig.
func newCrashPair(t *testing.T) *crashPair { return newLoadPair(t, "hdc") }

// newLoadPair builds and starts a crashPairConfig pair in a lab whose
// namespaces start with prefix (one per test, so tests can run side by side).
func newLoadPair(t *testing.T, prefix string) *crashPair {
	t.Helper()
	binary(t)
	n := testnet.New(t, prefix)
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
	mk := func(name, role, lanAddr, listen, peer string, prio int) *pairBox {
		b := &pairBox{t: t, name: name, host: n.Host(name), dir: filepath.Join(dir, name), log: &syncBuf{}}
		b.host.Connect(lan, "eth0", lanAddr)
		if err := os.MkdirAll(b.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		b.cfg = filepath.Join(b.dir, "hadhcpd.yaml")
		c := fmt.Sprintf(crashPairConfig, name, b.dir, prio, role, listen, peer, pskFile)
		if err := os.WriteFile(b.cfg, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(binary(t), "check-config", "-c", b.cfg).CombinedOutput(); err != nil {
			t.Fatalf("check-config %s: %v\n%s", name, err, out)
		}
		return b
	}
	p.pri = mk("pri", "primary", "198.18.0.2/16", "198.51.100.1:647", "198.51.100.2:647", 200)
	p.sec = mk("sec", "secondary", "198.18.0.3/16", "198.51.100.2:647", "198.51.100.1:647", 100)
	n.Cable(p.pri.host, "sync0", "198.51.100.1/24", p.sec.host, "sync0", "198.51.100.2/24")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("primary log (tail):\n%s", logTail(p.pri.log.String(), 150))
			t.Logf("secondary log (tail):\n%s", logTail(p.sec.log.String(), 150))
		}
	})
	crashStart(p.sec)
	crashStart(p.pri)
	return p
}

// crashStart (re)starts a box on its state dir, appending to its one log.
func crashStart(b *pairBox) {
	b.t.Helper()
	_, _ = fmt.Fprintf(b.log, "--- start %s ---\n", time.Now().Format(time.RFC3339Nano))
	b.proc = b.host.Start(b.log, binary(b.t), "run", "-c", b.cfg)
}

func logTail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// tryStatus is pairBox.status without t.Fatal: a box starting up has no
// control socket yet.
func tryStatus(b *pairBox) (agent.Status, error) {
	var st agent.Status
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary(b.t), "status", "--json", "-c", b.cfg).Output()
	if err != nil {
		return st, err
	}
	err = json.Unmarshal(out, &st)
	return st, err
}

// waitNormal waits (bounded) until both boxes report failover NORMAL, the
// primary holds the VIP and is VRRP master, and the secondary owns enough
// BACKUP addresses for a takeover under load. It returns the active box.
//
// The primary, not "whichever box holds the VIP": the primary has the higher
// VRRP priority and preempts once it is synchronised again, which can be a
// moment after both report NORMAL; a round started before that would kill
// the box that is about to become the standby.
func (p *crashPair) waitNormal(t *testing.T, d time.Duration) (active, standby *pairBox) {
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
		switch {
		case errp != nil || errs != nil:
			last = fmt.Sprintf("status: %v / %v", errp, errs)
		case sp.Failover == nil || ss.Failover == nil || sp.Failover.State != "NORMAL" || ss.Failover.State != "NORMAL":
			last = fmt.Sprintf("failover %+v / %+v", sp.Failover, ss.Failover)
		default:
			pv, sv := crashHasVIP(p.pri), crashHasVIP(p.sec)
			var stb agent.Status
			switch {
			case pv && !sv && len(sp.VRRP) == 1 && sp.VRRP[0].State == "MASTER":
				active, standby, stb = p.pri, p.sec, ss
			default:
				last = fmt.Sprintf("VIP on primary %v, secondary %v; vrrp %+v / %+v", pv, sv, sp.VRRP, ss.VRRP)
			}
			if active != nil {
				if len(stb.Pools) == 1 && stb.Pools[0].Backup >= crashMinBackup {
					return active, standby
				}
				last = fmt.Sprintf("standby %s pools %+v, want ≥ %d BACKUP", standby.name, stb.Pools, crashMinBackup)
				active, standby = nil, nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("pair not back in NORMAL with a standby ready within %s: %s", d, last)
	return nil, nil
}

// crashHasVIP reports whether the box holds crashPairConfig's VIP on eth0.
func crashHasVIP(b *pairBox) bool {
	out, err := exec.Command("ip", "-n", b.host.Name, "-4", "-o", "addr", "show", "dev", "eth0").Output()
	return err == nil && strings.Contains(string(out), " 198.18.0.1/")
}

// activeLeases reads the ACTIVE leases of a box's database: address → lease.
func activeLeases(t *testing.T, b *pairBox) map[netip.Addr]agent.LeaseInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary(t), "leases", "--json", "--state", "active", "-c", b.cfg).Output()
	if err != nil {
		t.Fatalf("%s: hadhcpd leases: %v", b.name, err)
	}
	var ls []agent.LeaseInfo
	if err := json.Unmarshal(out, &ls); err != nil {
		t.Fatalf("%s: leases --json: %v", b.name, err)
	}
	m := make(map[netip.Addr]agent.LeaseInfo, len(ls))
	for _, l := range ls {
		a, err := netip.ParseAddr(l.IP)
		if err != nil {
			t.Fatalf("%s: leases --json: bad ip %q", b.name, l.IP)
		}
		m[a] = l
	}
	return m
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
			a := crashAck{round: round, hw: hw.String(), at: time.Now(), from: ack.from}
			a.ip, _ = netip.AddrFromSlice(ack.m.YourIPAddr.To4())
			a.serverID, _ = netip.AddrFromSlice(ack.m.ServerIdentifier().To4())
			a.expiry = a.at.Add(ack.m.IPAddressLeaseTime(0))
			c.acks = append(c.acks, a)
		} else if attempt == 1 {
			c.failed++
		}
		c.mu.Unlock()
		if ok {
			return
		}
	}
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

// checkCrash checks the ACKs against the survivor's ACTIVE leases
// (invariant 2: every unexpired ACKed lease is ACTIVE for its client) and
// against each other (invariant 1: no address ACKed to two clients with
// overlapping lease intervals).
func checkCrash(acks []crashAck, survivor map[netip.Addr]agent.LeaseInfo, now time.Time) crashViolation {
	var v crashViolation
	for _, a := range acks {
		if !a.expiry.After(now) {
			continue
		}
		l, ok := survivor[a.ip]
		if !ok || !strings.EqualFold(l.HWAddr, a.hw) {
			got := "not active"
			if ok {
				got = "active for " + l.HWAddr
			}
			v.lost = append(v.lost, fmt.Sprintf("round %d: %s ACKed to %s by %s at %s (expiry %s): %s in the survivor",
				a.round, a.ip, a.hw, a.from, a.at.Format("15:04:05.000"), a.expiry.Format("15:04:05"), got))
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
	survivor := map[netip.Addr]agent.LeaseInfo{
		ip("198.18.1.1"): {IP: "198.18.1.1", HWAddr: "02:cc:00:00:00:01"},
		ip("198.18.1.3"): {IP: "198.18.1.3", HWAddr: "02:cc:00:00:00:09"},
		ip("198.18.1.4"): {IP: "198.18.1.4", HWAddr: "02:cc:00:00:00:05"},
		ip("198.18.1.6"): {IP: "198.18.1.6", HWAddr: "02:cc:00:00:00:07"},
	}
	v := checkCrash(acks, survivor, now)
	// lost: .2 (missing), .3 (other client), .6 for :06 (active for :07)
	if len(v.lost) != 3 || !strings.Contains(v.lost[0], "198.18.1.2") || !strings.Contains(v.lost[1], "198.18.1.3") || !strings.Contains(v.lost[2], "198.18.1.6") {
		t.Errorf("lost = %q, want 198.18.1.2, 198.18.1.3, 198.18.1.6", v.lost)
	}
	if len(v.dups) != 1 || !strings.Contains(v.dups[0], "198.18.1.6") {
		t.Errorf("dups = %q, want one for 198.18.1.6", v.dups)
	}
}

// firstBindAfter is the time from killAt to the first "lease bind" the box
// logged after marker, or -1.
func firstBindAfter(log, marker string, killAt time.Time) time.Duration {
	_, tail, ok := strings.Cut(log, marker)
	if !ok {
		return -1
	}
	m := bindRx.FindStringSubmatch(tail)
	if m == nil {
		return -1
	}
	ts, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		return -1
	}
	return ts.Sub(killAt)
}

var bindRx = regexp.MustCompile(`(?m)^time=(\S+) .*msg="lease bind"`)

// crashRounds is HADHCPD_CRASH_ROUNDS (default 3, so `make test` stays
// quick; issue 8 asks for 20 runs).
func crashRounds(t *testing.T) int {
	s := os.Getenv("HADHCPD_CRASH_ROUNDS")
	if s == "" {
		return 3
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 200 {
		t.Fatalf("HADHCPD_CRASH_ROUNDS=%q: want a number of rounds 1–200", s)
	}
	return n
}

// TestIntegrationFailoverCrashLoop: rounds of load, loss of the active box
// at a random moment 1–3 s in (alternately SIGKILL alone and box loss),
// 2 s more load against the standby, invariant checks, restart of the lost
// box on its state dir, back to NORMAL.
func TestIntegrationFailoverCrashLoop(t *testing.T) {
	rounds := crashRounds(t)
	if rounds > 255 {
		t.Fatal("chaddr has one byte for the round")
	}
	p := newCrashPair(t)
	cl := p.net.Host("cl")
	cl.Connect(p.lan, "eth0")
	load := newLoadClient(t, cl)

	type summary struct {
		kind                     string
		before, after, lost, dup int
		firstAck                 time.Duration
	}
	var sums []summary
	for r := range rounds {
		kind := "kill9"
		if r%2 == 1 {
			kind = "crash"
		}
		active, standby := p.waitNormal(t, 90*time.Second)

		load.mu.Lock()
		start := len(load.acks)
		load.mu.Unlock()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() { done <- load.run(ctx, r) }()

		time.Sleep(time.Second + mrand.N(2*time.Second))
		marker := fmt.Sprintf("--- round %d: %s of %s ---\n", r, kind, active.name)
		_, _ = fmt.Fprint(standby.log, marker)
		killAt := time.Now()
		if kind == "crash" {
			// Box loss: cables first, so no FIN leaves (PEERS.md).
			active.host.MustIP("link", "set", "eth0", "down")
			active.host.MustIP("link", "set", "sync0", "down")
		}
		if err := active.proc.Signal(syscall.SIGKILL); err != nil {
			cancel()
			t.Fatal(err)
		}
		time.Sleep(crashAfterKill)
		cancel()
		var started int
		select {
		case started = <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("load client did not stop within 10s")
		}
		if exited, _ := active.proc.Wait(10 * time.Second); !exited {
			t.Fatalf("%s did not die of SIGKILL within 10s", active.name)
		}

		load.mu.Lock()
		all := append([]crashAck(nil), load.acks...)
		failed := load.failed
		load.failed = 0
		load.mu.Unlock()
		s := summary{kind: kind, firstAck: -1}
		froms := map[netip.Addr]int{}
		for _, a := range all[start:] {
			froms[a.from]++
			if a.at.Before(killAt) {
				s.before++
			} else {
				s.after++
			}
		}
		// The standby's own log dates its first commit after the kill
		// (an ACK's IP source does not tell the boxes apart: see froms).
		s.firstAck = firstBindAfter(standby.log.String(), marker, killAt)
		v := checkCrash(all, activeLeases(t, standby), time.Now())
		s.lost, s.dup = len(v.lost), len(v.dups)
		sums = append(sums, s)
		t.Logf("round %d (%s of %s): %d clients started, ACKs before the kill %d, after %d, no ACK %d; lost %d, duplicates %d; kill → standby's first ACK %v (ACK sources %v)",
			r, kind, active.name, started, s.before, s.after, failed, s.lost, s.dup, s.firstAck.Round(time.Millisecond), froms)
		for _, l := range v.lost {
			t.Errorf("lost (invariant 2): %s", l)
		}
		for _, d := range v.dups {
			t.Errorf("duplicate (invariant 1): %s", d)
		}
		if s.before == 0 {
			t.Errorf("round %d: no ACK before the kill: the load client did not work", r)
		}
		if s.firstAck < 0 {
			t.Errorf("round %d: the standby %s ACKed no new client within %v of the kill", r, standby.name, crashAfterKill)
		}
		if t.Failed() {
			t.FailNow()
		}

		// Restart the lost box on its own state dir.
		if kind == "crash" {
			active.host.MustIP("link", "set", "eth0", "up")
			active.host.MustIP("link", "set", "sync0", "up")
		}
		crashStart(active)
	}
	p.waitNormal(t, 90*time.Second)
	var before, after, lost, dup int
	var worst time.Duration
	for _, s := range sums {
		before += s.before
		after += s.after
		lost += s.lost
		dup += s.dup
		worst = max(worst, s.firstAck)
	}
	t.Logf("%d rounds: %d ACKs before kills, %d after; lost %d, duplicates %d; slowest kill → standby's first ACK %v",
		rounds, before, after, lost, dup, worst.Round(time.Millisecond))
	if crashPool-len(activeLeases(t, p.pri)) < crashRate*5 {
		t.Log("note: the pool is nearly used up; fewer rounds per run or a bigger pool")
	}
}
