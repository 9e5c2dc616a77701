package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// Root tests: the real hadhcpd binary serves real Debian clients (dhclient,
// busybox udhcpc) and a real relay (dhcrelay) in namespaces the test builds.

// binary is the hadhcpd under test, built once per test run (lab.Bin).
func binary(t *testing.T) string { return lab.Bin.Path(t) }

func TestMain(m *testing.M) {
	code := m.Run()
	lab.Bin.Remove()
	os.Exit(code)
}

// syncBuf collects a process's output for assertions.
type syncBuf = testnet.Buffer

// soloLab is one server, one switch and its clients.
type soloLab struct {
	t   *testing.T
	net *testnet.Lab
	lan string
	srv *testnet.Host
	box *lab.Box // hadhcpd on srv
}

const baseConfig = `node:
  name: it
  state_dir: %[1]s/state
  control_socket: %[1]s/ctl.sock
  metrics_listen: ""
  log_level: debug
dhcp:
  interfaces: [eth0]
  default_lease_time: %[2]s
  min_lease_time: 10s
  options: {domain_name_servers: [192.0.2.53], domain_name: example.com}
  subnets:
    - subnet: 192.0.2.0/24
      pools: [{range: 192.0.2.100-192.0.2.200}]
      options: {routers: [192.0.2.1]}
      reservations:
        - {hw_address: "02:00:00:00:00:42", ip: 192.0.2.50, hostname: printer}
    - subnet: 198.51.100.0/24
      pools: [{range: 198.51.100.100-198.51.100.150}]
      options: {routers: [198.51.100.1]}
`

func newSoloLab(t *testing.T, leaseTime string) *soloLab {
	t.Helper()
	testnet.RequireCmd(t, "dhclient", "busybox")
	lab.Bin.Path(t)
	n := testnet.New(t, "hdd")
	l := &soloLab{t: t, net: n, lan: n.Switch("lan")}
	l.srv = n.Host("srv")
	l.srv.Connect(l.lan, "eth0", "192.0.2.1/24")
	dir := t.TempDir()
	l.box = lab.NewBox(t, l.srv, "srv", dir, fmt.Sprintf(baseConfig, dir, leaseTime))
	l.start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hadhcpd log:\n%s", l.box.Log.String())
		}
	})
	return l
}

// start runs hadhcpd in the server namespace, with a fresh log, and waits
// for it to serve.
func (l *soloLab) start() {
	l.t.Helper()
	l.box.Log = &syncBuf{}
	l.box.Start()
	l.waitLog("hadhcpd running", 10*time.Second)
}

// stop ends hadhcpd gracefully (SIGTERM) and waits for it (10 s).
func (l *soloLab) stop() {
	l.t.Helper()
	l.box.Kill(syscall.SIGTERM, 10*time.Second)
}

func (l *soloLab) waitLog(re string, d time.Duration) string {
	l.t.Helper()
	return l.box.WaitLog(re, d)
}

// client adds a client namespace on the LAN with the given MAC.
func (l *soloLab) client(name, mac string) *testnet.Host {
	l.t.Helper()
	h := l.net.Host(name)
	h.Connect(l.lan, "eth0")
	if mac != "" {
		h.MustIP("link", "set", "eth0", "down")
		h.MustIP("link", "set", "eth0", "address", mac)
		h.MustIP("link", "set", "eth0", "up")
	}
	return h
}

// leases runs `hadhcpd leases --json` with args.
func (l *soloLab) leases(args ...string) []map[string]any {
	l.t.Helper()
	var ls []map[string]any
	if err := l.box.Leases(&ls, args...); err != nil {
		l.t.Fatal(err)
	}
	return ls
}

// clientScript records each event and configures the address inside the
// client's own namespace only (so unicast renewals and releases work). It
// serves both dhclient (reason, new_ip_address) and udhcpc ($1, ip).
const clientScript = `#!/bin/sh
ev="${reason:-$1}"; addr="${new_ip_address:-$ip}"; mask="${new_subnet_mask:-$subnet}"
echo "$ev $addr" >> "$EVLOG"
case "$ev" in
BOUND|REBOOT|RENEW|REBIND|bound|renew) [ -n "$addr" ] && ip addr replace "$addr/$mask" dev "${interface:-eth0}" ;;
esac
exit 0
`

type dhcpClient struct {
	h      *testnet.Host
	dir    string
	events string
	script string
}

