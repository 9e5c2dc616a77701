package failover

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// Addresses of the lab (documentation ranges only: RFC 5737, RFC 2544).
const (
	vip       = "198.18.0.1"
	lanPrefix = "16"
	poolStart = "198.18.1.0"
	poolEnd   = "198.18.16.255" // 4096 addresses
	leaseSecs = 3600
)

// box is one gateway of the pair.
type box struct {
	name   string
	host   *testnet.Host
	dir    string // configs, state and logs (short path: unix sockets)
	lanIP  string
	syncIP string
	mac    string
	dhcp   *testnet.Proc // the DHCP server (hadhcpd itself for hadhcpd)
	vrrp   *testnet.Proc // keepalived; nil for hadhcpd
	log    *testnet.Buffer
	hd     *lab.Box // hadhcpd's box; nil for the others
	cfg    string   // hadhcpd config / dhcpd.conf / kea json
	leases string   // dhcpd.leases / kea csv
}

// pair is one run's lab.
type pair struct {
	lab     *testnet.Lab
	lan     string
	a, b    *box // a starts active (primary), b standby
	clients *testnet.Host
}

// stack is one of the compared systems.
type stack interface {
	name() string
	timers() string
	start(t *testing.T, p *pair)
	// ready blocks (bounded) until the pair can take a failure: replication
	// up, the standby provisioned, the VIP on a.
	ready(t *testing.T, p *pair)
	leases(t *testing.T, b *box) (leaseStore, error)
}

