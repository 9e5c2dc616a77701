package pair

import (
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/sync/failover"
)

func paramsPair(cfg failover.Config) *Pair {
	p := &Pair{log: discardLog, cfg: cfg, agreed: failover.AgreedOf(cfg, 3*time.Second)}
	p.q.init()
	return p
}

// TestPairParamsRefusedInStatus: a secondary with another split and
// another mclt than its primary refuses the primary's parameters for the
// mclt, naming the key with both values; its status shows its own values
// and the refusal, which a later agreeing handshake clears. The split
// alone is not refused: the secondary takes the primary's, and its
// machine gets it before the link's Up.
func TestPairParamsRefusedInStatus(t *testing.T) {
	cfg := failover.Config{Role: failover.Secondary, Mode: failover.LoadBalance, MCLT: 30 * time.Minute, Split: 64, LoadBalanceMaxSeconds: 3}
	p := paramsPair(cfg)
	pri := cfg
	pri.Role, pri.MCLT, pri.Split = failover.Primary, time.Hour, 128
	err := p.checkParams(failover.Hello{Agreed: failover.AgreedOf(pri, 3*time.Second)}.Marshal())
	want := "failover.mclt: ours 30m0s, partner's 1h0m0s"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("another mclt: %v, want %q", err, want)
	}
	st := p.Status()
	if !strings.Contains(st.ParamsRefused, want) {
		t.Errorf("status params_refused %q, want %q", st.ParamsRefused, want)
	}
	if st.Split != 64 || st.MCLTSeconds != 1800 || st.MaxResponseDelaySeconds != 3 || st.LoadBalanceMaxSeconds != 3 {
		t.Errorf("status parameters %+v, want this node's", st)
	}
	if evs := p.q.drain(); len(evs) != 0 {
		t.Errorf("a refused handshake changed the machine: %v", evs)
	}
	if err := p.checkParams([]byte{1, 2}); err == nil {
		t.Error("malformed parameters accepted")
	}
	pri.MCLT = cfg.MCLT
	if err := p.checkParams(failover.Hello{Agreed: failover.AgreedOf(pri, 3*time.Second)}.Marshal()); err != nil {
		t.Fatalf("only the split differs: %v", err)
	}
	st = p.Status()
	if st.ParamsRefused != "" || st.Split != 128 {
		t.Errorf("after an agreeing handshake: params_refused %q, split %d (want the primary's 128)", st.ParamsRefused, st.Split)
	}
	evs := p.q.drain()
	if len(evs) != 1 || evs[0] != (failover.SetSplit{Split: 128, MaxSeconds: 3}) {
		t.Errorf("machine events %v, want SetSplit 128", evs)
	}
	if err := p.SetSplit(10, 3); err == nil {
		t.Error("a secondary set its own split")
	}
}

// TestPairSetSplitPrimary: a primary's reload puts the new split in force
// (machine event, status) without a link.
func TestPairSetSplitPrimary(t *testing.T) {
	p := paramsPair(failover.Config{Role: failover.Primary, Mode: failover.LoadBalance, MCLT: time.Hour, Split: 128, LoadBalanceMaxSeconds: 3})
	if err := p.SetSplit(64, 5); err != nil {
		t.Fatal(err)
	}
	if a := p.Agreed(); a.Split != 64 || a.LoadBalanceMaxSeconds != 5 {
		t.Errorf("agreed %+v", a)
	}
	if evs := p.q.drain(); len(evs) != 1 || evs[0] != (failover.SetSplit{Split: 64, MaxSeconds: 5}) {
		t.Errorf("machine events %v", evs)
	}
}
