package vrrp_test

// Helpers of the root tests and the takeover benchmark: a lab with two
// gateway boxes and an observer on one switch, the real hadhcpd binary and
// keepalived as the boxes' speakers, and an ARP prober on the observer.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/testnet"
	"github.com/mdlayher/arp"
	"golang.org/x/net/ipv4"
)

const (
	labVIP = "192.0.2.1"
	labObs = "192.0.2.100/24"
)

// hadhcpd is the binary under test, built once per test binary
// ($HADHCPD_BIN, when set, names one built beforehand: scripts/bench-vrrp.sh
// does that).
var hadhcpd = testnet.Binary{Pkg: "github.com/hadhcpd/hadhcpd/cmd/hadhcpd", Env: "HADHCPD_BIN"}

func hadhcpdBin(t testing.TB) string { return hadhcpd.Path(t) }

// syncBuf is a goroutine-safe log sink.
type syncBuf = testnet.Buffer

// gw is one gateway box of the lab.
type gw struct {
	lab   *testnet.Lab
	host  *testnet.Host
	name  string
	addr  string // 192.0.2.1x
	mac   net.HardwareAddr
	lanSw string // bridge-side end of lan0
	wanSw string // bridge-side end of wan0 (tracked)
	dir   string
	proc  *testnet.Proc
	log   *syncBuf
	kind  string // "hadhcpd" or "keepalived"
}

type vrrpLab struct {
	lab   *testnet.Lab
	a, b  *gw
	obs   *testnet.Host
	probe *prober
}

func newVRRPLab(t testing.TB, prefix string) *vrrpLab {
	t.Helper()
	lab := testnet.New(t, prefix)
	lan, wan := lab.Switch("lan"), lab.Switch("wan")
	l := &vrrpLab{lab: lab}
	mk := func(name, addr, wanAddr string) *gw {
		h := lab.Host(name)
		g := &gw{lab: lab, host: h, name: name, addr: addr, dir: t.TempDir()}
		g.lanSw = h.Connect(lan, "lan0", addr+"/24")
		g.wanSw = h.Connect(wan, "wan0", wanAddr+"/24")
		// The VIP must be answered by its holder only (not by the other
		// box's kernel because of a stale address): arp_ignore stays at
		// the kernel default, as on a real gateway.
		ifi, err := hostIface(h, "lan0")
		if err != nil {
			t.Fatal(err)
		}
		g.mac = ifi.HardwareAddr
		return g
	}
	l.a = mk("a", "192.0.2.11", "198.51.100.11")
	l.b = mk("b", "192.0.2.12", "198.51.100.12")
	l.obs = lab.Host("obs")
	l.obs.Connect(lan, "lan0", labObs)
	p, err := newProber(l.obs, netip.MustParseAddr(labVIP))
	if err != nil {
		t.Fatal(err)
	}
	l.probe = p
	t.Cleanup(p.close)
	return l
}

func hostIface(h *testnet.Host, name string) (*net.Interface, error) {
	var ifi *net.Interface
	err := h.Do(func() error {
		var err error
		ifi, err = net.InterfaceByName(name)
		return err
	})
	return ifi, err
}

// hadhcpdConfig is a VRRP-only config for box g.
func (g *gw) hadhcpdConfig(prio int, adv time.Duration, preempt bool) string {
	return fmt.Sprintf(`node:
  name: %s
  state_dir: %s
  control_socket: %s/ctl.sock
  metrics_listen: 127.0.0.1:9767
  log_level: debug
vrrp:
  instances:
    - name: lan
      interface: lan0
      vrid: 51
      priority: %d
      advert_interval: %s
      preempt: %v
      virtual_ips: [%s/24]
      track_interfaces: [wan0]
      garp: {repeat: 3, interval: 100ms}
`, g.name, g.dir, g.dir, prio, adv, preempt, labVIP)
}

