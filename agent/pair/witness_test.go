package pair

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock/clocktest"
	"github.com/hadhcpd/hadhcpd/sync/failover"
)

// fakeWitness answers probes from a table: an address absent from it
// fails (no link).
type fakeWitness struct {
	own    []netip.Addr
	answer map[netip.Addr]bool
	mu     sync.Mutex
	probed int
}

func (w *fakeWitness) OwnAddrs() []netip.Addr { return w.own }
func (w *fakeWitness) Probe(_ context.Context, a netip.Addr) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.probed++
	ans, ok := w.answer[a]
	if !ok {
		return false, errors.New("no link")
	}
	return ans, nil
}

// TestProbePartner: the partner is probed only by a master with the sync
// link down; any answer is an answer; silence needs a probe that went
// out; failed probes say nothing. Our own addresses go into the Hello.
func TestProbePartner(t *testing.T) {
	a1, a2 := netip.MustParseAddr("198.18.0.3"), netip.MustParseAddr("203.0.113.3")
	w := &fakeWitness{own: []netip.Addr{netip.MustParseAddr("198.18.0.2")}, answer: map[netip.Addr]bool{}}
	p := paramsPair(failover.Config{Role: failover.Primary, Mode: failover.LoadBalance, MCLT: time.Hour, Split: 128, LoadBalanceMaxSeconds: 3})
	p.clock = clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	p.SetWitness(w)
	h, err := failover.UnmarshalHello(p.hello())
	if err != nil || len(h.LAN) != 1 || h.LAN[0] != w.own[0] {
		t.Fatalf("hello LAN %v, %v; want our own address", h.LAN, err)
	}
	ctx := context.Background()
	if _, ok := p.probePartner(ctx, true, false); ok {
		t.Error("probed before the partner told its addresses")
	}
	if err := p.checkParams(failover.Hello{Agreed: p.Agreed(), LAN: []netip.Addr{a1, a2}}.Marshal()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name           string
		master, linkUp bool
		answer         map[netip.Addr]bool
		ok, answered   bool
	}{
		{"backup: nothing", false, false, map[netip.Addr]bool{a1: false}, false, false},
		{"link up: nothing", true, true, map[netip.Addr]bool{a1: false}, false, false},
		{"no probe could be made: nothing", true, false, map[netip.Addr]bool{}, false, false},
		{"silence on the one link probed", true, false, map[netip.Addr]bool{a1: false}, true, false},
		{"an answer on the second link", true, false, map[netip.Addr]bool{a1: false, a2: true}, true, true},
		{"an answer on the first link", true, false, map[netip.Addr]bool{a1: true}, true, true},
	} {
		w.answer, w.probed = c.answer, 0
		ev, ok := p.probePartner(ctx, c.master, c.linkUp)
		if ok != c.ok || ev.Answered != c.answered {
			t.Errorf("%s: %+v, %v; want ok %v answered %v", c.name, ev, ok, c.ok, c.answered)
		}
		if !c.master || c.linkUp {
			if w.probed != 0 {
				t.Errorf("%s: %d probes sent", c.name, w.probed)
			}
		}
	}
}
