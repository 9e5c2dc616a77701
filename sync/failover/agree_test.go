package failover

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAgreedRoundTrip(t *testing.T) {
	a := Agreed{Mode: LoadBalance, Split: 200, LoadBalanceMaxSeconds: 7, StandbyShare: 0.1, MCLT: time.Hour, MaxResponseDelay: 3 * time.Second}
	b, err := UnmarshalAgreed(a.Marshal())
	if err != nil || b != a {
		t.Fatalf("round trip: %+v, %v; want %+v", b, err, a)
	}
	if _, err := UnmarshalAgreed(a.Marshal()[1:]); !errors.Is(err, ErrAgreedFormat) {
		t.Errorf("short: %v", err)
	}
	bad := a.Marshal()
	bad[0] = 9
	if _, err := UnmarshalAgreed(bad); !errors.Is(err, ErrAgreedFormat) {
		t.Errorf("mode 9: %v", err)
	}
}

// TestAgreedCheck: a secondary with another mclt is refused with the
// key and both values named; another split is not refused but taken from
// the primary (SplitFrom); what a mode does not use does not count.
func TestAgreedCheck(t *testing.T) {
	pri := Agreed{Mode: LoadBalance, Split: 128, LoadBalanceMaxSeconds: 3, StandbyShare: 0.1, MCLT: time.Hour, MaxResponseDelay: 3 * time.Second}
	if err := pri.Check(pri); err != nil {
		t.Fatalf("same parameters: %v", err)
	}
	sec := pri
	sec.Split, sec.MCLT = 64, 30*time.Minute
	err := sec.Check(pri)
	if !errors.Is(err, ErrDisagree) || !strings.Contains(err.Error(), "failover.mclt: ours 30m0s, partner's 1h0m0s") {
		t.Fatalf("mclt differs: %v", err)
	}
	if strings.Contains(err.Error(), "split") {
		t.Errorf("split refused: %v", err)
	}
	if split, maxs, changed := sec.SplitFrom(pri); split != 128 || maxs != 3 || !changed {
		t.Errorf("SplitFrom = %d, %d, %v; want the primary's 128, 3, changed", split, maxs, changed)
	}
	if _, _, changed := pri.SplitFrom(pri); changed {
		t.Error("SplitFrom of the same values: changed")
	}
	for _, c := range []struct {
		name string
		mod  func(*Agreed)
		key  string // "" = agreed
	}{
		{"mode", func(a *Agreed) { a.Mode = HotStandby }, "failover.mode: ours hot-standby, partner's load-balance"},
		{"max_response_delay", func(a *Agreed) { a.MaxResponseDelay = 5 * time.Second }, "failover.max_response_delay: ours 5s, partner's 3s"},
		{"lb max seconds: the primary's", func(a *Agreed) { a.LoadBalanceMaxSeconds = 10 }, ""},
		{"split: the primary's", func(a *Agreed) { a.Split = 10 }, ""},
		{"share unused in load-balance", func(a *Agreed) { a.StandbyShare = 0.3 }, ""},
	} {
		a := pri
		c.mod(&a)
		err := a.Check(pri)
		if c.key == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s: %v, want it to name %q", c.name, err, c.key)
		}
	}
	hs := pri
	hs.Mode = HotStandby
	other := hs
	other.StandbyShare = 0.2
	if err := other.Check(hs); err == nil || !strings.Contains(err.Error(), "failover.standby_share: ours 20%, partner's 10%") {
		t.Errorf("hot-standby share: %v", err)
	}
}

// TestSetSplit: a new split is in force at the next policy: the buckets
// and the pool share follow it; out of range is refused.
func TestSetSplit(t *testing.T) {
	cfg := testCfg
	cfg.Mode, cfg.Split = LoadBalance, 128
	m, _ := runSteps(t, cfg, normalPair())
	now := t0.Add(time.Hour)
	if got := m.Policy().BackupShare(); got != 0.5 {
		t.Fatalf("share %v at split 128", got)
	}
	m.Handle(now, SetSplit{Split: 256, MaxSeconds: 3})
	p := m.Policy()
	if got := p.BackupShare(); got != 0 {
		t.Errorf("share %v at split 256, want 0", got)
	}
	for i := range 256 {
		if r := (Request{HWAddr: []byte{0, 1, 2, 3, 4, byte(i)}}); !p.Serve(now, r) {
			t.Fatalf("split 256: the primary does not answer client %d", i)
		}
	}
	acts := m.Handle(now, SetSplit{Split: 300, MaxSeconds: 3})
	if len(acts) == 0 {
		t.Fatal("split 300 accepted")
	}
	if _, ok := acts[0].(Refused); !ok || m.Policy().BackupShare() != 0 {
		t.Errorf("split 300: actions %v, share %v", acts, m.Policy().BackupShare())
	}
}

func TestHelloRoundTrip(t *testing.T) {
	a := Agreed{Mode: LoadBalance, Split: 64, LoadBalanceMaxSeconds: 3, MCLT: time.Hour, MaxResponseDelay: 3 * time.Second}
	h := Hello{Agreed: a, LAN: []netip.Addr{netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("203.0.113.2")}}
	b := h.Marshal()
	if len(b) > 255 {
		t.Fatalf("%d bytes", len(b))
	}
	got, err := UnmarshalHello(b)
	want := []netip.Addr{netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("203.0.113.2")}
	if err != nil || got.Agreed != a || !slices.Equal(got.LAN, want) {
		t.Fatalf("round trip: %+v, %v; want %v (IPv4 only)", got, err, want)
	}
	many := Hello{Agreed: a}
	for i := range 100 {
		many.LAN = append(many.LAN, netip.AddrFrom4([4]byte{198, 18, 1, byte(i)}))
	}
	if b := many.Marshal(); len(b) > 255 {
		t.Errorf("100 addresses: %d bytes, over the link's 255", len(b))
	}
	for _, bad := range [][]byte{b[:len(b)-1], append(slices.Clone(b), 0), b[:agreedLen]} {
		if _, err := UnmarshalHello(bad); !errors.Is(err, ErrAgreedFormat) {
			t.Errorf("%d bytes: %v", len(bad), err)
		}
	}
}
