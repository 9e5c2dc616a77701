package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// Global defaults in a ring of three (failover.defaults_from: a): each
// box's file has its own default lease time (A 45m, B 50m, C 55m; all
// under the MCLT, so a new lease gets it whole); every box serves A's.

// hdfLease is each box's own default_lease_time.
var hdfLease = map[string]string{"a": "45m", "b": "50m", "c": "55m"}

// newDefaultsRing is newMultiLabWith (ring_test.go) with every box's
// config naming A as the source of the global defaults and its own lease
// time.
func newDefaultsRing(t *testing.T) *multiLab {
	t.Helper()
	testnet.RequireCmd(t, "dhclient")
	return newMultiLabWith(t, "hdf", func(t *testing.T, name, cfg string) string {
		cfg = mustReplace(t, cfg, "  default_lease_time: 1h\n", "  default_lease_time: "+hdfLease[name]+"\n")
		return mustReplace(t, cfg, "failover:\n", "failover:\n  defaults_from: a\n")
	}, ringSegments, ringSync, "a", "b", "c")
}

func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if strings.Count(s, old) != 1 {
		t.Fatalf("%q not once in:\n%s", old, s)
	}
	return strings.Replace(s, old, new, 1)
}

var (
	hdfLeaseTimeRx = regexp.MustCompile(`option dhcp-lease-time (\d+);`)
	hdfDNSRx       = regexp.MustCompile(`option domain-name-servers ([0-9.,]+);`)
)

// hdfGrant is the lease time (seconds) and DNS servers of the last lease
// in cl's lease file.
func hdfGrant(t *testing.T, cl *dhcpClient) (string, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cl.dir, "leases"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if i := strings.LastIndex(s, "lease {"); i >= 0 {
		s = s[i:]
	}
	var lt, dns string
	if mm := hdfLeaseTimeRx.FindStringSubmatch(s); mm != nil {
		lt = mm[1]
	}
	if mm := hdfDNSRx.FindStringSubmatch(s); mm != nil {
		dns = mm[1]
	}
	return lt, dns
}

// TestIntegrationRingDefaults: a ring of three whose global defaults come
// from A. At start B and C adopt A's set (their own lease times never
// reach a client; every relationship's config then matches). A's file
// changes its default lease time and adds a DNS server, A reloads: B and
// C take the new set within a few seconds and their clients get A's new
// lease time and DNS server, while their pools and relationships stay as
// they were. Then A and C are lost and B restarted alone: B serves the
// set it kept.
func TestIntegrationRingDefaults(t *testing.T) {
	m := newDefaultsRing(t)
	a, b, c := m.boxes["a"], m.boxes["b"], m.boxes["c"]
	m.waitNormal(60*time.Second, true)
	hash := ""
	for _, name := range m.names {
		st := m.boxes[name].Status()
		d := st.Defaults
		if d == nil || d.Source != "a" || d.Serial == 0 || d.Error != "" {
			t.Fatalf("%s's defaults: %+v", name, d)
		}
		if hash == "" {
			hash = d.Hash
		} else if d.Hash != hash {
			t.Errorf("%s serves defaults %s, A %s", name, d.Hash, hash)
		}
	}
	serial := a.Status().Defaults.Serial
	var stops []*dhcpClient
	defer func() {
		for _, cl := range stops {
			_, _ = cl.dhclient(t, "-x")
		}
	}()
	// Every segment's master grants A's 45m.
	for _, s := range m.segs {
		_, cl := m.lease(s)
		stops = append(stops, cl)
		if lt, _ := hdfGrant(t, cl); lt != "2700" {
			t.Errorf("%s (served by %s): lease time %s s, want A's 2700", s.name, s.pri, lt)
		}
	}

	// A's file: 40m and a DNS server; SIGHUP.
	pools := map[string]string{"b": fmt.Sprint(b.Status().Pools), "c": fmt.Sprint(c.Status().Pools)}
	cfgA, err := os.ReadFile(a.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := mustReplace(t, string(cfgA), "  default_lease_time: 45m\n", "  default_lease_time: 40m\n  options: {domain_name_servers: [192.0.2.53]}\n")
	lab.WriteFile(t, a.Cfg, text)
	t0 := time.Now()
	if err := a.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for _, x := range []string{"b", "c"} {
		lab.WaitFor(t, 10*time.Second, x+" adopting A's new defaults", func() (bool, string) {
			d := m.boxes[x].Status().Defaults
			return d != nil && d.Serial > serial && d.Hash == a.Status().Defaults.Hash && d.Hash != hash, fmt.Sprintf("%+v", d)
		})
		t.Logf("A's new defaults in force on %s %v after A's SIGHUP", x, time.Since(t0).Round(time.Millisecond))
	}
	for _, s := range m.segs {
		_, cl := m.lease(s)
		stops = append(stops, cl)
		lt, dns := hdfGrant(t, cl)
		if lt != "2400" || dns != "192.0.2.53" {
			t.Errorf("%s (served by %s): lease time %s s, DNS %q; want A's new 2400 and 192.0.2.53", s.name, s.pri, lt, dns)
		}
		t.Logf("%s's new client (served by %s) got A's new lease time %v after A's SIGHUP", s.name, s.pri, time.Since(t0).Round(time.Millisecond))
	}
	// Nothing else moved: B's and C's pools, every relationship NORMAL
	// with both boxes serving the same config.
	for x, want := range pools {
		if got := fmt.Sprint(m.boxes[x].Status().Pools); strings.Count(got, "{") != strings.Count(want, "{") || !samePoolNames(got, want) {
			t.Errorf("%s's pools changed: %s -> %s", x, want, got)
		}
	}
	m.waitNormal(10*time.Second, true)

	// A and C lost, B restarted alone: B serves the set it kept in its
	// state_dir (A's 40m and DNS server), not its own file's 50m; no
	// partner is there to send it again. (A box restarted alone serves
	// no client before its failover state allows: the status and the
	// log say what its DHCP part was built with.)
	newSet := b.Status().Defaults
	m.lose("a", "c")
	b.Stop(t)
	marker := b.Start()
	lab.WaitFor(t, 10*time.Second, "B back alone", func() (bool, string) {
		_, err := b.TryStatus()
		return err == nil, fmt.Sprint(err)
	})
	if d := b.Status().Defaults; d == nil || d.Serial != newSet.Serial || d.Hash != newSet.Hash || d.Error != "" {
		t.Errorf("B restarted while A and C are away: defaults %+v, want the kept %+v", d, newSet)
	}
	kept := regexp.MustCompile(`msg="global defaults: serving the set last adopted" .*serial=` + fmt.Sprint(newSet.Serial) + ` `)
	if _, pos := logEvent(b.Log.String(), marker, kept); pos < 0 {
		t.Errorf("B's restart did not log serving the kept set (serial %d)", newSet.Serial)
	}
	b.Stop(t)
}

var hdfPoolNameRx = regexp.MustCompile(`\{(\d+\.\d+\.\d+\.\d+-\d+\.\d+\.\d+\.\d+) `)

// samePoolNames compares the pools' names of two printed pool lists (the
// counts move with the clients served).
func samePoolNames(a, b string) bool {
	return fmt.Sprint(hdfPoolNameRx.FindAllStringSubmatch(a, -1)) == fmt.Sprint(hdfPoolNameRx.FindAllStringSubmatch(b, -1))
}