func (g *gw) startHadhcpd(t testing.TB, prio int, adv time.Duration, preempt bool) {
	t.Helper()
	cfg := filepath.Join(g.dir, "hadhcpd.yaml")
	if err := os.WriteFile(cfg, []byte(g.hadhcpdConfig(prio, adv, preempt)), 0o600); err != nil {
		t.Fatal(err)
	}
	if g.log == nil {
		g.log = &syncBuf{}
	}
	g.kind = "hadhcpd"
	g.proc = g.host.Start(g.log, hadhcpdBin(t), "run", "-c", cfg)
}

// keepalived runs Debian's keepalived 2.2 with vrrp_version 3 on the same
// VRID, as PEERS.md describes (foreground, own pid and config files).
func (g *gw) startKeepalived(t testing.TB, prio int, adv time.Duration) {
	t.Helper()
	conf := fmt.Sprintf(`global_defs {
    router_id %s
    vrrp_version 3
}
vrrp_instance lab_vi_51 {
    state BACKUP
    interface lan0
    virtual_router_id 51
    priority %d
    advert_int %.2f
    virtual_ipaddress {
        %s/24 dev lan0
    }
}
`, g.name, prio, adv.Seconds(), labVIP)
	f := filepath.Join(g.dir, "keepalived.conf")
	if err := os.WriteFile(f, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if g.log == nil {
		g.log = &syncBuf{}
	}
	g.kind = "keepalived"
	// A SIGKILLed keepalived leaves its pid files; the next start would
	// refuse with "daemon is already running".
	for _, f := range []string{"keepalived.pid", "vrrp.pid", "checkers.pid"} {
		_ = os.Remove(filepath.Join(g.dir, f))
	}
	g.proc = g.host.Start(g.log, "keepalived", "-n", "-l", "-D", "-f", f,
		"-p", filepath.Join(g.dir, "keepalived.pid"), "-r", filepath.Join(g.dir, "vrrp.pid"),
		"-c", filepath.Join(g.dir, "checkers.pid"))
}

// kill9 is a hard kill. For keepalived the VRRP child goes first: killing
// only the parent is a graceful stop (PEERS.md).
func (g *gw) kill9() {
	if g.proc == nil {
		return
	}
	pid := g.proc.Cmd.Process.Pid
	for _, c := range children(pid) {
		_ = syscall.Kill(c, syscall.SIGKILL)
	}
	_ = g.proc.Signal(syscall.SIGKILL)
	_, _ = g.proc.Wait(5 * time.Second)
	g.proc = nil
}

func (g *gw) term() {
	if g.proc == nil {
		return
	}
	_ = g.proc.Signal(syscall.SIGTERM)
	_, _ = g.proc.Wait(10 * time.Second)
	g.proc = nil
}

// children lists the direct children of pid (by PID, from /proc).
func children(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		var c int
		if _, err := fmt.Sscan(f, &c); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// hasVIP reports whether the box's kernel holds the VIP.
func (g *gw) hasVIP(t testing.TB) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := g.host.Output(ctx, "ip", "-4", "-o", "addr", "show", "dev", "lan0")
	if err != nil {
		t.Fatalf("ip addr on %s: %v: %s", g.name, err, out)
	}
	return strings.Contains(out, " "+labVIP+"/")
}

// prober asks for the VIP's MAC from the observer every 10ms and keeps
// every reply with its arrival time.
type prober struct {
	c       *arp.Client
	vc      *ipv4.PacketConn // VRRP adverts seen on the segment
	adverts []reply          // mac field: the sender's IP
	vip     netip.Addr
	mu      sync.Mutex
	replies []reply
	stop    chan struct{}
	done    sync.WaitGroup
}

type reply struct {
	at  time.Time
	mac string
}

func newProber(h *testnet.Host, vip netip.Addr) (*prober, error) {
	var (
		c  *arp.Client
		vc *ipv4.PacketConn
	)
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName("lan0")
		if err != nil {
			return err
		}
		if c, err = arp.Dial(ifi); err != nil {
			return err
		}
		pc, err := net.ListenPacket("ip4:112", "0.0.0.0")
		if err != nil {
			return err
		}
		vc = ipv4.NewPacketConn(pc)
		return vc.JoinGroup(ifi, &net.IPAddr{IP: net.IPv4(224, 0, 0, 18)})
	})
	if err != nil {
		return nil, fmt.Errorf("observer sockets: %w", err)
	}
	p := &prober{c: c, vc: vc, vip: vip, stop: make(chan struct{})}
	p.done.Add(3)
	go p.ask()
	go p.read()
	go p.readAdverts()
	return p, nil
}

