package agent

import (
	"net/netip"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/sync/failover"
	"github.com/hadhcpd/hadhcpd/sync/peer"
	"github.com/hadhcpd/hadhcpd/vrrp"
)

// fakeClock is a settable peer.Clock for the VRRP callbacks.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time                    { return c.now }
func (c *fakeClock) NewTimer(time.Duration) peer.Timer { panic("not used") }

// TestVRRPSilenceVersusPreemption: a master-down right after the partner's
// adverts is a preemption (no news about the partner); one after silence
// says the partner stopped advertising (failover.VRRPPartner{Heard: false}).
func TestVRRPSilenceVersusPreemption(t *testing.T) {
	clk := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := &failoverPart{clock: clk, silence: 300 * time.Millisecond}
	p.q.init()
	down := vrrp.Transition{From: vrrp.Backup, To: vrrp.Master, Cause: vrrp.CauseMasterDown}

	p.onVRRPAdvert(netipZero, 100)
	p.onVRRPAdvert(netipZero, 100) // only the change is queued
	clk.now = clk.now.Add(100 * time.Millisecond)
	p.onVRRPTransition(down) // preempting a lower master
	got := p.q.drain()
	want := []failover.Event{failover.VRRPPartner{Heard: true}, failover.VRRPMaster{Master: true}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("preemption: events %v, want %v", got, want)
	}
	p.onVRRPTransition(vrrp.Transition{From: vrrp.Master, To: vrrp.Backup, Cause: vrrp.CausePreempted})
	clk.now = clk.now.Add(time.Second) // the partner's adverts stopped
	p.onVRRPTransition(down)
	got = p.q.drain()
	want = []failover.Event{failover.VRRPMaster{Master: false}, failover.VRRPPartner{Heard: false}, failover.VRRPMaster{Master: true}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("silence: events %v, want %v", got, want)
	}
}

var netipZero netip.Addr
