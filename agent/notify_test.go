package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/agent/pair"
	"github.com/hadhcpd/hadhcpd/clock"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/config/configtest"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/vrrp"
	"github.com/hadhcpd/hadhcpd/vrrp/vrrptest"
	"github.com/prometheus/client_golang/prometheus"
)

func TestNotifierReadyAndWatchdog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	env := map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "20000"}
	n := newNotifier(func(k string) string { return env[k] })
	if n.watchdog != 20*time.Millisecond {
		t.Fatalf("watchdog = %v, want 20ms", n.watchdog)
	}
	if err := n.send("READY=1"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.keepalive(ctx, func() bool { return true })
	var got []string
	buf := make([]byte, 64)
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < 3 {
		k, err := pc.Read(buf)
		if err != nil {
			t.Fatalf("read after %q: %v", got, err)
		}
		got = append(got, string(buf[:k]))
	}
	if got[0] != "READY=1" || got[1] != "WATCHDOG=1" || got[2] != "WATCHDOG=1" {
		t.Fatalf("got %q, want READY=1 then WATCHDOG=1 pings", strings.Join(got, ","))
	}
}

func TestNotifierWithoutSystemd(t *testing.T) {
	n := newNotifier(func(string) string { return "" })
	if err := n.send("READY=1"); err != nil {
		t.Fatalf("send without NOTIFY_SOCKET: %v", err)
	}
	// Must return at once rather than block.
	done := make(chan struct{})
	go func() { n.keepalive(context.Background(), func() bool { return true }); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("keepalive blocked without a watchdog")
	}
}

// fakeLoop is a part's loop for the liveness tests: it answers the pings
// made so far when it goes round (turn), unless stuck.
type fakeLoop struct {
	progress
	stuck bool
}

func (f *fakeLoop) turn() {
	if !f.stuck {
		f.answer()
	}
}

func (f *fakeLoop) probe(name string) *probe {
	return &probe{name: name, bound: probeBound, ping: f.ping, pong: f.pong}
}

