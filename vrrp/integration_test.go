package vrrp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// checkOnlyMaster asserts that the VIP is on master only and that, over a
// quarter second, the observer's ARP for it is answered by master's MAC
// only.
func checkOnlyMaster(t *testing.T, l *vrrpLab, master, other *gw, what string) {
	t.Helper()
	if !waitFor(5*time.Second, func() bool { return master.hasVIP(t) && !other.hasVIP(t) }) {
		t.Fatalf("%s: VIP on %s=%v %s=%v, want only on %s\n--- %s log:\n%s\n--- %s log:\n%s", what,
			master.name, master.hasVIP(t), other.name, other.hasVIP(t), master.name,
			master.name, master.log, other.name, other.log)
	}
	// The probe stamps a reply when it reads it: one the other box's
	// kernel sent just before its address went can be read a moment after
	// the check above. Count from a probe interval or two later.
	time.Sleep(25 * time.Millisecond)
	from := time.Now()
	time.Sleep(250 * time.Millisecond)
	macs := l.probe.macsBetween(from, time.Now())
	if len(macs) != 1 || macs[master.mac.String()] == 0 {
		t.Fatalf("%s: ARP for the VIP answered by %v, want only %s (%s)", what, macs, master.name, master.mac)
	}
}

func TestIntegrationElectionFailover(t *testing.T) {
	testnet.RequireRoot(t)
	l := newVRRPLab(t, "hdv")
	a, b := l.a, l.b
	const adv = 100 * time.Millisecond

	a.startHadhcpd(t, 200, adv, true)
	b.startHadhcpd(t, 100, adv, true)
	checkOnlyMaster(t, l, a, b, "election")

	// SIGKILL of the master: the backup takes over; the dead box's kernel
	// still holds the VIP (nothing ran to remove it).
	a.kill9()
	t0 := time.Now()
	if _, ok := l.probe.waitTakeover(b.mac, t0, 3*time.Second); !ok {
		t.Fatalf("b did not answer ARP for the VIP after a was killed\n%s", b.log)
	}
	if !b.hasVIP(t) {
		t.Fatal("b answers but does not hold the VIP")
	}
	if !a.hasVIP(t) {
		t.Fatal("a's kernel lost the VIP without hadhcpd: the stale-VIP checks below would prove nothing")
	}

	// Restart without preempt: the stale VIP goes at start (invariant 4),
	// and a does not take the address back.
	a.startHadhcpd(t, 200, adv, false)
	checkOnlyMaster(t, l, b, a, "restart without preempt")
	time.Sleep(4 * adv)
	checkOnlyMaster(t, l, b, a, "still without preempt")

	// Restart with preempt: the higher priority takes it back.
	a.term()
	a.startHadhcpd(t, 200, adv, true)
	checkOnlyMaster(t, l, a, b, "restart with preempt")

	// The tracked interface loses carrier: a goes to fault and gives up.
	if err := l.lab.SetPeerLink(a.wanSw, false); err != nil {
		t.Fatal(err)
	}
	checkOnlyMaster(t, l, b, a, "tracked link down")
	if err := l.lab.SetPeerLink(a.wanSw, true); err != nil {
		t.Fatal(err)
	}
	checkOnlyMaster(t, l, a, b, "tracked link back")

	// `hadhcpd cleanup` (ExecStopPost) removes the VIP a killed master
	// left behind.
	a.kill9()
	if !a.hasVIP(t) {
		t.Fatal("a's kernel lost the VIP without hadhcpd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := a.host.Output(ctx, hadhcpdBin(t), "cleanup", "-c", a.dir+"/hadhcpd.yaml"); err != nil {
		t.Fatalf("hadhcpd cleanup: %v: %s", err, out)
	}
	checkOnlyMaster(t, l, b, a, "after cleanup")

	b.term()
	for _, g := range []*gw{a, b} {
		if s := g.log.String(); strings.Contains(s, "level=ERROR") {
			t.Errorf("%s logged errors:\n%s", g.name, s)
		}
	}
}
