// Package testnet builds throwaway network labs for root integration tests:
// network namespaces ("hosts"), bridges ("switches") living in a private hub
// namespace, and veth cables between them. Everything is named with a unique
// prefix, removed in t.Cleanup even when the test fails, and every process a
// test starts in a lab is stopped by PID.
//
// Only addresses from 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
// 198.18.0.0/15 may be used inside a lab (Connect refuses others), so test
// traffic never leaves the namespaces the test made.
package testnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// RequireRoot skips the test with a clear message unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to create network namespaces (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: iproute2 'ip' not found")
	}
}

// RequireCmd skips the test unless every named program is installed.
func RequireCmd(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("skipped: %s not installed (make deps installs it)", n)
		}
	}
}

var allowed = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
}

// Allowed reports whether a lab may use addr.
func Allowed(addr netip.Addr) bool {
	for _, p := range allowed {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Lab is one test's set of namespaces.
type Lab struct {
	t      testing.TB
	id     string // short unique prefix, e.g. "hdv3fa1"
	hub    string // namespace holding the bridges
	mu     sync.Mutex
	hosts  []*Host
	procs  []*Proc
	veths  int
	closed bool
}

// New creates an empty lab whose names start with prefix (2-4 letters, unique
// per package, e.g. "hdv" for vrrp tests) plus random hex.
func New(t testing.TB, prefix string) *Lab {
	t.Helper()
	RequireRoot(t)
	var b [2]byte
	_, _ = rand.Read(b[:])
	l := &Lab{t: t, id: prefix + hex.EncodeToString(b[:])}
	l.hub = l.id + "-hub"
	if err := ip("netns", "add", l.hub); err != nil {
		t.Fatalf("testnet: %v", err)
	}
	t.Cleanup(l.Close)
	l.mustNS(l.hub, "link", "set", "lo", "up")
	return l
}

// ID is the lab's unique name prefix.
func (l *Lab) ID() string { return l.id }

// Switch creates a bridge in the hub namespace and returns its name.
func (l *Lab) Switch(name string) string {
	l.t.Helper()
	br := "br-" + name
	l.mustNS(l.hub, "link", "add", br, "type", "bridge")
	// Forward at once: no STP listening delay.
	l.mustNS(l.hub, "link", "set", br, "type", "bridge", "forward_delay", "0", "stp_state", "0")
	l.mustNS(l.hub, "link", "set", br, "up")
	return br
}

// Host is one network namespace.
type Host struct {
	lab  *Lab
	Name string // the namespace name, usable with `ip netns exec`
}

// Host creates a namespace with loopback up.
func (l *Lab) Host(name string) *Host {
	l.t.Helper()
	h := &Host{lab: l, Name: l.id + "-" + name}
	if err := ip("netns", "add", h.Name); err != nil {
		l.t.Fatalf("testnet: %v", err)
	}
	l.mu.Lock()
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	l.mustNS(h.Name, "link", "set", "lo", "up")
	// No IPv6 chatter (DAD, router solicitations) in captures.
	_ = ip("netns", "exec", h.Name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	return h
}

// Connect plugs a new interface ifname of h into the bridge br (from Switch)
// and gives it the addresses (CIDR), which must lie in the test ranges.
// It returns the name of the bridge-side veth end, which SetPeerLink can use
// to cut the cable from the switch side.
func (h *Host) Connect(br, ifname string, addrs ...string) string {
	l := h.lab
	l.t.Helper()
	l.mu.Lock()
	l.veths++
	peer := fmt.Sprintf("%sv%d", l.id, l.veths)
	l.mu.Unlock()
	if len(peer) > 15 {
		l.t.Fatalf("testnet: interface name %q too long", peer)
	}
	tmp := peer + "x"
	if err := ip("link", "add", tmp, "netns", h.Name, "type", "veth", "peer", "name", peer, "netns", l.hub); err != nil {
		l.t.Fatalf("testnet: %v", err)
	}
	l.mustNS(h.Name, "link", "set", tmp, "name", ifname)
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a)
		if err != nil || !Allowed(p.Addr()) {
			l.t.Fatalf("testnet: address %q is not in the test ranges", a)
		}
		l.mustNS(h.Name, "addr", "add", a, "dev", ifname)
	}
	l.mustNS(h.Name, "link", "set", ifname, "up")
	l.mustNS(l.hub, "link", "set", peer, "master", br)
	l.mustNS(l.hub, "link", "set", peer, "up")
	return peer
}

// Cable connects two hosts directly with a veth pair (no bridge).
func (l *Lab) Cable(a *Host, aif, aaddr string, b *Host, bif, baddr string) {
	l.t.Helper()
	l.mu.Lock()
	l.veths++
	n := l.veths
	l.mu.Unlock()
	ta, tb := fmt.Sprintf("%sc%da", l.id, n), fmt.Sprintf("%sc%db", l.id, n)
	if err := ip("link", "add", ta, "netns", a.Name, "type", "veth", "peer", "name", tb, "netns", b.Name); err != nil {
		l.t.Fatalf("testnet: %v", err)
	}
	for _, s := range []struct {
		h        *Host
		tmp, ifn string
		addr     string
	}{{a, ta, aif, aaddr}, {b, tb, bif, baddr}} {
		l.mustNS(s.h.Name, "link", "set", s.tmp, "name", s.ifn)
		if s.addr != "" {
			p, err := netip.ParsePrefix(s.addr)
			if err != nil || !Allowed(p.Addr()) {
				l.t.Fatalf("testnet: address %q is not in the test ranges", s.addr)
			}
			l.mustNS(s.h.Name, "addr", "add", s.addr, "dev", s.ifn)
		}
		l.mustNS(s.h.Name, "link", "set", s.ifn, "up")
	}
}

// SetPeerLink sets the bridge-side end of a cable (returned by Connect) up or
// down: the host keeps its interface but loses carrier, like a pulled cable.
func (l *Lab) SetPeerLink(peer string, up bool) error {
	st := "down"
	if up {
		st = "up"
	}
	return ip("-n", l.hub, "link", "set", peer, st)
}

// IP runs `ip ARGS...` inside the host's namespace.
func (h *Host) IP(args ...string) error {
	return ip(append([]string{"-n", h.Name}, args...)...)
}

// MustIP is IP that fails the test on error.
func (h *Host) MustIP(args ...string) {
	h.lab.t.Helper()
	h.lab.mustNS(h.Name, args...)
}

// Output runs a command in the namespace and returns its combined output.
func (h *Host) Output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.Name, name}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Proc is a process started in a lab host.
type Proc struct {
	Cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Wait waits for the process to exit, at most d; it reports whether it did.
func (p *Proc) Wait(d time.Duration) (exited bool, err error) {
	select {
	case <-p.done:
		return true, p.err
	case <-time.After(d):
		return false, nil
	}
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process (not to anything else).
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	return p.Cmd.Process.Signal(sig)
}

// Start runs a long-lived program in the namespace. `ip netns exec` execs, so
// the PID is the program's own. stdout and stderr go to the given writer (nil:
// discarded). The lab kills it at cleanup if it still runs.
func (h *Host) Start(out interface{ Write([]byte) (int, error) }, name string, args ...string) *Proc {
	h.lab.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.Name, name}, args...)...)
	if out != nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	// Own process group: a signal to the test runner does not reach it, and
	// cleanup can stop the program's own children (keepalived forks).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		h.lab.t.Fatalf("testnet: start %s in %s: %v", name, h.Name, err)
	}
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	h.lab.mu.Lock()
	h.lab.procs = append(h.lab.procs, p)
	h.lab.mu.Unlock()
	return p
}

