package control

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

func sampleStatus() Status {
	return Status{
		Schema: StatusSchema, Node: "gw1", Version: "test", Started: time.Unix(1700000000, 0).UTC(),
		VRRP: []VRRPStatus{{Instance: "lan", Interface: "eth0", VRID: 51, State: "MASTER", Priority: 200, Master: "192.0.2.2"}},
		Failover: &FailoverStatus{Role: "primary", Mode: "hot-standby", State: "NORMAL", PartnerState: "NORMAL",
			PartnerName: "gw2", PartnerLastState: "NORMAL", LinkUp: true},
		Pools: []PoolStatus{{Pool: "192.0.2.0/24", Total: 101, Free: 40, Active: 61}},
	}
}

// TestStatusJSONSchema pins the field names scripts rely on: renaming or
// removing one must bump StatusSchema and update this list.
func TestStatusJSONSchema(t *testing.T) {
	b, err := json.Marshal(sampleStatus())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	got := keys("", m)
	want := []string{
		"failover", "failover.config_hash", "failover.link_up",
		"failover.load_balance_max_seconds", "failover.max_response_delay_seconds", "failover.mclt_seconds", "failover.mode",
		"failover.partner_last_seen", "failover.partner_last_state", "failover.partner_name", "failover.partner_state", "failover.role",
		"failover.skew_seconds", "failover.split", "failover.standby_share", "failover.state", "failover.unacked_updates",
		"node",
		"pools", "pools[].abandoned", "pools[].active", "pools[].backup", "pools[].expired",
		"pools[].free", "pools[].pool", "pools[].released", "pools[].total",
		"recovery_probing_until", "schema", "started", "version",
		"vrrp", "vrrp[].instance", "vrrp[].interface", "vrrp[].master", "vrrp[].priority",
		"vrrp[].since", "vrrp[].state", "vrrp[].vrid",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("status --json keys changed (bump StatusSchema, tell users):\n got %q\nwant %q", got, want)
	}
	if StatusSchema != 1 {
		t.Errorf("StatusSchema = %d: update this test's list with the new layout", StatusSchema)
	}
}

func keys(prefix string, v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out = append(out, p)
			out = append(out, keys(p, sub)...)
		}
	case []any:
		if len(x) > 0 {
			out = append(out, keys(prefix+"[]", x[0])...)
		}
	}
	sort.Strings(out)
	return out
}

func TestWriteStatusTable(t *testing.T) {
	var b strings.Builder
	st := sampleStatus()
	if err := WriteStatus(&b, &st, st.Started.Add(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"node gw1", "up 1m30s", "lan", "MASTER", "200", "primary", "NORMAL", "gw2", "192.0.2.0/24", "101", "61"} {
		if !strings.Contains(out, want) {
			t.Errorf("status table lacks %q:\n%s", want, out)
		}
	}
	// The pair's parameters, and a refusal naming the key and both values.
	st.Failover.Mode, st.Failover.Split, st.Failover.LoadBalanceMaxSeconds = "load-balance", 64, 3
	st.Failover.MCLTSeconds, st.Failover.MaxResponseDelaySeconds = 3600, 3
	st.Failover.ParamsRefused = "failover.mclt: ours 1h0m0s, partner's 30m0s"
	b.Reset()
	if err := WriteStatus(&b, &st, st.Started.Add(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mclt 1h0m0s", "max_response_delay 3s", "split 64", "load_balance_max_seconds 3", "PARTNER REFUSED", "partner's 30m0s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status table lacks %q:\n%s", want, b.String())
		}
	}
}

// TestWriteStatusRecoveryProbing: the table says when every address is
// probed before it is offered, and until when; not otherwise.
func TestWriteStatusRecoveryProbing(t *testing.T) {
	st := sampleStatus()
	now := st.Started.Add(time.Minute)
	var b strings.Builder
	if err := WriteStatus(&b, &st, now); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "RECOVERY PROBING") {
		t.Errorf("recovery probing shown without a window:\n%s", b.String())
	}
	st.RecoveryProbingUntil = now.Add(4 * time.Hour)
	b.Reset()
	if err := WriteStatus(&b, &st, now); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "RECOVERY PROBING until "+now.Add(4*time.Hour).UTC().Format(time.RFC3339)+" (4h0m0s left)") {
		t.Errorf("status table lacks the recovery probing window:\n%s", out)
	}
}