func newClient(t *testing.T, h *testnet.Host) *dhcpClient {
	dir := t.TempDir()
	c := &dhcpClient{h: h, dir: dir, events: filepath.Join(dir, "events"), script: filepath.Join(dir, "script")}
	if err := os.WriteFile(c.script, []byte(strings.Replace(clientScript, "$EVLOG", c.events, 1)), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := "timeout 15;\nretry 1;\ninitial-interval 1;\nrequest subnet-mask, broadcast-address, routers, domain-name-servers;\n"
	if err := os.WriteFile(filepath.Join(dir, "dhclient.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *dhcpClient) conf(t *testing.T, extra string) {
	f, err := os.OpenFile(filepath.Join(c.dir, "dhclient.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintln(f, extra)
}

// dhclient runs ISC dhclient once (-1: one attempt, then it exits with 2);
// extra are further flags (-r to release, -x to stop).
func (c *dhcpClient) dhclient(t *testing.T, extra ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	args := append([]string{"-1", "-v", "-sf", c.script, "-cf", filepath.Join(c.dir, "dhclient.conf"),
		"-lf", filepath.Join(c.dir, "leases"), "-pf", filepath.Join(c.dir, "pid")}, extra...)
	args = append(args, "eth0")
	return c.h.Output(ctx, "dhclient", args...)
}

func (c *dhcpClient) eventLog() string {
	b, _ := os.ReadFile(c.events)
	return string(b)
}

func (c *dhcpClient) waitEvent(t *testing.T, re string, d time.Duration) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if m := rx.FindStringSubmatch(c.eventLog()); m != nil {
			return m[len(m)-1]
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("client event %q not seen within %s; events:\n%s", re, d, c.eventLog())
	return ""
}

func leaseState(ls []map[string]any, ip string) string {
	for _, l := range ls {
		if l["ip"] == ip {
			s, _ := l["state"].(string)
			return s
		}
	}
	return ""
}

func TestIntegrationDhclientLeaseRenewRelease(t *testing.T) {
	l := newSoloLab(t, "10s") // T1 = 5 s: a renewal within the test
	c := newClient(t, l.client("c1", ""))
	out, err := c.dhclient(t)
	if err != nil || !strings.Contains(out, "DHCPACK of 192.0.2.") {
		t.Fatalf("dhclient got no lease: %v\n%s", err, out)
	}
	ip := c.waitEvent(t, `BOUND (192\.0\.2\.\d+)`, 5*time.Second)
	// dhclient went to the background: it renews by unicast at T1.
	l.waitLog(`msg="lease renew" .*ip=`+regexp.QuoteMeta(ip)+` .*dest=unicast`, 15*time.Second)
	c.waitEvent(t, `RENEW (`+regexp.QuoteMeta(ip)+`)`, 5*time.Second)
	if out, err := c.dhclient(t, "-r"); err != nil {
		t.Fatalf("dhclient -r: %v\n%s", err, out)
	}
	l.waitLog(`msg="lease release" .*ip=`+regexp.QuoteMeta(ip), 5*time.Second)
	if st := leaseState(l.leases("--ip", ip), ip); st != "released" {
		t.Fatalf("lease of %s after release: state %q, want released", ip, st)
	}
}

func TestIntegrationUdhcpcLeaseRenewRelease(t *testing.T) {
	l := newSoloLab(t, "1h")
	c := newClient(t, l.client("c1", ""))
	// -R: release on exit; -f: foreground so the test owns the process.
	p := c.h.Start(nil, "busybox", "udhcpc", "-f", "-R", "-i", "eth0", "-s", c.script, "-t", "5", "-T", "1")
	ip := c.waitEvent(t, `bound (192\.0\.2\.\d+)`, 15*time.Second)
	// SIGUSR1: udhcpc renews now, by unicast to the server identifier.
	_ = p.Signal(syscall.SIGUSR1)
	l.waitLog(`msg="lease renew" .*ip=`+regexp.QuoteMeta(ip)+` .*dest=unicast`, 15*time.Second)
	c.waitEvent(t, `renew (`+regexp.QuoteMeta(ip)+`)`, 5*time.Second)
	_ = p.Signal(syscall.SIGTERM)
	if exited, _ := p.Wait(10 * time.Second); !exited {
		t.Fatal("udhcpc did not exit")
	}
	l.waitLog(`msg="lease release" .*ip=`+regexp.QuoteMeta(ip), 5*time.Second)
	if st := leaseState(l.leases("--state", "released"), ip); st != "released" {
		t.Fatalf("lease of %s: state %q, want released", ip, st)
	}
}

func TestIntegrationRelay(t *testing.T) {
	testnet.RequireCmd(t, "dhcrelay")
	l := newSoloLab(t, "1h")
	far := l.net.Switch("far")
	relay := l.net.Host("rly")
	relay.Connect(l.lan, "eth0", "192.0.2.2/24")
	relay.Connect(far, "eth1", "198.51.100.1/24")
	l.srv.MustIP("route", "add", "198.51.100.0/24", "via", "192.0.2.2")
	relay.Start(nil, "dhcrelay", "-d", "-4", "-iu", "eth0", "-id", "eth1", "192.0.2.1")
	h := l.net.Host("c1")
	h.Connect(far, "eth0")
	c := newClient(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// dhcrelay needs a moment to open its sockets: udhcpc retries.
	out, err := h.Output(ctx, "busybox", "udhcpc", "-n", "-q", "-i", "eth0", "-s", c.script, "-t", "8", "-T", "1")
	if err != nil {
		t.Fatalf("udhcpc through dhcrelay: %v\n%s", err, out)
	}
	ip := c.waitEvent(t, `bound (198\.51\.100\.\d+)`, 2*time.Second)
	if st := leaseState(l.leases("--ip", "198.51.100.0/24"), ip); st != "active" {
		t.Fatalf("relayed lease %s: state %q, want active", ip, st)
	}
}

func TestIntegrationRestartInitReboot(t *testing.T) {
	l := newSoloLab(t, "1h")
	c := newClient(t, l.client("c1", ""))
	out, err := c.dhclient(t)
	if err != nil {
		t.Fatalf("dhclient: %v\n%s", err, out)
	}
	ip := c.waitEvent(t, `BOUND (192\.0\.2\.\d+)`, 5*time.Second)
	if out, err := c.dhclient(t, "-x"); err != nil { // stop, keep the lease
		t.Fatalf("dhclient -x: %v\n%s", err, out)
	}
	c.h.MustIP("addr", "flush", "dev", "eth0")
	l.stop()
	l.start()
	out, err = c.dhclient(t)
	if err != nil {
		t.Fatalf("dhclient after restart: %v\n%s", err, out)
	}
	if strings.Contains(out, "DHCPDISCOVER") || !strings.Contains(out, "DHCPACK of "+ip) {
		t.Fatalf("INIT-REBOOT after a server restart did not get %s back without DISCOVER:\n%s", ip, out)
	}
	c.waitEvent(t, `REBOOT (`+regexp.QuoteMeta(ip)+`)`, 5*time.Second)
}

func TestIntegrationWrongNetworkNAK(t *testing.T) {
	l := newSoloLab(t, "1h")
	c := newClient(t, l.client("c1", ""))
	// A lease from another network: dhclient starts in INIT-REBOOT with it.
	stale := `lease {
  interface "eth0";
  fixed-address 203.0.113.77;
  option subnet-mask 255.255.255.0;
  renew 4 2099/01/01 00:00:00;
  rebind 4 2099/01/01 00:00:00;
  expire 4 2099/01/01 00:00:00;
}
`
	if err := os.WriteFile(filepath.Join(c.dir, "leases"), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := c.dhclient(t)
	if err != nil {
		t.Fatalf("dhclient: %v\n%s", err, out)
	}
	if !strings.Contains(out, "DHCPREQUEST for 203.0.113.77") || !strings.Contains(out, "DHCPNAK from 192.0.2.1") {
		t.Fatalf("no NAK for an address on the wrong network:\n%s", out)
	}
	if !regexp.MustCompile(`DHCPACK of 192\.0\.2\.\d+`).MatchString(out) {
		t.Fatalf("after the NAK the client got no new lease:\n%s", out)
	}
}

func TestIntegrationReservation(t *testing.T) {
	l := newSoloLab(t, "1h")
	c := newClient(t, l.client("c1", "02:00:00:00:00:42"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := c.h.Output(ctx, "busybox", "udhcpc", "-n", "-q", "-i", "eth0", "-s", c.script, "-t", "5", "-T", "1")
	if err != nil {
		t.Fatalf("udhcpc: %v\n%s", err, out)
	}
	if ip := c.waitEvent(t, `bound (\S+)`, 2*time.Second); ip != "192.0.2.50" {
		t.Fatalf("reserved host got %s, want 192.0.2.50", ip)
	}
}

func TestIntegrationClientIDChangingMAC(t *testing.T) {
	l := newSoloLab(t, "1h")
	h := l.client("c1", "02:00:00:00:10:01")
	c := newClient(t, h)
	c.conf(t, `send dhcp-client-identifier "hdd-laptop";`)
	out, err := c.dhclient(t)
	if err != nil {
		t.Fatalf("dhclient: %v\n%s", err, out)
	}
	ip := c.waitEvent(t, `BOUND (192\.0\.2\.\d+)`, 5*time.Second)
	if out, err := c.dhclient(t, "-x"); err != nil {
		t.Fatalf("dhclient -x: %v\n%s", err, out)
	}
	// New network card, no client-side memory: a fresh DISCOVER.
	_ = os.Remove(filepath.Join(c.dir, "leases"))
	h.MustIP("addr", "flush", "dev", "eth0")
	h.MustIP("link", "set", "eth0", "down")
	h.MustIP("link", "set", "eth0", "address", "02:00:00:00:10:02")
	h.MustIP("link", "set", "eth0", "up")
	if err := os.WriteFile(c.events, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = c.dhclient(t)
	if err != nil {
		t.Fatalf("dhclient with the new MAC: %v\n%s", err, out)
	}
	if got := c.waitEvent(t, `BOUND (192\.0\.2\.\d+)`, 5*time.Second); got != ip {
		t.Fatalf("same client identifier, new MAC: got %s, want its lease %s", got, ip)
	}
}
