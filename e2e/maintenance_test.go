package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestIntegrationMaintenance: maintenance start on the primary hands the
// VIP to the secondary, which serves a new client while replication keeps
// both databases complete; maintenance stop takes the VIP back.
func TestIntegrationMaintenance(t *testing.T) {
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
	_, _ = c1.dhclient(t, "-x")

	// (Refusal while the partner is not NORMAL: agent/pair/operator_test.go.)
	begin := time.Now()
	out, err = p.pri.Run("maintenance", "start")
	if err != nil {
		t.Fatalf("maintenance start: %v\n%s", err, out)
	}
	cmdTook := time.Since(begin)
	took := waitVIP(t, p.sec, p.pri, 3*time.Second)
	t.Logf("maintenance start: command returned after %v; VIP on the secondary alone %v after it returned\n%s",
		cmdTook.Round(time.Millisecond), took.Round(time.Millisecond), out)
	if !strings.Contains(out, "maintenance on") {
		t.Errorf("maintenance start output: %q", out)
	}
	if d := cmdTook + took; d > 2*time.Second {
		t.Errorf("handover took %v, want about 1s (100ms adverts)", d)
	}
	if st := p.pri.Status(); st.Failover == nil || !st.Failover.LinkUp || len(st.VRRP) != 1 || st.VRRP[0].State != "BACKUP" || st.VRRP[0].Priority != 1 {
		t.Errorf("primary in maintenance: status %+v %+v, want BACKUP at priority 1 with the link up", st.VRRP, st.Failover)
	}

	// c2, new: served by the secondary; the lease reaches the primary's
	// database (replication in maintenance, invariant 2).
	c2 := newClient(t, p.net.Host("c2"))
	c2.h.Connect(p.lan, "eth0")
	out, err = c2.dhclient(t)
	m = ackRx.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("c2: no lease during maintenance: %v\n%s", err, out)
	}
	ip2 := m[1]
	if ip2 == ip1 {
		t.Fatalf("c2 got %s, c1's address", ip2)
	}
	if st := leaseState(p.pri.leases(), ip2); st != "active" {
		t.Errorf("c2's lease %s (given in maintenance) on the primary: %q, want active", ip2, st)
	}
	// c1 comes back (INIT-REBOOT from its lease file): same address,
	// from the secondary.
	out, err = c1.dhclient(t)
	if m = ackRx.FindStringSubmatch(out); err != nil || m == nil || m[1] != ip1 {
		t.Fatalf("c1 during maintenance: want DHCPACK of %s: %v\n%s", ip1, err, out)
	}
	_, _ = c1.dhclient(t, "-x")
	if !strings.Contains(p.sec.Log.String(), "ip="+ip1) {
		t.Errorf("the secondary's log does not show c1's renewal of %s", ip1)
	}

	out, err = p.pri.Run("maintenance", "stop")
	if err != nil {
		t.Fatalf("maintenance stop: %v\n%s", err, out)
	}
	took = waitVIP(t, p.pri, p.sec, 5*time.Second)
	t.Logf("maintenance stop: VIP back on the primary %v after the command returned\n%s", took.Round(time.Millisecond), out)
	if st := p.pri.Status(); st.Failover == nil || st.Failover.State != "NORMAL" {
		t.Errorf("primary after maintenance stop: %+v, want NORMAL", st.Failover)
	}
	// A lease given now by the primary is on the secondary too.
	out, err = c2.dhclient(t)
	if m = ackRx.FindStringSubmatch(out); err != nil || m == nil || m[1] != ip2 {
		t.Fatalf("c2 after maintenance: want DHCPACK of %s: %v\n%s", ip2, err, out)
	}
	_, _ = c2.dhclient(t, "-x")
	if st := leaseState(p.sec.leases(), ip2); st != "active" {
		t.Errorf("c2's lease %s on the secondary after maintenance: %q, want active", ip2, st)
	}
}

// TestIntegrationPartnerDown: the operator's partner-down is refused while
// the partner is alive, and moves the secondary to PARTNER-DOWN after the
// primary's box loss.
func TestIntegrationPartnerDown(t *testing.T) {
	p := newPair(t)
	p.waitReady(t)

	out, err := p.sec.Run("partner-down", "--yes")
	if err == nil || !strings.Contains(out, "refused") || !strings.Contains(out, "sync link") {
		t.Fatalf("partner-down with the partner alive: err %v, want refused (sync link up)\n%s", err, out)
	}
	// Without --yes and without a terminal: nothing is sent.
	out, err = p.sec.Run("partner-down")
	if err == nil || !strings.Contains(out, "not a terminal") {
		t.Fatalf("partner-down without --yes from a pipe: err %v\n%s", err, out)
	}

	// Box loss (PEERS.md: cables first, then SIGKILL).
	p.pri.links("down")
	if err := p.pri.Proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.sec.WaitLog(`failover transition.*to=COMMUNICATIONS-INTERRUPTED`, 10*time.Second)
	waitVIP(t, p.sec, p.pri, 5*time.Second)

	out, err = p.sec.Run("partner-down", "--yes")
	if err != nil {
		// The secondary may have reached PARTNER-DOWN by itself
		// (auto_partner_down 60s is far off, so it should not).
		t.Fatalf("partner-down after the primary's loss: %v\n%s", err, out)
	}
	if !strings.Contains(out, "PARTNER-DOWN") {
		t.Errorf("partner-down output: %q", out)
	}
	if st := p.sec.Status(); st.Failover == nil || st.Failover.State != "PARTNER-DOWN" {
		t.Errorf("secondary status after partner-down: %+v, want PARTNER-DOWN", st.Failover)
	}
	p.sec.WaitLog(`failover transition.*to=PARTNER-DOWN.*operator command`, time.Second)
	out, err = p.sec.Run("partner-down", "--yes")
	if err == nil || !strings.Contains(out, "already in PARTNER-DOWN") {
		t.Errorf("second partner-down: err %v, want refused (already)\n%s", err, out)
	}
}
