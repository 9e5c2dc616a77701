package dhcpd

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// setPools is the fake database's SetPools.
type setPools func([]lease.Pool) error

func (f setPools) SetPools(p []lease.Pool) error { return f(p) }

// TestReconfigureSwapsPoolsAndOptions: after Reconfigure the engine offers
// from the new pool with the new options (reload and config sync without a
// restart); a database that refuses the pools leaves the old config.
func TestReconfigureSwapsPoolsAndOptions(t *testing.T) {
	r := newRig(t)
	newPool := lease.Pool{Name: "192.0.2.150-192.0.2.160", First: ip("192.0.2.150"), Last: ip("192.0.2.160")}
	cfg := &scope.Config{
		Authoritative: true, DeclineProbation: r.cfg.DeclineProbation,
		Subnets: []*scope.Subnet{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Pools: []lease.Pool{newPool},
			Options: scope.Options{3: []byte{192, 0, 2, 254}}, Times: defTimes}},
	}
	swap := setPools(func(p []lease.Pool) error {
		r.db.mu.Lock()
		r.db.pools = p
		r.db.mu.Unlock()
		return nil
	})
	if err := r.e.Reconfigure(nil, swap); err == nil {
		t.Fatal("Reconfigure(nil) succeeded")
	}
	if err := r.e.Reconfigure(cfg, setPools(func([]lease.Pool) error { return errors.New("no") })); err == nil {
		t.Fatal("Reconfigure succeeded although the database refused the pools")
	}
	if a := ip(r.dora(t, macA).YourIPAddr.String()); a.Less(lanPool.First) || lanPool.Last.Less(a) {
		t.Fatalf("after a refused reconfigure: leased %s, want the old pool %s", a, lanPool.Name)
	}
	if err := r.e.Reconfigure(cfg, swap); err != nil {
		t.Fatal(err)
	}
	if cfg.OfferHold <= 0 || cfg.Subnets[0].Options[1] == nil {
		t.Errorf("Reconfigure did not fill the defaults (offer hold, subnet mask): %+v", cfg)
	}
	ack := r.dora(t, macB)
	got := ip(ack.YourIPAddr.String())
	if got.Less(newPool.First) || newPool.Last.Less(got) {
		t.Fatalf("after Reconfigure: leased %s, want one of %s", got, newPool.Name)
	}
	if rt := ack.Options.Get(dhcpv4.OptionRouter); len(rt) != 4 || rt[3] != 254 {
		t.Errorf("after Reconfigure: router option %v, want 192.0.2.254", rt)
	}
}
