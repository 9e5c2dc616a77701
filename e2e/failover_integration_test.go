package e2e

import (
	"fmt"
	"net/netip"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// Root tests of a hot-standby pair: two hadhcpd boxes on one LAN switch
// (VRRP, DHCP) with the sync link on its own cable, real dhclient clients.

const pairConfig = `node:
  name: %[1]s
  state_dir: %[2]s/state
  control_socket: %[2]s/ctl.sock
  metrics_listen: "%[8]s"
  log_level: debug
vrrp:
  instances:
    - name: lan
      interface: eth0
      vrid: 51
      priority: %[3]d
      advert_interval: 100ms
      virtual_ips: [192.0.2.1/24]
dhcp:
  interfaces: [eth0]
  default_lease_time: 1h
  min_lease_time: 10s
  options: {domain_name_servers: [192.0.2.53]}
  subnets:
    - subnet: 192.0.2.0/24
      pools: [{range: 192.0.2.100-192.0.2.200}]
      options: {routers: [192.0.2.1]}
failover:
  role: %[4]s
  listen: %[5]s
  peer: %[6]s
  vrrp_instance: lan
  max_response_delay: 3s
  auth: {psk_file: %[7]s}
`

// newPair is the pair of pairConfig (prefix "hdf"): the LAN
// 192.0.2.0/24, metrics on the secondary only.
func newPair(t *testing.T) *pair {
	t.Helper()
	testnet.RequireCmd(t, "dhclient")
	return newPairLab(t, "hdf", netip.MustParsePrefix("192.0.2.0/24"), 0, func(r boxRole, dir, psk string) string {
		metrics := ""
		if r.name == "sec" {
			metrics = "127.0.0.1:9767"
		}
		return fmt.Sprintf(pairConfig, r.name, dir, r.prio, r.role, r.listen, r.peer, psk, metrics)
	})
}

// waitReady waits until both boxes are in NORMAL, the primary holds the VIP
// and the secondary got its BACKUP share.
func (p *pair) waitReady(t *testing.T) {
	t.Helper()
	p.pri.WaitLog(`failover transition.*to=NORMAL`, 20*time.Second)
	p.sec.WaitLog(`failover transition.*to=NORMAL`, 20*time.Second)
	p.pri.WaitLog(`pool balance.*to=BACKUP`, 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for !(p.pri.hasVIP() && !p.sec.hasVIP()) {
		if time.Now().After(deadline) {
			t.Fatalf("VIP not on the primary alone within 10s (primary %v, secondary %v)", p.pri.hasVIP(), p.sec.hasVIP())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The secondary holds BACKUP addresses (replicated before the
	// primary's balance commit returned).
	backup := 0
	for _, l := range p.sec.leases() {
		if l["state"] == "backup" {
			backup++
		}
	}
	if backup == 0 {
		t.Fatal("the secondary holds no BACKUP address after pool balancing")
	}
	// What an operator sees: `hadhcpd status --json` over each box's
	// control socket agrees with the kernel and the logs.
	for _, c := range []struct {
		b         *pairBox
		vrrp      string
		minBackup int
	}{{p.pri, "MASTER", 1}, {p.sec, "BACKUP", 1}} {
		st := c.b.Status()
		if len(st.VRRP) != 1 || st.VRRP[0].State != c.vrrp {
			t.Errorf("%s: status vrrp = %+v, want one instance in %s", c.b.Name, st.VRRP, c.vrrp)
		}
		if st.Failover == nil || st.Failover.State != "NORMAL" || st.Failover.PartnerState != "NORMAL" || !st.Failover.LinkUp {
			t.Errorf("%s: status failover = %+v, want NORMAL/NORMAL with the link up", c.b.Name, st.Failover)
		}
		if len(st.Pools) != 1 || st.Pools[0].Total != 101 || st.Pools[0].Backup < c.minBackup {
			t.Errorf("%s: status pools = %+v, want 192.0.2.100-200 (101) with BACKUP addresses", c.b.Name, st.Pools)
		}
	}
}

var ackRx = regexp.MustCompile(`DHCPACK of (192\.0\.2\.\d+) from (\S+)`)

// TestIntegrationFailoverHotStandby: a lease from the primary is in the
// secondary's database by the time of the ACK; after the primary's box
// loss the secondary takes the VIP and serves new clients from its BACKUP
// share at once, and renews the first client's address.
func TestIntegrationFailoverHotStandby(t *testing.T) {
	p := newPair(t)
	p.waitReady(t)

	c1 := newClient(t, p.net.Host("c1"))
	c1.h.Connect(p.lan, "eth0")
	out, err := c1.dhclient(t)
	m := ackRx.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("c1: no lease from the pair: %v\n%s", err, out)
	}
	ip1 := m[1]
	if m[2] != "192.0.2.1" {
		t.Fatalf("c1's ACK came from %s, want the VIP 192.0.2.1 as server id (invariant 5)", m[2])
	}
	// Invariant 2: the ACK left after the secondary applied the lease, so
	// it is in the secondary's database now, without waiting.
	if st := leaseState(p.sec.leases(), ip1); st != "active" {
		t.Fatalf("c1's lease %s on the secondary right after the ACK: state %q, want active", ip1, st)
	}
	// Stop c1's background dhclient without a release: it comes back
	// later with INIT-REBOOT from its lease file.
	if out, err := c1.dhclient(t, "-x"); err != nil {
		t.Fatalf("dhclient -x: %v\n%s", err, out)
	}

	// c2's namespace exists before the failure, so its first DISCOVER
	// leaves right after it.
	c2 := newClient(t, p.net.Host("c2"))
	c2.h.Connect(p.lan, "eth0")
	p.sec.Log.Write([]byte("--- failure ---\n"))

	// Box loss: both cables of the primary go first (no FIN can leave),
	// then SIGKILL (PEERS.md "kill -9 is not a box failure").
	failAt := time.Now()
	p.pri.links("down")
	if err := p.pri.Proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	var ip2 string
	for try := 0; try < 3 && ip2 == ""; try++ {
		out, _ = c2.dhclient(t)
		if m := ackRx.FindStringSubmatch(out); m != nil {
			ip2 = m[1]
		}
	}
	if ip2 == "" {
		t.Fatalf("c2 got no lease from the secondary after the primary's loss:\n%s", out)
	}
	// The server's own log dates the first ACK precisely (dhclient's
	// retransmission timer would blur it).
	after := func(re string) time.Time {
		t.Helper()
		ts, _ := logEvent(p.sec.Log.String(), "--- failure ---\n", regexp.MustCompile(re))
		if ts.IsZero() {
			t.Fatalf("secondary: no dated %q after the failure", re)
		}
		return ts
	}
	ackAt := after(`msg="lease bind" .*ip=` + regexp.QuoteMeta(ip2) + ` `)
	vrrpAt := after(`msg="vrrp transition".*to=master`)
	discAt := after(`msg=offer .*ip=` + regexp.QuoteMeta(ip2) + ` `)
	t.Logf("takeover: failure -> secondary VRRP master %v; failure -> first ACK from the secondary %v "+
		"(its OFFER %v; dhclient's retransmission schedule sets the rest)",
		vrrpAt.Sub(failAt).Round(time.Millisecond), ackAt.Sub(failAt).Round(time.Millisecond), discAt.Sub(failAt).Round(time.Millisecond))
	// The takeover's ACK must not wait for the dead partner's ack
	// (max_response_delay, 3s): VRRP marked the link unreachable.
	if d := ackAt.Sub(discAt); d > time.Second {
		t.Errorf("OFFER -> ACK took %v on the secondary after the takeover: it waited for the lost partner", d)
	}
	if d := ackAt.Sub(failAt); d > 5*time.Second {
		t.Errorf("first ACK %v after the failure, want well under max_response_delay+adverts", d)
	}
	if !p.sec.hasVIP() {
		t.Error("the secondary serves without holding the VIP")
	}
	if ip2 == ip1 {
		t.Fatalf("c2 got %s, the address c1 holds (invariant 1)", ip2)
	}

	// c1 comes back (INIT-REBOOT, its lease file): same address.
	out, err = c1.dhclient(t)
	m = ackRx.FindStringSubmatch(out)
	if err != nil || m == nil || m[1] != ip1 {
		t.Fatalf("c1 after the takeover: want DHCPACK of %s: %v\n%s", ip1, err, out)
	}
	_, _ = c1.dhclient(t, "-x")
	_, _ = c2.dhclient(t, "-x")

	// No address is bound to two clients in the secondary's database, and
	// each client holds exactly one.
	seen := map[string]string{}
	for _, l := range p.sec.leases() {
		if l["state"] != "active" {
			continue
		}
		hw, _ := l["hw_address"].(string)
		ip, _ := l["ip"].(string)
		if prev, dup := seen[hw]; dup {
			t.Errorf("client %s holds %s and %s", hw, prev, ip)
		}
		seen[hw] = ip
	}
	if len(seen) != 2 {
		t.Errorf("secondary has %d active leases, want 2 (c1, c2): %v", len(seen), seen)
	}
	_ = p.sec.Proc.Signal(syscall.SIGTERM)
	if exited, _ := p.sec.Proc.Wait(10 * time.Second); !exited {
		t.Error("secondary did not stop within 10s of SIGTERM")
	}
}
