package control

import (
	"encoding/json"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/events"
)

// TestOpenAPIDescribesEveryEndpoint: openapi.yaml names every route with
// its method, and every field the answers carry.
func TestOpenAPIDescribesEveryEndpoint(t *testing.T) {
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, rt := range (&API{}).routes() {
		re := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(rt.path) + `:\n    ` + strings.ToLower(rt.method) + `:`)
		if !re.MatchString(doc) {
			t.Errorf("openapi.yaml does not describe %s %s", rt.method, rt.path)
		}
	}
	now := time.Now()
	for name, v := range map[string]any{
		"status":  sampleStatus(),
		"lease":   LeaseInfo{IP: "x", State: "x", HWAddr: "x", ClientID: "x", Hostname: "x", Start: now, Expiry: now, Seq: 1},
		"result":  OperatorResult{Refused: "x", VRRPState: "x", VRRPMaster: "x"},
		"pool":    PoolUse{},
		"page":    LeasePage{Next: "x"},
		"reload":  ReloadResult{},
		"error":   apiError{Result: &OperatorResult{}},
		"release": ReleaseResult{},
		"event": events.Event{Seq: 1, Time: now, Box: "x", Type: events.TypeLease, Action: "x", IP: netip.MustParseAddr("192.0.2.1"),
			HWAddr: events.MAC{1}, ClientID: events.Hex{1}, Hostname: "x", Expiry: now, Relay: netip.MustParseAddr("192.0.2.1"),
			By: "x", Instance: "x", Relationship: "x", From: "x", To: "x", Reason: "x"},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys("", m) {
			leaf := k[strings.LastIndex(k, ".")+1:]
			if !regexp.MustCompile(`(?m)^ +` + regexp.QuoteMeta(leaf) + `:`).MatchString(doc) {
				t.Errorf("openapi.yaml: %s field %s is not described", name, k)
			}
		}
	}
}
