package agent

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/vrrp"
	"github.com/hadhcpd/hadhcpd/vrrp/vrrptest"
)

// TestVRRPPartForPair: what a pair does with the VRRP part (pair.VRRP)
// reaches the running instance. A lowered priority and a resignation hand
// mastership to a partner that does not preempt; the part then knows the
// master is elsewhere and reports it in the instance's status; priority 0
// restores the configured one. agent/pair's maintenance tests drive a
// fake of this interface.
func TestVRRPPartForPair(t *testing.T) {
	seg := &vrrptest.Net{}
	const adv = 50 * time.Millisecond
	newInst := func(name, addr string, prio uint8) *vrrp.Instance {
		src := netip.MustParseAddr(addr)
		in, err := vrrp.NewInstance(vrrp.Config{Name: name, Interface: "lan0", VRID: 51, Priority: prio, AdvertInterval: adv,
			VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}},
			vrrp.Deps{Conn: seg.Conn(src), Owner: nopOwner{}, Primary: src})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	ours, partner := newInst("lan", "192.0.2.11", 200), newInst("partner", "192.0.2.12", 100)
	vr := &vrrpPart{specs: []instSpec{{cfg: ours.Config()}}, insts: map[string]*vrrp.Instance{"lan": ours}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, in := range []*vrrp.Instance{ours, partner} {
		wg.Go(func() { _ = in.Run(ctx) })
	}
	t.Cleanup(func() { cancel(); wg.Wait() })

	if e, known := vr.MasterElsewhere("wan"); e || known {
		t.Errorf("an instance that does not run: MasterElsewhere = %v, %v; want false, false", e, known)
	}
	waitFor(t, func() bool { return ours.Status().State == vrrp.Master && partner.Status().State == vrrp.Backup })
	if e, known := vr.MasterElsewhere("lan"); e || !known {
		t.Fatalf("master: MasterElsewhere = %v, %v; want false, true", e, known)
	}
	vr.SetPriority("lan", 1)
	vr.Resign("lan")
	waitFor(t, func() bool { e, _ := vr.MasterElsewhere("lan"); return e })
	if st := ours.Status(); st.State != vrrp.Backup || st.Priority != 1 || st.Cause != vrrp.CauseResign {
		t.Errorf("our instance %+v, want backup at priority 1 after resigning", st)
	}
	if partner.Status().State != vrrp.Master {
		t.Errorf("partner %v, want master", partner.Status().State)
	}
	if v, ok := vr.InstanceStatus("lan"); !ok || v.State != "BACKUP" || v.Master != "192.0.2.12" {
		t.Errorf("InstanceStatus = %+v, %v; want BACKUP with master 192.0.2.12", v, ok)
	}
	if _, ok := vr.InstanceStatus("wan"); ok {
		t.Error("InstanceStatus of an instance that is not configured")
	}
	vr.SetPriority("lan", 0)
	waitFor(t, func() bool { return ours.Status().Priority == 200 })
}
