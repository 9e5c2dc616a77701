package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestIntegrationFailoverDiskLoss: the primary loses its disk (README,
// "A box lost its disk"). It serves, is killed, the secondary serves alone,
// and the primary comes back with an empty state_dir. It must get every
// lease from the secondary before it takes the VIP back (invariant 3: its
// VRRP priority stays 1 while its database is not known complete, although
// it has the higher configured priority and preempts), and afterwards both
// boxes hold every ACKed lease (invariant 2) with no address given twice
// (invariant 1).
func TestIntegrationFailoverDiskLoss(t *testing.T) {
	// The primary will come back without its journal: it cannot prove
	// that its partner knows every lease it gave out, so after the
	// resync it waits one MCLT in RECOVER-WAIT (draft-ietf-dhc-failover-12
	// §8.2.3) before it may serve or take the VIP. The shortest MCLT the
	// config allows keeps the test short; both boxes hold it, since the
	// pair refuses its link while the MCLTs differ.
	spec := crashSpec
	spec.failover += "  mclt: 1m\n"
	p := newLoadPair(t, "hdz", spec)
	cl := p.net.Host("cl")
	cl.Connect(p.lan, "eth0")
	load := newLoadClient(t, cl)

	p.mustNormal(t, crashNormalWait)
	runLoad := func(round int, d time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		load.run(ctx, round)
	}
	runLoad(0, 2*time.Second)

	p.pri.Kill(syscall.SIGKILL, 10*time.Second)
	runLoad(1, 3*time.Second) // the secondary alone, from its BACKUP share

	// The disk is gone: an empty state directory, the config and key kept.
	state := filepath.Join(p.pri.Dir, "state")
	if err := os.RemoveAll(state); err != nil {
		t.Fatal(err)
	}
	load.mu.Lock()
	before := append([]crashAck(nil), load.acks...)
	load.mu.Unlock()
	if len(before) < 200 {
		t.Fatalf("only %d ACKs before the primary's return: the load did not work", len(before))
	}

	// Watch the VIP while the primary returns: the first time it holds
	// it, its database must already have every lease ACKed so far.
	_, _ = fmt.Fprintf(p.pri.Log, "--- disk lost: %d leases ACKed so far ---\n", len(before))
	restart := time.Now()
	marker := p.pri.Start()
	// SIGKILL left the VIP on the primary's interface (kill -9 is not a
	// box failure: the kernel keeps the address); the agent removes it
	// before anything else. Watch the VIP only after the resync.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, pos := logEvent(p.pri.Log.String(), marker, toRecWaitRx); pos >= 0 {
			break
		}
		if time.Now().After(deadline) || p.pri.Proc.Exited() {
			t.Fatalf("the primary did not resync and enter RECOVER-WAIT within 60s of its start on an empty disk")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Meanwhile the secondary keeps serving, and the VIP stays with it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	held := make(chan bool, 1)
	go func() {
		for ctx.Err() == nil {
			if p.pri.hasVIP() {
				held <- true
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		held <- false
	}()
	load.run(ctx, 2)
	cancel()
	if <-held {
		t.Fatal("the primary took the VIP during RECOVER-WAIT")
	}
	load.mu.Lock()
	during := len(load.acks) - len(before)
	load.mu.Unlock()
	if during == 0 {
		t.Error("no client got a lease while the primary waited in RECOVER-WAIT: the secondary stopped serving")
	}
	load.mu.Lock()
	before = append([]crashAck(nil), load.acks...)
	load.mu.Unlock()

	deadline = time.Now().Add(2 * time.Minute)
	for !p.pri.hasVIP() {
		if time.Now().After(deadline) {
			t.Fatal("the primary did not take the VIP back within MCLT + 1m of its restart")
		}
		if p.pri.Proc.Exited() {
			t.Fatal("the primary exited after its restart on an empty disk")
		}
		time.Sleep(20 * time.Millisecond)
	}
	tookVIP := time.Now()
	v := checkCrash(before, activeLeases(t, p.pri), p.pri.Name, tookVIP)
	reportLines(t, "the primary took the VIP without this lease (invariant 3)", v.lost)
	// And in the primary's own words: the resync ended before it became
	// VRRP master.
	log := p.pri.Log.String()
	_, resync := logEvent(log, marker, resyncRx)
	_, master := logEvent(log, marker, toMasterRx)
	if resync < 0 || master < resync {
		t.Errorf("the primary became VRRP master before its resync (log offsets: resync %d, master %d)", resync, master)
	}
	if t.Failed() {
		t.FailNow()
	}

	p.mustNormal(t, crashNormalWait)
	runLoad(3, 2*time.Second)
	load.mu.Lock()
	all := append([]crashAck(nil), load.acks...)
	failed := load.failed
	load.mu.Unlock()
	now := time.Now()
	reportViolations(t, "lost (invariant 2)", crashCheck(all)(activeLeases(t, p.pri), activeLeases(t, p.sec), now))
	t.Logf("disk loss: %d leases ACKed before the primary took the VIP back (%d while it waited in RECOVER-WAIT), %d in all, %d exchanges unanswered; VIP back %v after the restart, with every lease",
		len(before), during, len(all), failed, tookVIP.Sub(restart).Round(time.Millisecond))
}
