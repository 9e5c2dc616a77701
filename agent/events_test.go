package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock/clocktest"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/config/configtest"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/dhcpd"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/events"
	"github.com/hadhcpd/hadhcpd/sync/failover"
	"github.com/hadhcpd/hadhcpd/vrrp"
)

// TestLeaseWriterSingleServer: the API's release on a single server goes
// through the engine into the database, says the partner has nothing to
// ack, and is published with who asked; a second release finds no lease.
func TestLeaseWriterSingleServer(t *testing.T) {
	clk := clocktest.NewFake(time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC))
	base := configtest.DHCPNode(t, "eth0", "192.0.2.100-192.0.2.200")
	b, err := config.Build(base)
	if err != nil {
		t.Fatal(err)
	}
	db, _, err := lease.Open(lease.Options{Dir: t.TempDir(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.SetPools(b.DHCP.Pools()); err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	ip := netip.MustParseAddr("192.0.2.120")
	hw := net.HardwareAddr{2, 0, 0, 0, 0, 7}
	if _, err := db.Commit(lease.Lease{Addr: ip, HWAddr: hw, State: lease.StateActive, Start: now, Expiry: now.Add(time.Hour), CLTT: now, StateStart: now}); err != nil {
		t.Fatal(err)
	}
	eng, err := dhcpd.NewEngine(dhcpd.EngineOptions{Config: b.DHCP, DB: db, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	bus := events.NewBus(events.Options{Box: "gw1", Clock: clk})
	sub := bus.Subscribe(0)
	defer sub.Close()
	w := &leaseWriter{log: slog.New(slog.DiscardHandler), dh: &dhcpPart{db: db, eng: eng}, bus: bus}

	res, err := w.Release(context.Background(), ip, "token:0123abcd")
	if err != nil || res.State != "RELEASED" || res.PartnerAcked || res.IP != "192.0.2.120" {
		t.Fatalf("Release = %+v, %v", res, err)
	}
	if l, _ := db.Get(ip); l.State != lease.StateReleased {
		t.Errorf("database holds %v, want RELEASED", l.State)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs, err := sub.Next(ctx, make([]events.Event, 4))
	if err != nil || len(evs) != 1 || evs[0].Action != events.Released || evs[0].IP != ip || evs[0].By != "token:0123abcd" ||
		net.HardwareAddr(evs[0].HWAddr).String() != hw.String() {
		t.Errorf("published %+v, %v", evs, err)
	}
	if _, err := w.Release(context.Background(), ip, "loopback"); !errors.Is(err, control.ErrNoLease) {
		t.Errorf("second release: %v, want ErrNoLease", err)
	}
}

// TestObservers: the VRRP and failover observers publish the transition
// as the operator reads it; a relationship's names it, the single
// failover: section's names none (its JSON has no relationship key).
func TestObservers(t *testing.T) {
	bus := events.NewBus(events.Options{Box: "gw1"})
	vrrpObserver(bus)("lan", vrrp.Transition{From: vrrp.Backup, To: vrrp.Master, Cause: vrrp.CauseMasterDown})
	failoverObserver(bus, "")(failover.Transition{From: failover.Normal, To: failover.CommInterrupted, Reason: "sync link down"})
	failoverObserver(bus, "seg1")(failover.Transition{From: failover.Normal, To: failover.CommInterrupted, Reason: "sync link down"})
	got := bus.Recent(3)
	if len(got) != 3 {
		t.Fatalf("events %+v", got)
	}
	if got[0].Type != events.TypeVRRP || got[0].Instance != "lan" || got[0].From != "BACKUP" || got[0].To != "MASTER" || got[0].Reason == "" {
		t.Errorf("vrrp event %+v", got[0])
	}
	for i, rel := range []string{"", "seg1"} {
		ev := got[i+1]
		if ev.Type != events.TypeFailover || ev.Relationship != rel || ev.From != "NORMAL" || ev.To != "COMMUNICATIONS-INTERRUPTED" {
			t.Errorf("failover event of %q: %+v", rel, ev)
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if named := strings.Contains(string(b), `"relationship":"seg1"`); named != (rel != "") || (rel == "" && strings.Contains(string(b), "relationship")) {
			t.Errorf("failover event of %q in JSON: %s", rel, b)
		}
	}
}
