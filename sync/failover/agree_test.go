package failover

import (
	"errors"
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

// TestAgreedCheck: a secondary with another split and another mclt is
// refused with both keys and both values named; what a mode does not use
// does not count.
func TestAgreedCheck(t *testing.T) {
	pri := Agreed{Mode: LoadBalance, Split: 128, LoadBalanceMaxSeconds: 3, StandbyShare: 0.1, MCLT: time.Hour, MaxResponseDelay: 3 * time.Second}
	if err := pri.Check(pri); err != nil {
		t.Fatalf("same parameters: %v", err)
	}
	sec := pri
	sec.Split, sec.MCLT = 64, 30*time.Minute
	err := sec.Check(pri)
	if !errors.Is(err, ErrDisagree) {
		t.Fatalf("split and mclt differ: %v", err)
	}
	for _, want := range []string{"failover.split: ours 64, partner's 128", "failover.mclt: ours 30m0s, partner's 1h0m0s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v: does not say %q", err, want)
		}
	}
	for _, c := range []struct {
		name string
		mod  func(*Agreed)
		key  string // "" = agreed
	}{
		{"mode", func(a *Agreed) { a.Mode = HotStandby }, "failover.mode: ours hot-standby, partner's load-balance"},
		{"max_response_delay", func(a *Agreed) { a.MaxResponseDelay = 5 * time.Second }, "failover.max_response_delay"},
		{"lb max seconds", func(a *Agreed) { a.LoadBalanceMaxSeconds = 10 }, "failover.load_balance_max_seconds: ours 10, partner's 3"},
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
	other.Split, other.LoadBalanceMaxSeconds = 64, 9
	if err := other.Check(hs); err != nil {
		t.Errorf("hot-standby: split differences do not count: %v", err)
	}
	other.StandbyShare = 0.2
	if err := other.Check(hs); err == nil || !strings.Contains(err.Error(), "failover.standby_share: ours 20%, partner's 10%") {
		t.Errorf("hot-standby share: %v", err)
	}
}
