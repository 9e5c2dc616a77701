package e2e

// Root tests of `hadhcpd import` (migration in one command): real ISC dhcpd 4.4,
// Kea 2.2 and keepalived 2.2 serve real clients in namespaces; their files
// are imported with `hadhcpd import` and hadhcpd, started on the same
// interface, must keep every client on its address.
//
// They reuse this package's test helpers from integration_test.go: binary
// (builds hadhcpd once), syncBuf, dhcpClient/newClient (dhclient with its
// own -lf/-pf/-cf and a harmless script).

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// migLab is one LAN with server boxes and clients.
type migLab struct {
	t   *testing.T
	net *testnet.Lab
	lan string
	dir string
}

func newMigLab(t *testing.T, cmds ...string) *migLab {
	t.Helper()
	testnet.RequireRoot(t)
	testnet.RequireCmd(t, append([]string{"dhclient"}, cmds...)...)
	binary(t)
	n := testnet.New(t, "hdm")
	return &migLab{t: t, net: n, lan: n.Switch("lan"), dir: t.TempDir()}
}

// server adds a server box on the LAN with address addr/24 on eth0.
func (m *migLab) server(name, addr string) *testnet.Host {
	h := m.net.Host(name)
	h.Connect(m.lan, "eth0", addr+"/24")
	return h
}

// client adds a client namespace with a fixed MAC.
func (m *migLab) client(name, mac string) *dhcpClient {
	h := m.net.Host(name)
	h.Connect(m.lan, "eth0")
	h.MustIP("link", "set", "eth0", "down")
	h.MustIP("link", "set", "eth0", "address", mac)
	h.MustIP("link", "set", "eth0", "up")
	return newClient(m.t, h)
}

var ackRE = regexp.MustCompile(`DHCPACK of (\S+) from`)

// bind runs dhclient (DISCOVER, or INIT-REBOOT when its lease file holds a
// lease), then stops it keeping the lease (-x) and removes the address from
// the client's interface, so the next run starts from its lease file alone.
// It returns the address and dhclient's output.
func bind(t *testing.T, c *dhcpClient) (string, string) {
	t.Helper()
	out, err := c.dhclient(t)
	if err != nil {
		t.Fatalf("dhclient in %s: %v\n%s", c.h.Name, err, out)
	}
	m := ackRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("dhclient in %s got no lease:\n%s", c.h.Name, out)
	}
	if out, err := c.dhclient(t, "-x"); err != nil {
		t.Fatalf("dhclient -x: %v\n%s", err, out)
	}
	c.h.MustIP("addr", "flush", "dev", "eth0")
	return m[1], out
}

// daemon is a server process with its log.
type daemon struct {
	name string
	proc *testnet.Proc
	log  *syncBuf
}

func startDaemon(t *testing.T, h *testnet.Host, name string, args ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, log: &syncBuf{}}
	d.proc = h.Start(d.log, name, args...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log:\n%s", d.name, d.log.String())
		}
	})
	return d
}

// waitLog waits for re in the daemon's output.
func (d *daemon) waitLog(t *testing.T, re string, timeout time.Duration) {
	t.Helper()
	waitOutput(t, d.name, d.log, d.proc, re, timeout)
}

// stop ends the daemon with SIGTERM (bounded) and SIGKILL after that.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	_ = d.proc.Signal(syscall.SIGTERM)
	if exited, _ := d.proc.Wait(10 * time.Second); !exited {
		_ = d.proc.Signal(syscall.SIGKILL)
		t.Fatalf("%s did not stop within 10s of SIGTERM", d.name)
	}
}

