package agent

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hadhcpd/hadhcpd/agent/pair"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/config/configtest"
	"github.com/hadhcpd/hadhcpd/dhcpd"
	"github.com/hadhcpd/hadhcpd/events"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.yaml.in/yaml/v3"
)

// The dashboard and alerting rules shipped in the packages
// (/usr/share/hadhcpd/): they may name only metrics the agent exports,
// with labels those metrics carry.
const (
	dashboardFile = "../deploy/grafana/hadhcpd-dashboard.json"
	rulesFile     = "../deploy/prometheus/hadhcpd-alerts.yml"
	rulesTestFile = "../deploy/prometheus/hadhcpd-alerts.test.yml"
)

// recorder is a Registerer that notes every metric name (and its
// variable labels) registered through it: vectors without children, which
// Gather would not show, included.
type recorder struct {
	prometheus.Registerer
	metrics map[string][]string
}

var (
	descName   = regexp.MustCompile(`fqName: "([^"]+)"`)
	descLabels = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
)

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		s := d.String()
		m := descName.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		var labels []string
		if l := descLabels.FindStringSubmatch(s); l != nil && l[1] != "" {
			for _, x := range strings.Split(l[1], ",") {
				labels = append(labels, strings.Trim(strings.TrimSpace(x), `"`))
			}
		}
		r.metrics[m[1]] = labels
	}
	return r.Registerer.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// agentMetrics registers what RunWith registers for a box with VRRP, DHCP
// and a failover pair, through the same constructors, and returns the
// metric names with their labels.
func agentMetrics(t *testing.T) map[string][]string {
	t.Helper()
	dir := t.TempDir()
	psk := filepath.Join(dir, "peer.key")
	if err := os.WriteFile(psk, []byte("Zq3vX8tLw1Rk6NbP0sYh4JdG9cAf2EmU\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := configtest.Load(t, `
node: {name: gw1, state_dir: `+dir+`}
vrrp:
  instances:
    - {name: lan, interface: eth0, vrid: 51, priority: 200, virtual_ips: [192.0.2.1/24], notify_master: /bin/true}
dhcp:
  interfaces: [eth0]
  subnets:
    - subnet: 192.0.2.0/24
      pools: [{range: 192.0.2.100-192.0.2.200}]
failover:
  role: primary
  listen: 198.51.100.1:647
  peer: 198.51.100.2:647
  vrrp_instance: lan
  auth: {psk_file: `+psk+`}
`)
	b, err := config.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{Registerer: prometheus.NewRegistry(), metrics: map[string][]string{}}
	log := slog.New(slog.DiscardHandler)
	rec.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	_, err = events.NewMetrics(rec)
	if err == nil {
		var vr *vrrpPart
		if vr, err = newVRRP(b, log, rec); err == nil {
			_, err = pair.New(b, log, rec, vr, nil)
		}
	}
	if err == nil {
		_, err = dhcpd.NewMetrics(rec)
	}
	if err == nil {
		err = registerLeaseDB(rec, func() error { return nil })
	}
	if err != nil {
		t.Fatal(err)
	}
	return rec.metrics
}

// promExprs are the PromQL expressions of the rules and the dashboard.
func promExprs(t *testing.T) (rules map[string]string, dash []string) {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatal(err)
	}
	rules = map[string]string{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			rules[r.Alert] = r.Expr
		}
	}
	b, err = os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "expr" {
					dash = append(dash, s)
				} else {
					walk(x)
				}
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(d)
	return rules, dash
}

var (
	selectorRx = regexp.MustCompile(`\b((?:hadhcpd|go|process)_[a-z0-9_]+)\s*(\{[^}]*\})?`)
	matcherRx  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	groupingRx = regexp.MustCompile(`\b(?:by|without|on|ignoring)\s*\(([^)]*)\)`)
)

// targetLabels are what Prometheus adds when it scrapes (le: a
// histogram's buckets).
var targetLabels = []string{"instance", "job", "le"}

// checkExpr returns what expr names that the registry does not have.
func checkExpr(expr string, have map[string][]string) []string {
	var bad []string
	var used []string // every label of the metrics expr names
	for _, m := range selectorRx.FindAllStringSubmatch(expr, -1) {
		name := m[1]
		labels, ok := have[name]
		if !ok {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if base, cut := strings.CutSuffix(name, suf); cut {
					if labels, ok = have[base]; ok {
						break
					}
				}
			}
		}
		if !ok {
			bad = append(bad, "metric "+name+" does not exist")
			continue
		}
		used = append(used, labels...)
		for _, l := range matcherRx.FindAllStringSubmatch(m[2], -1) {
			if !knownLabel(l[1], labels) {
				bad = append(bad, "metric "+name+" has no label "+l[1])
			}
		}
	}
	for _, g := range groupingRx.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !knownLabel(l, used) {
				bad = append(bad, "no metric of the expression has label "+l)
			}
		}
	}
	return bad
}

// knownLabel: a metric's own label, a target label, or a metric's
// "instance" label as Prometheus renames it (exported_instance).
func knownLabel(l string, labels []string) bool {
	if slices.Contains(targetLabels, l) || slices.Contains(labels, l) {
		return true
	}
	base, ok := strings.CutPrefix(l, "exported_")
	return ok && slices.Contains(labels, base)
}

// TestDashboardAndAlertsNameRealMetrics: every metric (and label) the
// shipped dashboard and alerting rules name is one the agent registers;
// the alerts an operator needs are all there.
func TestDashboardAndAlertsNameRealMetrics(t *testing.T) {
	have := agentMetrics(t)
	rules, dash := promExprs(t)
	if len(dash) < 20 {
		t.Errorf("the dashboard has %d queries; the file was not read right", len(dash))
	}
	for name, expr := range rules {
		for _, b := range checkExpr(expr, have) {
			t.Errorf("alert %s: %s", name, b)
		}
	}
	for _, expr := range dash {
		for _, b := range checkExpr(expr, have) {
			t.Errorf("dashboard query %q: %s", expr, b)
		}
	}
	// What wakes an operator (partner down, pool over 90 %, replication
	// lag, VRRP flapping, database write failures, PARTNER-DOWN entered).
	for _, a := range []string{"HadhcpdPartnerUnreachable", "HadhcpdPoolAlmostFull", "HadhcpdReplicationLag",
		"HadhcpdVRRPFlapping", "HadhcpdLeaseDatabaseWriteFailing", "HadhcpdPartnerDownEntered"} {
		if _, ok := rules[a]; !ok {
			t.Errorf("no alert %s in %s", a, rulesFile)
		}
	}
	// The checker itself catches a name that does not exist and a label
	// a metric does not have.
	if len(checkExpr(`rate(hadhcpd_dhcp_packetz_total[5m]) + hadhcpd_dhcp_leases{zone="x"}`, have)) != 2 {
		t.Error("checkExpr misses a wrong metric name or label")
	}
}

// TestAlertRulesPromtool: `promtool check rules` accepts the rules and
// `promtool test rules` runs their unit tests (Debian's prometheus
// package; make deps installs it).
func TestAlertRulesPromtool(t *testing.T) {
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Skip("skipped: promtool not installed (Debian package prometheus; make deps installs it)")
	}
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTestFile}} {
		out, err := exec.Command("promtool", args...).CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
