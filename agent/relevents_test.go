package agent

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/agent/hooks"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/events"
)

// ringKeys writes a key per ring segment.
func ringKeys(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	keys := map[string]string{}
	for _, s := range ringSegs {
		keys[s.name] = filepath.Join(dir, s.name+".key")
		key := make([]byte, 32)
		rand.Read(key)
		if err := os.WriteFile(keys[s.name], key, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestRelationshipTransitionsNamed: on a box in two relationships (A:
// seg1 with B, seg3 with C, which never comes), every failover
// transition says whose it is: the event stream's events carry the
// relationship, the failover.notify script gets its name, the
// transition and link log lines have it as a field, and the transitions
// metric as a label. seg1 reaches NORMAL with B; the operator declares
// seg3's partner down; neither is mistaken for the other.
func TestRelationshipTransitionsNamed(t *testing.T) {
	port := freePort(t)
	keys := ringKeys(t)
	var logs logBuffer
	var mu sync.Mutex
	var ran []string
	fake := func(_ context.Context, argv []string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		ran = append(ran, strings.Join(argv, " "))
		return nil, nil
	}
	hm, _ := hooks.NewFailoverMetrics(nil)
	h := &failoverHooks{log: slog.New(slog.DiscardHandler), metrics: hm, deps: hooks.Deps{Exec: fake}}
	bus := events.NewBus(events.Options{Box: "a"})
	a := startRingBoxWith(t, "a", port, ringConfig(t, "a", port, keys), slog.New(slog.NewTextHandler(&logs, nil)), func(rs *relSet) {
		for _, r := range rs.rels {
			r.spec.Notify = config.FailoverNotifySpec{Command: []string{"/usr/local/sbin/fo"}, Timeout: time.Minute}
		}
		rs.observe(h, bus)
	})
	startRingBox(t, "b", port, keys)
	state := func(name string) string { return a.rel(name).p.Status().State }
	eventually(t, "A's seg1 NORMAL with B", func() bool { return a.linkUp("seg1") && state("seg1") == "NORMAL" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if res, err := (relOperator{set: a.rs}).PartnerDown(ctx, "seg3"); err != nil || !res.Applied {
		t.Fatalf("partner-down seg3 with C never heard: %+v, %v", res, err)
	}
	if state("seg1") != "NORMAL" {
		t.Fatalf("seg1 is %s after seg3's partner-down", state("seg1"))
	}
	a.kill() // the machines stopped: every transition observed
	h.close()

	// The event stream: each transition under its relationship.
	var want []string
	seen := map[string]bool{}
	for _, ev := range bus.Recent(100) {
		if ev.Type != events.TypeFailover {
			continue
		}
		if ev.Relationship != "seg1" && ev.Relationship != "seg3" {
			t.Errorf("a failover event of relationship %q: %+v", ev.Relationship, ev)
		}
		seen[ev.Relationship+" "+ev.To] = true
		want = append(want, fmt.Sprintf("/usr/local/sbin/fo FAILOVER %s %s %s", ev.Relationship, ev.To, ev.From))
	}
	if !seen["seg1 NORMAL"] || !seen["seg3 PARTNER-DOWN"] || seen["seg1 PARTNER-DOWN"] || seen["seg3 NORMAL"] {
		t.Errorf("the event stream has %v, want seg1 NORMAL and seg3 PARTNER-DOWN", seen)
	}
	// The notify scripts: one per event, named as it is (each
	// relationship's scripts run in its own order).
	mu.Lock()
	got := slices.Clone(ran)
	mu.Unlock()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the notify scripts ran\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The log: every transition line and link line names its relationship.
	for _, line := range logs.lines(`msg="failover transition"`) {
		if !strings.Contains(line, "relationship=seg1") && !strings.Contains(line, "relationship=seg3") {
			t.Errorf("a transition logged without its relationship: %s", line)
		}
	}
	if len(logs.lines(`msg="failover transition"`, "relationship=seg3", "to=PARTNER-DOWN")) != 1 {
		t.Errorf("seg3's PARTNER-DOWN not logged as seg3's:\n%s", strings.Join(logs.lines(`msg="failover transition"`), "\n"))
	}
	if len(logs.lines(`msg="peer link up"`, "relationship=seg1")) == 0 || len(logs.lines(`msg="peer link up"`, "relationship=seg3")) != 0 {
		t.Errorf("link up lines:\n%s", strings.Join(logs.lines(`msg="peer link up"`), "\n"))
	}
	// The metrics: by relationship.
	if n := relCounter(t, a, "hadhcpd_failover_transitions_total", "seg3", "PARTNER-DOWN"); n != 1 {
		t.Errorf("seg3's transitions to PARTNER-DOWN counted %v, want 1", n)
	}
	if n := relCounter(t, a, "hadhcpd_failover_transitions_total", "seg1", "PARTNER-DOWN"); n != 0 {
		t.Errorf("seg1's transitions to PARTNER-DOWN counted %v, want 0", n)
	}
}

// relCounter is the box's counter name with labels relationship=rel and
// to=to.
func relCounter(t *testing.T, b *ringBox, name, rel, to string) float64 {
	t.Helper()
	mfs, err := b.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["relationship"] == rel && labels["to"] == to {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