func (p *prober) ask() {
	defer p.done.Done()
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tk.C:
			_ = p.c.Request(p.vip)
		}
	}
}

func (p *prober) read() {
	defer p.done.Done()
	for {
		_ = p.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		pkt, _, err := p.c.Read()
		select {
		case <-p.stop:
			return
		default:
		}
		if err != nil {
			continue
		}
		if pkt.Operation != arp.OperationReply || pkt.SenderIP != p.vip {
			continue
		}
		p.mu.Lock()
		p.replies = append(p.replies, reply{at: time.Now(), mac: pkt.SenderHardwareAddr.String()})
		p.mu.Unlock()
	}
}

// readAdverts records the arrival of every advert with a non-zero
// priority, by source address.
func (p *prober) readAdverts() {
	defer p.done.Done()
	buf := make([]byte, 1500)
	for {
		_ = p.vc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, _, src, err := p.vc.ReadFrom(buf)
		select {
		case <-p.stop:
			return
		default:
		}
		if err != nil || n < 8 || buf[2] == 0 {
			continue
		}
		p.mu.Lock()
		p.adverts = append(p.adverts, reply{at: time.Now(), mac: src.String()})
		p.mu.Unlock()
	}
}

// nextAdvert waits for the next advert from src and returns its arrival.
func (p *prober) nextAdvert(src string, timeout time.Duration) (time.Time, bool) {
	since := time.Now()
	deadline := since.Add(timeout)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for _, a := range p.adverts {
			if a.at.After(since) && a.mac == src {
				p.mu.Unlock()
				return a.at, true
			}
		}
		p.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	return time.Time{}, false
}

func (p *prober) close() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	p.done.Wait()
	_ = p.c.Close()
	_ = p.vc.Close()
}

// firstFrom is the arrival of the first reply from mac after t0.
func (p *prober) firstFrom(mac net.HardwareAddr, t0 time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.replies {
		if r.at.After(t0) && r.mac == mac.String() {
			return r.at, true
		}
	}
	return time.Time{}, false
}

// macsBetween is the set of MACs that answered in [from, to).
func (p *prober) macsBetween(from, to time.Time) map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := map[string]int{}
	for _, r := range p.replies {
		if !r.at.Before(from) && r.at.Before(to) {
			m[r.mac]++
		}
	}
	return m
}

// waitTakeover waits until mac answers for the VIP after t0 and returns
// how long after t0 that was.
func (p *prober) waitTakeover(mac net.HardwareAddr, t0 time.Time, timeout time.Duration) (time.Duration, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if at, ok := p.firstFrom(mac, t0); ok {
			return at.Sub(t0), true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, false
}

// waitFor polls cond every 20ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metrics fetches the box's hadhcpd /metrics (its listener is on the
// namespace's loopback, so the connection is opened inside it).
func (g *gw) metrics() (string, error) {
	var out []byte
	err := g.host.Do(func() error {
		c, err := net.DialTimeout("tcp", "127.0.0.1:9767", 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")); err != nil {
			return err
		}
		out, err = io.ReadAll(c)
		return err
	})
	return string(out), err
}

// drops returns the non-zero advert drop counters in a /metrics text.
func drops(metrics string) []string {
	var out []string
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, "hadhcpd_vrrp_adverts_dropped_total{") && !strings.HasSuffix(l, " 0") {
			out = append(out, l)
		}
	}
	return out
}

// TestMain removes the hadhcpd binary the root tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	hadhcpd.Remove() // only what it built, never $HADHCPD_BIN
	os.Exit(code)
}