func newPair(t *testing.T) *pair {
	t.Helper()
	n := testnet.New(t, "hbf")
	p := &pair{lab: n, lan: n.Switch("lan")}
	root, err := os.MkdirTemp("", "hbf-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	mk := func(name, lanIP, syncIP string) *box {
		b := &box{name: name, host: n.Host(name), dir: filepath.Join(root, name), lanIP: lanIP, syncIP: syncIP, log: &testnet.Buffer{}}
		if err := os.MkdirAll(b.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		b.host.Connect(p.lan, "eth0", lanIP+"/"+lanPrefix)
		b.mac = lab.IfMAC(t, b.host, "eth0")
		return b
	}
	p.a = mk("a", "198.18.0.2", "198.51.100.1")
	p.b = mk("b", "198.18.0.3", "198.51.100.2")
	n.Cable(p.a.host, "sync0", p.a.syncIP+"/24", p.b.host, "sync0", p.b.syncIP+"/24")
	p.clients = n.Host("cl")
	p.clients.Connect(p.lan, "eth0")
	t.Cleanup(func() {
		if t.Failed() {
			for _, b := range []*box{p.a, p.b} {
				t.Logf("box %s log (tail):\n%s", b.name, lab.Tail(b.log.String(), 60))
			}
		}
	})
	return p
}

// hasVIP reports whether b holds the VIP on eth0.
func hasVIP(b *box) bool { return lab.HasAddr(b.host, "eth0", vip) }

// ---- keepalived (VRRP for Kea and ISC) ----

const keepalivedConf = `global_defs {
    router_id %[1]s
    vrrp_version 3
}
vrrp_instance hbf_51 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %[2]d
    advert_int 0.1
    virtual_ipaddress {
        %[3]s/%[4]s dev eth0
    }
}
`

const keepalivedTimers = "keepalived VRRPv3 advert_int 0.1 (priorities 200/100, preempt)"

func startKeepalived(t *testing.T, b *box, prio int) {
	t.Helper()
	conf := filepath.Join(b.dir, "keepalived.conf")
	lab.WriteFile(t, conf, fmt.Sprintf(keepalivedConf, b.name, prio, vip, lanPrefix))
	b.vrrp = b.host.Start(b.log, "keepalived", "-n", "-l", "-D", "--vrrp", "-f", conf,
		"-p", filepath.Join(b.dir, "keepalived.pid"), "-r", filepath.Join(b.dir, "vrrp.pid"))
}

// ---- hadhcpd ----

type hadhcpdStack struct{}

const hadhcpdConf = `node:
  name: %[1]s
  state_dir: %[2]s/state
  control_socket: %[2]s/ctl.sock
  metrics_listen: ""
vrrp:
  instances:
    - name: lan
      interface: eth0
      vrid: 51
      priority: %[3]d
      advert_interval: 100ms
      virtual_ips: [%[8]s/16]
dhcp:
  interfaces: [eth0]
  default_lease_time: 1h
  max_lease_time: 1h
  subnets:
    - subnet: 198.18.0.0/16
      pools: [{range: %[9]s-%[10]s}]
      options: {routers: [%[8]s]}
failover:
  role: %[4]s
  listen: %[5]s:647
  peer: %[6]s:647
  vrrp_instance: lan
  mclt: 5m
  max_response_delay: 3s
  standby_share: 50%%
  auth: {psk_file: %[7]s}
`

func (hadhcpdStack) name() string { return "hadhcpd" }
func (hadhcpdStack) timers() string {
	return "hadhcpd VRRPv3 advert 100ms (priorities 200/100: standby Master_Down_Interval 361 ms); failover max_response_delay 3s (the default), mclt 5m, standby_share 50%"
}

func (hadhcpdStack) start(t *testing.T, p *pair) {
	t.Helper()
	pskFile := filepath.Join(filepath.Dir(p.a.dir), "peer.key")
	lab.WritePSK(t, pskFile)
	for _, c := range []struct {
		b         *box
		role      string
		prio      int
		peerShare *box
	}{{p.a, "primary", 200, p.b}, {p.b, "secondary", 100, p.a}} {
		c.b.hd = lab.NewBox(t, c.b.host, c.b.name, c.b.dir, fmt.Sprintf(hadhcpdConf, c.b.name, c.b.dir, c.prio, c.role, c.b.syncIP, c.peerShare.syncIP, pskFile, vip, poolStart, poolEnd))
		c.b.hd.Log = c.b.log
		c.b.cfg = c.b.hd.Cfg
	}
	for _, b := range []*box{p.b, p.a} {
		b.hd.Start()
		b.dhcp = b.hd.Proc
	}
}

func (hadhcpdStack) ready(t *testing.T, p *pair) {
	t.Helper()
	lab.WaitFor(t, 90*time.Second, "hadhcpd pair in NORMAL, VIP on a, standby owning BACKUP addresses", func() (bool, string) {
		for _, b := range []*box{p.a, p.b} {
			if b.dhcp.Exited() {
				t.Fatalf("hadhcpd on %s exited", b.name)
			}
		}
		sa, erra := p.a.hd.TryStatus()
		sb, errb := p.b.hd.TryStatus()
		switch {
		case erra != nil || errb != nil:
			return false, fmt.Sprintf("status: %v / %v", erra, errb)
		case sa.Failover == nil || sb.Failover == nil || sa.Failover.State != "NORMAL" || sb.Failover.State != "NORMAL":
			return false, fmt.Sprintf("failover %+v / %+v", sa.Failover, sb.Failover)
		case len(sa.VRRP) != 1 || sa.VRRP[0].State != "MASTER" || !hasVIP(p.a) || hasVIP(p.b):
			return false, fmt.Sprintf("vrrp %+v, VIP on a %v, on b %v", sa.VRRP, hasVIP(p.a), hasVIP(p.b))
		case len(sb.Pools) != 1 || sb.Pools[0].Backup < 1000:
			return false, fmt.Sprintf("standby pools %+v, want ≥ 1000 BACKUP", sb.Pools)
		}
		return true, ""
	})
}

func (hadhcpdStack) leases(_ *testing.T, b *box) (leaseStore, error) {
	out, err := b.hd.Output(30*time.Second, "leases", "--json")
	if err != nil {
		return nil, err
	}
	return parseHadhcpdJSON(out)
}

// ---- Kea 2.2 HA hot-standby + keepalived ----

type keaStack struct{}

// Kea HA timers: heartbeats every 200 ms, the partner is unreachable after
// 1 s without an answer, and with max-unacked-clients 0 the standby goes
// PARTNER-DOWN then without waiting for clients' secs to grow (PEERS.md:
// the defaults fail over only after ≥ 60 s). max-response-delay must exceed
// heartbeat-delay; smaller values make a loaded 2-core box flap.
const (
	keaHeartbeat   = 200
	keaMaxResponse = 1000
	keaMaxAck      = 1000
)

const keaConf = `{
"Dhcp4": {
    "interfaces-config": { "interfaces": [ "eth0/%[2]s" ], "dhcp-socket-type": "raw" },
    "control-socket": { "socket-type": "unix", "socket-name": "%[1]s/kea4.sock" },
    "lease-database": { "type": "memfile", "persist": true, "name": "%[1]s/kea-leases4.csv", "lfc-interval": 3600 },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 64 },
    "valid-lifetime": %[6]d,
    "renew-timer": %[7]d,
    "rebind-timer": %[8]d,
    "authoritative": true,
    "subnet4": [ {
        "id": 1,
        "subnet": "198.18.0.0/16",
        "interface": "eth0",
        "pools": [ { "pool": "%[10]s - %[11]s" } ],
        "option-data": [ { "name": "routers", "data": "%[9]s" } ]
    } ],
    "hooks-libraries": [
        { "library": "%[5]s/libdhcp_lease_cmds.so" },
        { "library": "%[5]s/libdhcp_ha.so",
          "parameters": { "high-availability": [ {
              "this-server-name": "%[3]s",
              "mode": "hot-standby",
              "heartbeat-delay": %[12]d,
              "max-response-delay": %[13]d,
              "max-ack-delay": %[14]d,
              "max-unacked-clients": 0,
              "sync-timeout": 60000,
              "send-lease-updates": true,
              "sync-leases": true,
              "multi-threading": { "enable-multi-threading": true, "http-dedicated-listener": true,
                                   "http-listener-threads": 2, "http-client-threads": 2 },
              "peers": [
                  { "name": "a", "url": "http://%[4]s:8001/", "role": "primary", "auto-failover": true },
                  { "name": "b", "url": "http://%[15]s:8001/", "role": "standby", "auto-failover": true }
              ]
          } ] } }
    ],
    "loggers": [ { "name": "kea-dhcp4", "severity": "INFO", "output_options": [ { "output": "stdout" } ] } ]
}
}
`

func keaHooksDir() string {
	for _, d := range []string{"/usr/lib/x86_64-linux-gnu/kea/hooks", "/usr/lib/kea/hooks", "/usr/lib64/kea/hooks"} {
		if _, err := os.Stat(filepath.Join(d, "libdhcp_ha.so")); err == nil {
			return d
		}
	}
	return ""
}

func (keaStack) name() string { return "kea-ha" }
func (keaStack) timers() string {
	return fmt.Sprintf("Kea 2.2 HA hot-standby heartbeat-delay %d ms, max-response-delay %d ms, max-ack-delay %d ms, max-unacked-clients 0; %s",
		keaHeartbeat, keaMaxResponse, keaMaxAck, keepalivedTimers)
}

func (keaStack) start(t *testing.T, p *pair) {
	t.Helper()
	hooks := keaHooksDir()
	if hooks == "" {
		t.Skip("skipped: Kea's libdhcp_ha.so not found (make deps installs kea-dhcp4-server)")
	}
	for _, b := range []*box{p.a, p.b} {
		b.cfg = filepath.Join(b.dir, "kea-dhcp4.json")
		b.leases = filepath.Join(b.dir, "kea-leases4.csv")
		lab.WriteFile(t, b.cfg, fmt.Sprintf(keaConf, b.dir, b.lanIP, b.name, p.a.syncIP, hooks, leaseSecs, leaseSecs/2, leaseSecs*7/8, vip, poolStart, poolEnd,
			keaHeartbeat, keaMaxResponse, keaMaxAck, p.b.syncIP))
		env := []string{"KEA_PIDFILE_DIR=" + b.dir, "KEA_LOCKFILE_DIR=" + b.dir}
		// -t inside the namespace: it checks the pinned interface exists.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := b.host.Output(ctx, "env", append(env, "kea-dhcp4", "-t", b.cfg)...)
		cancel()
		if err != nil {
			t.Fatalf("kea-dhcp4 -t on %s: %v\n%s", b.name, err, out)
		}
	}
	startKeepalived(t, p.a, 200)
	startKeepalived(t, p.b, 100)
	for _, b := range []*box{p.b, p.a} {
		b.dhcp = b.host.Start(b.log, "env", "KEA_PIDFILE_DIR="+b.dir, "KEA_LOCKFILE_DIR="+b.dir, "kea-dhcp4", "-c", b.cfg)
	}
}

// keaCommand sends one command to a Kea control socket.
func keaCommand(b *box, cmd string) (map[string]any, error) {
	c, err := net.DialTimeout("unix", filepath.Join(b.dir, "kea4.sock"), 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := fmt.Fprintf(c, `{"command": %q}`, cmd); err != nil {
		return nil, err
	}
	var resp map[string]any
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func keaHAState(b *box) string {
	r, err := keaCommand(b, "ha-heartbeat")
	if err != nil {
		return "error: " + err.Error()
	}
	if args, ok := r["arguments"].(map[string]any); ok {
		if s, ok := args["state"].(string); ok {
			return s
		}
	}
	return fmt.Sprint(r)
}

func (keaStack) ready(t *testing.T, p *pair) {
	t.Helper()
	lab.WaitFor(t, 90*time.Second, "Kea HA pair in hot-standby, VIP on a", func() (bool, string) {
		for _, b := range []*box{p.a, p.b} {
			if b.dhcp.Exited() || b.vrrp.Exited() {
				t.Fatalf("kea-dhcp4 or keepalived on %s exited", b.name)
			}
		}
		sa, sb := keaHAState(p.a), keaHAState(p.b)
		if sa != "hot-standby" || sb != "hot-standby" || !hasVIP(p.a) || hasVIP(p.b) {
			return false, fmt.Sprintf("HA state %q / %q, VIP on a %v, on b %v", sa, sb, hasVIP(p.a), hasVIP(p.b))
		}
		return true, ""
	})
}

func (keaStack) leases(_ *testing.T, b *box) (leaseStore, error) {
	f, err := os.Open(b.leases)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseKeaCSV(f)
}

// ---- ISC dhcpd 4.4 failover + keepalived ----

type iscStack struct{}

const (
	iscMaxResponseDelay = 3 // seconds; contact messages go every third of it (whole seconds)
	iscMCLT             = 300
	iscLBMaxSeconds     = 3
)

const iscConf = `authoritative;
ddns-update-style none;
ping-check false;
default-lease-time %[1]d;
max-lease-time %[1]d;
one-lease-per-client true;
server-identifier %[2]s;

failover peer "hbf-fo" {
    %[3]s;
    address %[4]s;
    port 647;
    peer address %[5]s;
    peer port 647;
    max-response-delay %[6]d;
    max-unacked-updates 10;
    load balance max seconds %[7]d;
%[8]s
}

subnet 198.18.0.0 netmask 255.255.0.0 {
    option routers %[9]s;
    pool {
        failover peer "hbf-fo";
        range %[10]s %[11]s;
    }
}
`

// iscSeed starts both servers in NORMAL (PEERS.md: with empty lease files
// both start in RECOVER and wait MCLT before serving anyone).
const iscSeed = `failover peer "hbf-fo" state {
  my state normal at 1 2024/01/01 00:00:00;
  partner state normal at 1 2024/01/01 00:00:00;
}
`

func (iscStack) name() string { return "isc-dhcpd" }
func (iscStack) timers() string {
	return fmt.Sprintf("ISC dhcpd 4.4 failover max-response-delay %d s, mclt %d s, split 256, load balance max seconds %d; %s",
		iscMaxResponseDelay, iscMCLT, iscLBMaxSeconds, keepalivedTimers)
}

func (iscStack) start(t *testing.T, p *pair) {
	t.Helper()
	for _, c := range []struct {
		b, peer *box
		role    string
		extra   string
	}{{p.a, p.b, "primary", fmt.Sprintf("    mclt %d;\n    split 256;", iscMCLT)}, {p.b, p.a, "secondary", ""}} {
		b := c.b
		b.cfg = filepath.Join(b.dir, "dhcpd.conf")
		b.leases = filepath.Join(b.dir, "dhcpd.leases")
		lab.WriteFile(t, b.cfg, fmt.Sprintf(iscConf, leaseSecs, b.lanIP, c.role, b.syncIP, c.peer.syncIP, iscMaxResponseDelay, iscLBMaxSeconds, c.extra, vip, poolStart, poolEnd))
		lab.WriteFile(t, b.leases, iscSeed)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := b.host.Output(ctx, "dhcpd", "-t", "-4", "-cf", b.cfg)
		cancel()
		if err != nil {
			t.Fatalf("dhcpd -t on %s: %v\n%s", b.name, err, out)
		}
	}
	startKeepalived(t, p.a, 200)
	startKeepalived(t, p.b, 100)
	for _, b := range []*box{p.b, p.a} {
		b.dhcp = b.host.Start(b.log, "dhcpd", "-f", "-d", "-4", "-cf", b.cfg, "-lf", b.leases, "-pf", filepath.Join(b.dir, "dhcpd.pid"), "eth0")
	}
}

func (iscStack) ready(t *testing.T, p *pair) {
	t.Helper()
	// The primary hands the secondary its share of the free leases (pool
	// balancing) before the secondary can serve new clients alone.
	lab.WaitFor(t, 120*time.Second, "ISC pair balanced (secondary owns BACKUP leases), VIP on a", func() (bool, string) {
		for _, b := range []*box{p.a, p.b} {
			if b.dhcp.Exited() || b.vrrp.Exited() {
				t.Fatalf("dhcpd or keepalived on %s exited", b.name)
			}
		}
		data, err := os.ReadFile(p.b.leases)
		if err != nil {
			return false, err.Error()
		}
		n := backupCount(bytes.NewReader(data))
		if n < 1000 || !hasVIP(p.a) || hasVIP(p.b) {
			return false, fmt.Sprintf("secondary owns %d BACKUP leases (want ≥ 1000), VIP on a %v, on b %v", n, hasVIP(p.a), hasVIP(p.b))
		}
		return true, ""
	})
}

func (iscStack) leases(_ *testing.T, b *box) (leaseStore, error) {
	f, err := os.Open(b.leases)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseISCLeases(f)
}