// Do runs fn with the calling goroutine's thread switched into the host's
// namespace (for Go sockets opened by the test itself). Sockets opened in fn
// stay in that namespace after it returns.
func (h *Host) Do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	ns, err := netns.GetFromName(h.Name)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := netns.Set(ns); err != nil {
		return err
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			// A thread stuck in the wrong namespace must not be reused:
			// leave it locked so the runtime retires it.
			runtime.LockOSThread()
		}
	}()
	return fn()
}

// Close stops every process the lab started (its process group, by PID) and
// deletes the lab's namespaces. Safe to call twice.
func (l *Lab) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	procs, hosts := l.procs, l.hosts
	l.mu.Unlock()
	for _, p := range procs {
		if !p.Exited() {
			_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		}
		_, _ = p.Wait(5 * time.Second)
	}
	for _, h := range hosts {
		killNS(h.Name)
		_ = ip("netns", "del", h.Name)
	}
	_ = ip("netns", "del", l.hub)
}

// killNS stops processes still running in a lab namespace: they were started
// there by this test (a daemon's forked children, a client the test ran).
func killNS(name string) {
	out, err := exec.Command("ip", "netns", "pids", name).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func (l *Lab) mustNS(ns string, args ...string) {
	l.t.Helper()
	if err := ip(append([]string{"-n", ns}, args...)...); err != nil {
		l.t.Fatalf("testnet: %v", err)
	}
}

func ip(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
