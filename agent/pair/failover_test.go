package pair

import (
	"net/netip"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock/clocktest"
	"github.com/hadhcpd/hadhcpd/sync/failover"
	"github.com/hadhcpd/hadhcpd/vrrp"
)

// TestVRRPEventsToMachine: the VRRP callbacks hand the machine what the
// instance saw, with its time; a run of adverts is folded into the latest
// (failover.Presence decides what they mean: TestPresence).
func TestVRRPEventsToMachine(t *testing.T) {
	clk := clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	p := &Pair{clock: clk, silence: 300 * time.Millisecond}
	p.q.init()
	down := vrrp.Transition{From: vrrp.Backup, To: vrrp.Master, Cause: vrrp.CauseMasterDown}

	p.onVRRPAdvert(netipZero, 100)
	first := clk.Now()
	clk.Advance(100 * time.Millisecond)
	p.onVRRPAdvert(netipZero, 100)
	last := clk.Now()
	clk.Advance(time.Second)
	p.onVRRPTransition(down)
	p.onVRRPTransition(vrrp.Transition{From: vrrp.Master, To: vrrp.Backup, Cause: vrrp.CausePreempted})
	p.onVRRPAdvert(netipZero, 100)
	p.onVRRPTransition(vrrp.Transition{From: vrrp.Backup, To: vrrp.Master, Cause: vrrp.CausePreempted})
	got := p.q.drain()
	want := []failover.Event{failover.VRRPAdvert{At: last},
		failover.VRRPMasterDown{At: clk.Now(), Window: 300 * time.Millisecond}, failover.VRRPMaster{Master: true},
		failover.VRRPMaster{Master: false}, failover.VRRPAdvert{At: clk.Now()}, failover.VRRPMaster{Master: true}}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %v, want %v (first advert at %v)", i, got[i], want[i], first)
		}
	}
}

var netipZero netip.Addr
