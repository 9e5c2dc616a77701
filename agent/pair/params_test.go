package pair

import (
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/sync/failover"
)

// TestPairParamsRefusedInStatus: a secondary with another split and
// another mclt than its primary refuses the primary's parameters,
// naming both keys with both values; its status shows its own values
// and the refusal, which a later agreeing handshake clears.
func TestPairParamsRefusedInStatus(t *testing.T) {
	cfg := failover.Config{Role: failover.Secondary, Mode: failover.LoadBalance, MCLT: 30 * time.Minute, Split: 64, LoadBalanceMaxSeconds: 3}
	p := &Pair{cfg: cfg, agreed: failover.AgreedOf(cfg, 3*time.Second)}
	pri := cfg
	pri.Role, pri.MCLT, pri.Split = failover.Primary, time.Hour, 128
	err := p.checkParams(failover.AgreedOf(pri, 3*time.Second).Marshal())
	if err == nil {
		t.Fatal("another split and mclt accepted")
	}
	st := p.Status()
	for _, want := range []string{"failover.split: ours 64, partner's 128", "failover.mclt: ours 30m0s, partner's 1h0m0s"} {
		if !strings.Contains(err.Error(), want) || !strings.Contains(st.ParamsRefused, want) {
			t.Errorf("error %q / status %q: want %q in both", err, st.ParamsRefused, want)
		}
	}
	if st.Split != 64 || st.MCLTSeconds != 1800 || st.MaxResponseDelaySeconds != 3 || st.LoadBalanceMaxSeconds != 3 {
		t.Errorf("status parameters %+v, want this node's", st)
	}
	if err := p.checkParams([]byte{1, 2}); err == nil {
		t.Error("malformed parameters accepted")
	}
	if err := p.checkParams(p.agreed.Marshal()); err != nil {
		t.Fatalf("the same parameters: %v", err)
	}
	if st := p.Status(); st.ParamsRefused != "" {
		t.Errorf("after an agreeing handshake the status still says %q", st.ParamsRefused)
	}
}
