package control

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func relationshipsStatus() Status {
	st := sampleStatus()
	st.Failover = nil
	yes, no := true, false
	seen := st.Started.Add(30 * time.Second)
	st.Relationships = []RelationshipStatus{
		{Name: "seg1", Subnets: []string{"192.0.2.0/26"}, VRRPInstance: "seg1", FailoverStatus: FailoverStatus{Role: "primary", Mode: "hot-standby",
			State: "NORMAL", PartnerState: "NORMAL", PartnerName: "b", LinkUp: true, ConfigHash: "ab", ConfigMatch: &yes}},
		{Name: "seg3", Subnets: []string{"192.0.2.128/26"}, VRRPInstance: "seg3", FailoverStatus: FailoverStatus{Role: "secondary", Mode: "load-balance",
			State: "COMMUNICATIONS-INTERRUPTED", PartnerState: "UNKNOWN", PartnerName: "c", PartnerLastState: "NORMAL", PartnerLastSeen: seen, ConfigMatch: &no}},
	}
	st.Pools = []PoolStatus{{Pool: "192.0.2.10-192.0.2.60", Relationship: "seg1", Total: 51}, {Pool: "203.0.113.10-203.0.113.20", Total: 11}}
	return st
}

// Every relationship on one screen: its line names it, its partner, the
// partner's state, the link, whether the partner serves the same
// config, and each pool its relationship.
func TestWriteStatusRelationships(t *testing.T) {
	st := relationshipsStatus()
	var b strings.Builder
	if err := WriteStatus(&b, &st, st.Started.Add(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, re := range []string{
		`(?m)^RELATIONSHIP +ROLE +MODE +STATE +PARTNER +PARTNER STATE +LINK +UNACKED +SKEW +CONFIG +VRRP +SUBNETS$`,
		`(?m)^seg1 +primary +hot-standby +NORMAL +b +NORMAL +up +0 +\+0\.0s +same +seg1 +192\.0\.2\.0/26$`,
		`(?m)^seg3 +secondary +load-balance +COMMUNICATIONS-INTERRUPTED +c +unknown \(NORMAL 1m0s ago\) +down +0 +\+0\.0s +DIFFERS +seg3 +192\.0\.2\.128/26$`,
		`(?m)^POOL +RELATIONSHIP +TOTAL`,
		`(?m)^192\.0\.2\.10-192\.0\.2\.60 +seg1 +51 `,
		`(?m)^203\.0\.113\.10-203\.0\.113\.20 +- +11 `,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("status table lacks %s:\n%s", re, out)
		}
	}
	if strings.Contains(out, "FAILOVER") {
		t.Errorf("a box of relationships printed the single failover table:\n%s", out)
	}
}

// --json: the relationships' fields, each described in openapi.yaml.
func TestStatusJSONRelationships(t *testing.T) {
	b, err := json.Marshal(relationshipsStatus())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(keys("", m), " ")
	for _, k := range []string{"relationships[].name", "relationships[].subnets", "relationships[].vrrp_instance", "relationships[].state",
		"relationships[].partner_name", "relationships[].link_up", "relationships[].config_match", "pools[].relationship"} {
		if !strings.Contains(got, k) {
			t.Errorf("status --json lacks %s: %s", k, got)
		}
	}
	doc, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys("", m) {
		leaf := k[strings.LastIndex(k, ".")+1:]
		leaf = strings.TrimSuffix(leaf, "[]")
		if !regexp.MustCompile(`(?m)^ +` + regexp.QuoteMeta(leaf) + `:`).Match(doc) {
			t.Errorf("openapi.yaml: %s is not described", k)
		}
	}
}