// TestLivenessStuckPart: the watchdog decision with an injected clock. A
// part whose loop stops answering is reported once its ping is older than
// the bound, by name; pending within the bound is still alive; a loop
// that goes round again is alive again. Logged once at WARN.
func TestLivenessStuckPart(t *testing.T) {
	var logs strings.Builder
	a, b := &fakeLoop{}, &fakeLoop{}
	l := &liveness{probes: []*probe{a.probe("vrrp instance lan"), b.probe("failover machine loop")},
		log: slog.New(slog.NewTextHandler(&logs, nil))}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tick := 5 * time.Second // keepalive at WatchdogSec/2
	now := t0
	for range 3 {
		if !l.alive(now) {
			t.Fatalf("healthy parts at %v: not alive", now.Sub(t0))
		}
		a.turn()
		b.turn()
		now = now.Add(tick)
	}
	b.stuck = true
	a.turn()
	// The ping made at the last healthy check is pending; within the
	// bound that is still alive.
	if err := l.check(now.Add(-tick + probeBound)); err != nil {
		t.Fatalf("pending within the bound: %v", err)
	}
	for range 3 {
		now = now.Add(tick)
		a.turn()
		if l.alive(now) {
			continue
		}
		break
	}
	err := l.check(now)
	if !errors.Is(err, ErrStuck) || !strings.HasPrefix(err.Error(), "failover machine loop: ") {
		t.Fatalf("stuck loop: %v, want ErrStuck naming the failover loop", err)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "failover machine loop") {
		t.Errorf("want one WARN naming the part, got:\n%s", logs.String())
	}
	// It goes round again (e.g. a long stall ended before systemd acted).
	b.stuck = false
	b.turn()
	if !l.alive(now.Add(tick)) {
		t.Errorf("recovered loop: not alive")
	}
	if !strings.Contains(logs.String(), "every part makes progress again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}

// TestLivenessFailure: a failure reported by a part (the lease database's
// sticky write error) stops the pings at once.
func TestLivenessFailure(t *testing.T) {
	var bad error
	l := &liveness{probes: []*probe{{name: "dhcp commit path", fail: func(time.Time) error { return bad }}},
		log: slog.New(slog.DiscardHandler)}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if !l.alive(now) {
		t.Fatal("healthy: not alive")
	}
	bad = fmt.Errorf("%w: write: input/output error", ErrLeaseDB)
	if err := l.check(now); !errors.Is(err, ErrLeaseDB) || !strings.HasPrefix(err.Error(), "dhcp commit path: ") {
		t.Fatalf("failed database: %v", err)
	}
}

// TestCommitWatch: commits that wait while none completes for longer
// than the bound are a stuck path; completions are progress; a database
// failure lasts until a commit succeeds again; errors about the request or
// the shutdown are not failures.
func TestCommitWatch(t *testing.T) {
	clk := &fakeNow{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	w := &commitWatch{clock: clk}
	const bound = 8 * time.Second
	if err := w.check(clk.t.Add(time.Hour), bound); err != nil {
		t.Fatalf("idle: %v", err)
	}
	w.begin()
	w.begin()
	if err := w.check(clk.t.Add(bound), bound); err != nil {
		t.Fatalf("waiting for the bound exactly: %v", err)
	}
	clk.t = clk.t.Add(bound / 2)
	w.end(nil) // one completed: progress
	if err := w.check(clk.t.Add(bound), bound); err != nil {
		t.Fatalf("after a completion: %v", err)
	}
	if err := w.check(clk.t.Add(bound+time.Millisecond), bound); !errors.Is(err, ErrStuck) || !strings.Contains(err.Error(), "1 commits waiting") {
		t.Fatalf("one commit waiting past the bound: %v, want ErrStuck", err)
	}
	w.end(fmt.Errorf("%w: 192.0.2.1: state 99", lease.ErrInvalid))
	w.begin()
	w.end(lease.ErrClosed)
	if err := w.check(clk.t.Add(time.Hour), bound); err != nil {
		t.Fatalf("request and shutdown errors: %v", err)
	}
	w.begin()
	w.end(fmt.Errorf("write journal: %w", syscall.EIO))
	w.begin()
	w.end(lease.ErrPoolExhausted) // not a success: the failure stands
	if err := w.check(clk.t, bound); !errors.Is(err, ErrLeaseDB) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("after a write failure: %v, want ErrLeaseDB with the cause", err)
	}
	w.begin()
	w.end(nil) // the database retried and wrote again
	if err := w.check(clk.t, bound); err != nil {
		t.Fatalf("after a commit succeeded again: %v", err)
	}
}

type fakeNow struct{ t time.Time }

func (f *fakeNow) Now() time.Time { return f.t }

// testPair is the pair of a primary's config, built and started as the
// agent does (over a real lease database; its partner never answers),
// and run until the test ends when run is set.
func testPair(t *testing.T, run bool) *pair.Pair {
	t.Helper()
	fo, _ := startTestPair(t, "", nil, run)
	return fo
}

// startTestPair is testPair with failoverExtra (YAML lines) added to the
// config's failover: section and observe, when set, called on the built
// pair before it starts. stop ends its loop (it runs also at the test's
// end); without run it does nothing.
func startTestPair(t *testing.T, failoverExtra string, observe func(*pair.Pair, *config.Built), run bool) (fo *pair.Pair, stop func()) {
	t.Helper()
	dir := t.TempDir()
	psk := filepath.Join(dir, "peer.key")
	if err := os.WriteFile(psk, []byte("Zq3vX8tLw1Rk6NbP0sYh4JdG9cAf2EmU\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := configtest.Load(t, fmt.Sprintf(`
node: {name: gw1, state_dir: %s}
vrrp:
  instances: [{name: lan, interface: lan0, vrid: 51, priority: 200, virtual_ips: [192.0.2.1/24]}]
dhcp:
  interfaces: [lan0]
  subnets: [{subnet: 192.0.2.0/24, pools: [{range: 192.0.2.100-192.0.2.200}]}]
failover:
  role: primary
  listen: 127.0.0.1:647 # a primary only dials, from this host address
  peer: 127.0.0.1:1
  vrrp_instance: lan
  auth: {psk_file: %s}
`, dir, psk)+failoverExtra)
	b, err := config.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fo, err = pair.New(b, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), &vrrpPart{}, clock.Wall())
	if err != nil {
		t.Fatal(err)
	}
	if observe != nil {
		observe(fo, b)
	}
	db, rep, err := lease.Open(lease.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fo.Attach(db)
	if err := fo.Start(&dhcpPart{log: slog.New(slog.DiscardHandler)}, rep); err != nil {
		t.Fatal(err)
	}
	if !run {
		return fo, func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = fo.Run(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return fo, stop
}

// TestLivenessProbesOfParts: the probes of the real parts. A running VRRP
// instance and failover loop answer; an instance whose loop has ended,
// and a pair whose loop does not run, are reported stuck.
func TestLivenessProbesOfParts(t *testing.T) {
	fo := testPair(t, true) // its loop runs
	seg := &vrrptest.Net{}
	newInst := func(name, addr string) *vrrp.Instance {
		src := netip.MustParseAddr(addr)
		in, err := vrrp.NewInstance(vrrp.Config{Name: name, Interface: "lan0", VRID: 51, Priority: 100, AdvertInterval: time.Second,
			VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}}, vrrp.Deps{Conn: seg.Conn(src), Owner: nopOwner{}, Primary: src})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	lan, wan := newInst("lan", "192.0.2.11"), newInst("wan", "192.0.2.12")
	vr := &vrrpPart{specs: []instSpec{{cfg: lan.Config()}, {cfg: wan.Config()}},
		insts: map[string]*vrrp.Instance{"lan": lan, "wan": wan}}
	ctx, cancel := context.WithCancel(context.Background())
	wanCtx, wanStop := context.WithCancel(ctx)
	lanDone := make(chan struct{})
	wanDone := make(chan struct{})
	go func() { defer close(lanDone); _ = lan.Run(ctx) }()
	go func() { defer close(wanDone); _ = wan.Run(wanCtx) }()
	t.Cleanup(func() { cancel(); <-lanDone; <-wanDone })

	l := &liveness{probes: append(vr.probes(), pairProbes(fo)...), log: slog.New(slog.DiscardHandler)}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	// answered: every probe but skip's has its ping answered.
	answered := func(skip string) func() bool {
		return func() bool {
			for _, p := range l.probes {
				if p.name != skip && p.pong() < p.ticket {
					return false
				}
			}
			return true
		}
	}
	if err := l.check(t0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, answered(""))
	if err := l.check(t0.Add(time.Hour)); err != nil {
		t.Fatalf("running parts: %v", err)
	}
	waitFor(t, answered(""))

	wanStop() // the wan loop ends (as after a read error)
	<-wanDone
	if err := l.check(t0.Add(2 * time.Hour)); err != nil {
		t.Fatalf("the ping is new: %v", err)
	}
	waitFor(t, answered("vrrp instance wan")) // the others answer; wan cannot
	err := l.check(t0.Add(2*time.Hour + probeBound + time.Second))
	if !errors.Is(err, ErrStuck) || !strings.HasPrefix(err.Error(), "vrrp instance wan: ") {
		t.Fatalf("ended instance: %v, want ErrStuck for vrrp instance wan", err)
	}

	// A pair whose loop does not run.
	l = &liveness{probes: pairProbes(testPair(t, false)), log: slog.New(slog.DiscardHandler)}
	if err := l.check(t0); err != nil {
		t.Fatal(err)
	}
	if err := l.check(t0.Add(probeBound + time.Second)); !errors.Is(err, ErrStuck) || !strings.Contains(err.Error(), "failover machine loop") {
		t.Fatalf("failover loop not running: %v", err)
	}
}

// nopOwner is a vrrp.Owner that holds nothing.
type nopOwner struct{}

func (nopOwner) Take() error    { return nil }
func (nopOwner) Release() error { return nil }

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Error("condition not met within 5s")
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNotifierStopsWhenNotAlive: with a part stuck, no WATCHDOG=1 leaves.
func TestNotifierStopsWhenNotAlive(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	env := map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "10000"}
	n := newNotifier(func(k string) string { return env[k] })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var calls atomic.Int32
	go func() { defer close(done); n.keepalive(ctx, func() bool { calls.Add(1); return false }) }()
	_ = pc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 64)
	if k, err := pc.Read(buf); err == nil {
		t.Errorf("got %q while not alive", buf[:k])
	}
	cancel()
	<-done
	if calls.Load() == 0 {
		t.Error("alive never asked")
	}
}