// importCmd runs `hadhcpd import KIND args...` and returns the written
// config's path.
func (m *migLab) importCmd(kind, out string, args ...string) string {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args = append([]string{"import", kind, "-o", out}, args...)
	b, err := exec.CommandContext(ctx, binary(m.t), args...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("hadhcpd %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	m.t.Logf("hadhcpd %s:\n%s", strings.Join(args, " "), b)
	if b, err := exec.CommandContext(ctx, binary(m.t), "check-config", "--no-files", "-c", out).CombinedOutput(); err != nil {
		m.t.Fatalf("check-config of the imported %s: %v\n%s", out, err, b)
	}
	return out
}

// runHadhcpd starts `hadhcpd run` with an imported config on box h.
func runHadhcpd(t *testing.T, h *testnet.Host, cfg string) *daemon {
	t.Helper()
	// The imported config keeps the default control socket under /run:
	// point it into the test's directory (HADHCPD_ override) so boxes of one
	// test do not share it and nothing is left on the host.
	sock := "HADHCPD_NODE_CONTROL_SOCKET=" + filepath.Join(filepath.Dir(cfg), "ctl-"+h.Name+".sock")
	d := startDaemon(t, h, "env", sock, binary(t), "run", "-c", cfg)
	d.name = "hadhcpd"
	d.waitLog(t, "hadhcpd running", 15*time.Second)
	return d
}

// importedLeases is `hadhcpd leases --json` of a config's state dir.
func importedLeases(t *testing.T, cfg string) map[string]string {
	t.Helper()
	out, err := exec.Command(binary(t), "leases", "--json", "-c", cfg).Output()
	if err != nil {
		t.Fatalf("hadhcpd leases: %v", err)
	}
	var ls []struct {
		IP, State string
		HWAddr    string `json:"hw_address"`
	}
	if err := json.Unmarshal(out, &ls); err != nil {
		t.Fatalf("leases --json: %v\n%s", err, out)
	}
	m := map[string]string{}
	for _, l := range ls {
		if l.State == "active" {
			m[l.IP] = l.HWAddr
		}
	}
	return m
}

// checkRoundTrip is what every importer must give: the imported database
// holds each client's lease; each client's INIT-REBOOT (RFC 2131 §3.2,
// dhclient starting with its lease file) is ACKed with the same address
// and no DISCOVER; a client unknown to the old server that claims an
// imported address is refused (NAK, authoritative) and gets a free one.
func checkRoundTrip(t *testing.T, m *migLab, srv *testnet.Host, cfg string, clients []*dhcpClient, got map[*dhcpClient]string, intruderMAC string) {
	t.Helper()
	db := importedLeases(t, cfg)
	for _, c := range clients {
		if _, ok := db[got[c]]; !ok {
			t.Fatalf("the imported lease database has no active lease for %s (%s); it has %v", got[c], c.h.Name, db)
		}
	}
	hd := runHadhcpd(t, srv, cfg)
	defer hd.stop(t)
	imported := map[string]bool{}
	for _, c := range clients {
		imported[got[c]] = true
		ip, out := bind(t, c)
		if ip != got[c] || strings.Contains(out, "DHCPDISCOVER") || strings.Contains(out, "DHCPNAK") {
			t.Fatalf("%s had %s from the old server; after the import its INIT-REBOOT gave %s:\n%s", c.h.Name, got[c], ip, out)
		}
	}
	// A new client whose lease file claims the first client's address.
	c := m.client("new", intruderMAC)
	stale := fmt.Sprintf("lease {\n  interface \"eth0\";\n  fixed-address %s;\n  option subnet-mask 255.255.255.0;\n"+
		"  renew 4 2099/01/01 00:00:00;\n  rebind 4 2099/01/01 00:00:00;\n  expire 4 2099/01/01 00:00:00;\n}\n", got[clients[0]])
	if err := os.WriteFile(filepath.Join(c.dir, "leases"), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	ip, out := bind(t, c)
	if !strings.Contains(out, "DHCPNAK") || imported[ip] {
		t.Fatalf("a new client claiming %s (leased to %s) got %s, want a NAK and a free address:\n%s", got[clients[0]], clients[0].h.Name, ip, out)
	}
	if a, err := netip.ParseAddr(ip); err != nil || !netip.MustParsePrefix("192.0.2.0/24").Contains(a) {
		t.Fatalf("new client got %q", ip)
	}
}

var macs = []string{"02:00:00:00:07:01", "02:00:00:00:07:02", "02:00:00:00:07:03"}

const newMAC = "02:00:00:00:07:99"

// iscConf is a dhcpd.conf for the LAN; failover is "" or a failover peer
// block (then the pool names the peer).
func iscConf(failover string) string {
	pool := ""
	if failover != "" {
		pool = `failover peer "mig-fo";`
	}
	return fmt.Sprintf(`authoritative;
ddns-update-style none;
ping-check false;
default-lease-time 3600;
max-lease-time 7200;
%s
subnet 192.0.2.0 netmask 255.255.255.0 {
    option routers 192.0.2.1;
    option domain-name-servers 192.0.2.53;
    pool {
        %s
        range 192.0.2.100 192.0.2.120;
    }
}
`, failover, pool)
}

// runDhcpd starts ISC dhcpd in the foreground on eth0 of h (-d: -f that
// also logs to stderr, where the test waits for it to serve).
func (m *migLab) runDhcpd(h *testnet.Host, dir, conf, leases string) *daemon {
	m.t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		m.t.Fatal(err)
	}
	cf := filepath.Join(dir, "dhcpd.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		m.t.Fatal(err)
	}
	lf := filepath.Join(dir, "dhcpd.leases")
	if err := os.WriteFile(lf, []byte(leases), 0o644); err != nil {
		m.t.Fatal(err)
	}
	d := startDaemon(m.t, h, "dhcpd", "-d", "-4", "-cf", cf, "-lf", lf, "-pf", filepath.Join(dir, "dhcpd.pid"), "eth0")
	d.waitLog(m.t, "Server starting service", 15*time.Second)
	return d
}

func TestIntegrationImportISC(t *testing.T) {
	m := newMigLab(t, "dhcpd")
	srv := m.server("srv", "192.0.2.10")
	var clients []*dhcpClient
	got := map[*dhcpClient]string{}
	dhcpd := m.runDhcpd(srv, filepath.Join(m.dir, "isc"), iscConf(""), "")
	for i, mac := range macs {
		c := m.client(fmt.Sprintf("c%d", i+1), mac)
		got[c], _ = bind(t, c)
		clients = append(clients, c)
	}
	dhcpd.stop(t)
	cfg := m.importCmd("isc", filepath.Join(m.dir, "hadhcpd.yaml"), "--conf", filepath.Join(m.dir, "isc", "dhcpd.conf"),
		"--leases", filepath.Join(m.dir, "isc", "dhcpd.leases"), "--state-dir", filepath.Join(m.dir, "state"), "--interface", "eth0",
		"--vip", "router") // the lab's boxes are the subnet's router
	checkRoundTrip(t, m, srv, cfg, clients, got, newMAC)
}

func TestIntegrationImportKea(t *testing.T) {
	m := newMigLab(t, "kea-dhcp4")
	srv := m.server("srv", "192.0.2.10")
	kdir := filepath.Join(m.dir, "kea")
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(kdir, "kea-leases4.csv")
	conf := fmt.Sprintf(`{
"Dhcp4": {
    "interfaces-config": { "interfaces": [ "eth0/192.0.2.10" ], "dhcp-socket-type": "raw" },
    "lease-database": { "type": "memfile", "persist": true, "name": %q, "lfc-interval": 0 },
    "valid-lifetime": 3600,
    "authoritative": true,
    "subnet4": [ {
        "id": 1,
        "subnet": "192.0.2.0/24",
        "interface": "eth0",
        "pools": [ { "pool": "192.0.2.100 - 192.0.2.120" } ],
        "option-data": [
            { "name": "routers", "data": "192.0.2.1" },
            { "name": "domain-name-servers", "data": "192.0.2.53" }
        ]
    } ],
    "loggers": [ { "name": "kea-dhcp4", "severity": "INFO", "output_options": [ { "output": "stdout" } ] } ]
}
}
`, csv)
	cf := filepath.Join(kdir, "kea-dhcp4.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// Kea's pid and lock files go to the test's directory, not /run/kea
	// (another Kea on the machine would refuse to start beside it).
	kea := startDaemon(t, srv, "env", "KEA_PIDFILE_DIR="+kdir, "KEA_LOCKFILE_DIR="+kdir, "kea-dhcp4", "-c", cf)
	kea.name = "kea-dhcp4"
	kea.waitLog(t, "DHCP4_STARTED", 15*time.Second)
	var clients []*dhcpClient
	got := map[*dhcpClient]string{}
	for i, mac := range macs {
		c := m.client(fmt.Sprintf("c%d", i+1), mac)
		got[c], _ = bind(t, c)
		clients = append(clients, c)
	}
	kea.stop(t)
	cfg := m.importCmd("kea", filepath.Join(m.dir, "hadhcpd.yaml"), "--conf", cf, "--leases", csv,
		"--state-dir", filepath.Join(m.dir, "state"), "--vip", "router") // the lab's boxes are the subnet's router
	checkRoundTrip(t, m, srv, cfg, clients, got, newMAC)
}

// iscFailover is the failover peer block of one box. split 256: the
// primary serves every client (hot standby); mclt and split only on the
// primary (dhcpd.conf(5)).
func iscFailover(role, me, peer string) string {
	extra := ""
	if role == "primary" {
		extra = "mclt 600;\n    split 256;"
	}
	return fmt.Sprintf(`failover peer "mig-fo" {
    %s;
    address %s;
    port 647;
    peer address %s;
    peer port 647;
    max-response-delay 10;
    max-unacked-updates 10;
    load balance max seconds 3;
    %s
}`, role, me, peer, extra)
}

// foSeed starts both servers in NORMAL (PEERS.md: with empty lease files
// they would sit in RECOVER for the MCLT before serving anyone).
const foSeed = `failover peer "mig-fo" state {
  my state normal at 4 2024/01/04 10:00:00;
  partner state normal at 4 2024/01/04 10:00:00;
}
`

// iscBox is one box of the pair: ISC dhcpd, then hadhcpd from its import.
type iscBox struct {
	role, addr, peer string
	h                *testnet.Host
	d                *daemon
	cfg              string
}

func TestIntegrationImportISCFailoverPair(t *testing.T) {
	m := newMigLab(t, "dhcpd")
	boxes := []iscBox{{role: "primary", addr: "192.0.2.11", peer: "192.0.2.12"}, {role: "secondary", addr: "192.0.2.12", peer: "192.0.2.11"}}
	for i := range boxes {
		b := &boxes[i]
		b.h = m.server(b.role, b.addr)
	}
	for i := range boxes {
		b := &boxes[i]
		b.d = m.runDhcpd(b.h, filepath.Join(m.dir, b.role), iscConf(iscFailover(b.role, b.addr, b.peer)), foSeed)
	}
	for _, b := range boxes {
		b.d.waitLog(t, `failover peer mig-fo: I move from .* to normal|peer mig-fo: .*normal`, 20*time.Second)
	}
	var clients []*dhcpClient
	got := map[*dhcpClient]string{}
	for i, mac := range macs {
		c := m.client(fmt.Sprintf("c%d", i+1), mac)
		got[c], _ = bind(t, c)
		clients = append(clients, c)
	}
	// The secondary learns each lease by a binding update; wait until its
	// lease file holds all of them before stopping the pair.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(m.dir, "secondary", "dhcpd.leases"))
		all := true
		for _, c := range clients {
			all = all && strings.Contains(string(b), "lease "+got[c]+" {")
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the secondary's lease file lacks some of %v after 10s:\n%s", got, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, b := range boxes {
		b.d.stop(t)
	}
	var cfgs []*config.Config
	for i := range boxes {
		b := &boxes[i]
		dir := filepath.Join(m.dir, b.role)
		args := []string{"--conf", filepath.Join(dir, "dhcpd.conf"),
			"--leases", filepath.Join(dir, "dhcpd.leases"), "--state-dir", filepath.Join(dir, "state"), "--interface", "eth0",
			"--vip", "router"} // the pair is the subnet's router: 192.0.2.1 is its VIP
		if b.role == "secondary" {
			// ISC sets mclt and split on the primary only; hadhcpd's pair
			// refuses its link until mode and mclt agree.
			args = append(args, "--partner-conf", filepath.Join(m.dir, "primary", "dhcpd.conf"))
		}
		b.cfg = m.importCmd("isc", filepath.Join(dir, "hadhcpd.yaml"), args...)
		c, err := config.Load(b.cfg)
		if err != nil {
			t.Fatalf("load the imported %s: %v", b.cfg, err)
		}
		cfgs = append(cfgs, c)
	}
	p, s := cfgs[0], cfgs[1]
	if !reflect.DeepEqual(p.DHCP, s.DHCP) {
		t.Errorf("the imported dhcp sections differ:\nprimary   %+v\nsecondary %+v", p.DHCP, s.DHCP)
	}
	if p.Failover == nil || s.Failover == nil || p.Failover.Role != "primary" || s.Failover.Role != "secondary" ||
		p.Failover.Listen != s.Failover.Peer || p.Failover.Peer != s.Failover.Listen || p.Failover.Listen != "192.0.2.11:647" {
		t.Errorf("failover sections: primary %+v, secondary %+v: want the roles and swapped listen/peer", p.Failover, s.Failover)
	}
	if pf, sf := p.Failover, s.Failover; pf != nil && sf != nil && (pf.Mode != sf.Mode || pf.MCLT != sf.MCLT || pf.MaxResponseDelay != sf.MaxResponseDelay ||
		pf.MCLT != 10*time.Minute || pf.Mode != "hot-standby") {
		t.Errorf("failover mode/mclt/max_response_delay: primary %s/%v/%v, secondary %s/%v/%v: want both hot-standby/10m0s (split 256, mclt 600) and the same delay",
			pf.Mode, pf.MCLT, pf.MaxResponseDelay, sf.Mode, sf.MCLT, sf.MaxResponseDelay)
	}
	if t.Failed() {
		return
	}
	for _, b := range boxes {
		db := importedLeases(t, b.cfg)
		for _, c := range clients {
			if _, ok := db[got[c]]; !ok {
				t.Fatalf("%s: the imported lease database has no active lease for %s (%s); it has %v", b.role, got[c], c.h.Name, db)
			}
		}
	}
	// The one step the report leaves to the operator: ISC's failover link
	// is not authenticated, hadhcpd's is, so both boxes get the same
	// 32+ random bytes (mode 0600) where the imported psk_file says.
	pskFile := filepath.Join(m.dir, "peer.key")
	key := make([]byte, 48)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pskFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, b := range boxes {
		usePSK(t, b.cfg, pskFile)
	}
	pri, sec := &boxes[0], &boxes[1]
	// The secondary first, as an operator brings a pair up; each waits
	// for its partner before serving (invariant 3).
	upAt := time.Now()
	for _, b := range []*iscBox{sec, pri} {
		b.d = runHadhcpd(t, b.h, b.cfg)
		b.d.name = "hadhcpd " + b.role
	}
	defer sec.d.stop(t)
	for _, b := range boxes {
		b.d.waitLog(t, `failover transition.*to=NORMAL`, 30*time.Second)
	}
	// The invented VRRP instance has 1 s adverts: the primary (priority
	// 200) is master after Master_Down_Interval (RFC 5798 §6.4.2, ~3.2 s).
	waitOnlyMaster(t, pri.h, sec.h, 15*time.Second, "pair up")
	t.Logf("start -> both boxes NORMAL, VIP on the primary: %v", time.Since(upAt).Round(time.Millisecond))
	// Each client comes back with INIT-REBOOT from its dhclient lease file
	// (RFC 2131 §3.2): the same address, no DISCOVER, no NAK, and the ACK
	// names the VIP as server, so renewals follow the active box.
	reboot := func(when string) {
		t.Helper()
		for _, c := range clients {
			ip, out := bind(t, c)
			if ip != got[c] || strings.Contains(out, "DHCPDISCOVER") || strings.Contains(out, "DHCPNAK") ||
				!strings.Contains(out, "DHCPACK of "+ip+" from 192.0.2.1") {
				t.Fatalf("%s: %s had %s from the ISC pair; its INIT-REBOOT gave %s (want the same, ACKed from the VIP 192.0.2.1):\n%s",
					when, c.h.Name, got[c], ip, out)
			}
		}
	}
	reboot("hadhcpd pair")
	// What the standby will serve from after the loss: every client's
	// lease, active, in its own database (a read-only copy while it runs).
	db := importedLeases(t, sec.cfg)
	for _, c := range clients {
		if _, ok := db[got[c]]; !ok {
			t.Fatalf("before the failover the secondary's database has no active lease for %s (%s); it has %v", got[c], c.h.Name, db)
		}
	}

	// Box loss of the active box: its link goes first (no FIN, no VRRP
	// priority 0 can leave), then SIGKILL (PEERS.md "kill -9 is not a box
	// failure"). The peer link runs over the same LAN (ISC's address/peer
	// address), so eth0 down cuts both.
	failAt := time.Now()
	pri.h.MustIP("link", "set", "eth0", "down")
	if err := pri.d.proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if exited, _ := pri.d.proc.Wait(5 * time.Second); !exited {
		t.Fatal("the primary's hadhcpd did not die within 5s of SIGKILL")
	}
	deadline = time.Now().Add(10 * time.Second)
	for !hasVIP(t, sec.h) {
		if time.Now().After(deadline) {
			t.Fatal("the secondary did not take the VIP within 10s of the primary's loss")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("box loss -> VIP on the secondary: %v", time.Since(failAt).Round(time.Millisecond))
	reboot("after the primary's loss")
	t.Logf("box loss -> every client back on its address: %v", time.Since(failAt).Round(time.Millisecond))
	if sec.d.proc.Exited() {
		t.Fatal("the secondary's hadhcpd exited")
	}
}

var pskRE = regexp.MustCompile(`(?m)^(\s*psk_file:\s*)\S+\s*$`)

// usePSK points an imported config's failover.auth.psk_file (the importer
// writes /etc/hadhcpd/peer.key) at the lab's key and checks the result.
func usePSK(t *testing.T, cfg, pskFile string) {
	t.Helper()
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pskRE.FindAll(b, -1)); n != 1 {
		t.Fatalf("%s has %d psk_file lines, want 1:\n%s", cfg, n, b)
	}
	b = pskRE.ReplaceAll(b, []byte("${1}"+pskFile))
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, binary(t), "check-config", "-c", cfg).CombinedOutput(); err != nil {
		t.Fatalf("check-config %s with the PSK: %v\n%s", cfg, err, out)
	}
}

// waitOnlyMaster waits up to d until master alone holds the VIP.
func waitOnlyMaster(t *testing.T, master, other *testnet.Host, d time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !(hasVIP(t, master) && !hasVIP(t, other)) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: VIP on %s=%v %s=%v within %s, want only on %s", what, master.Name, hasVIP(t, master), other.Name, hasVIP(t, other), d, master.Name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kaConf is a keepalived 2.2 VRRPv3 instance on eth0 (as in
// the keepalived template of the peers guide), 100ms adverts.
func kaConf(name string, prio int) string {
	return fmt.Sprintf(`global_defs {
    router_id %s
    vrrp_version 3
}
vrrp_instance lan {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 0.1
    virtual_ipaddress {
        192.0.2.1/24 dev eth0
    }
}
`, name, prio)
}

// startKeepalived runs keepalived in the foreground with its own pid files.
func startKeepalived(t *testing.T, h *testnet.Host, dir, conf string) *daemon {
	t.Helper()
	f := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(f, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return startDaemon(t, h, "keepalived", "-n", "-l", "-D", "-f", f, "-p", filepath.Join(dir, "keepalived.pid"),
		"-r", filepath.Join(dir, "vrrp.pid"), "-c", filepath.Join(dir, "checkers.pid"))
}

// kill9 is a hard kill. keepalived's children go first: killing only its
// parent is a graceful stop that sends priority 0 (PEERS.md). (The child
// lookup is the few lines of vrrp/lab_test.go's children.)
func (d *daemon) kill9() {
	pid := d.proc.Cmd.Process.Pid
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
		for _, f := range strings.Fields(string(b)) {
			var c int
			if _, err := fmt.Sscan(f, &c); err == nil && c > 1 {
				_ = syscall.Kill(c, syscall.SIGKILL)
			}
		}
	}
	_ = d.proc.Signal(syscall.SIGKILL)
	_, _ = d.proc.Wait(5 * time.Second)
}

// hasVIP reports whether h's kernel holds 192.0.2.1 on eth0.
func hasVIP(t *testing.T, h *testnet.Host) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := h.Output(ctx, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
	if err != nil {
		t.Fatalf("ip addr in %s: %v: %s", h.Name, err, out)
	}
	return strings.Contains(out, " 192.0.2.1/")
}

// onlyMaster waits until master alone holds the VIP.
func onlyMaster(t *testing.T, master, other *testnet.Host, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !(hasVIP(t, master) && !hasVIP(t, other)) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: VIP on %s=%v %s=%v, want only on %s", what, master.Name, hasVIP(t, master), other.Name, hasVIP(t, other), master.Name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIntegrationImportKeepalived: box a's keepalived.conf is imported and
// run by hadhcpd; box b keeps its unchanged keepalived on the same VRID.
// There is one master, and the VIP moves when the master dies hard.
func TestIntegrationImportKeepalived(t *testing.T) {
	for _, tc := range []struct {
		name            string
		hadhcpd, keepal int // priorities
	}{{"hadhcpd master", 200, 100}, {"keepalived master", 100, 200}} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMigLab(t, "keepalived")
			a, b := m.server("a", "192.0.2.11"), m.server("b", "192.0.2.12")
			adir, bdir := filepath.Join(m.dir, "a"), filepath.Join(m.dir, "b")
			for _, d := range []string{adir, bdir} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			src := filepath.Join(adir, "keepalived.conf")
			if err := os.WriteFile(src, []byte(kaConf("a", tc.hadhcpd)), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := m.importCmd("keepalived", filepath.Join(adir, "hadhcpd.yaml"), "--conf", src, "--node", "a",
				"--state-dir", filepath.Join(adir, "state"))
			h := runHadhcpd(t, a, cfg)
			k := startKeepalived(t, b, bdir, kaConf("b", tc.keepal))
			master, backup, md, bd := a, b, h, k
			if tc.keepal > tc.hadhcpd {
				master, backup, md, bd = b, a, k, h
			}
			// keepalived in the election at all, then one master that
			// stays one over five adverts.
			k.waitLog(t, `Entering (BACKUP|MASTER) STATE`, 10*time.Second)
			onlyMaster(t, master, backup, "election")
			time.Sleep(500 * time.Millisecond)
			onlyMaster(t, master, backup, "after 5 adverts")
			if k.proc.Exited() || h.proc.Exited() {
				t.Fatal("a speaker exited")
			}
			md.kill9()
			// RFC 5798 §6.4.2: the backup takes over after
			// Master_Down_Interval (3 × 100ms + skew); 3 s is generous.
			deadline := time.Now().Add(3 * time.Second)
			for !hasVIP(t, backup) {
				if time.Now().After(deadline) {
					t.Fatalf("%s did not take the VIP within 3s of the master's death", bd.name)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if bd.proc.Exited() {
				t.Fatalf("%s exited", bd.name)
			}
			if s := h.log.String(); strings.Contains(s, "level=ERROR") {
				t.Errorf("hadhcpd logged errors:\n%s", s)
			}
		})
	}
}
