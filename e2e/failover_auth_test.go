package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testcert"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// Root tests of the pair's sync link guards (invariant 8): a peer with the
// wrong key is refused and counted while the pair keeps serving, and the
// primary's dhcp: section reaches the secondary on reload (config sync).
// The lab is the one of failover_integration_test.go, except that the sync
// link is a switch (a third box can reach it) and both boxes export
// metrics on 127.0.0.1:9767 in their own namespace.

// gPair is a pair whose sync network is a switch.
type gPair struct {
	*pair
	sync string // the sync switch
	dir  string
	psk  string // the pair's key file
}

// box writes a box's config (pairConfig with auth, a YAML flow map such
// as "{psk_file: F}") and checks it.
func (g *gPair) box(t *testing.T, name, lan, role, lanAddr, syncAddr, listen, peer string, prio int, auth string) *pairBox {
	t.Helper()
	b := newPairBox(t, g.net, g.dir, name, "192.0.2.1", func(dir string) string {
		c := fmt.Sprintf(pairConfig, name, dir, prio, role, listen, peer, "AUTH", "127.0.0.1:9767")
		return strings.Replace(c, "{psk_file: AUTH}", auth, 1)
	})
	b.Host.Connect(lan, "eth0", lanAddr)
	b.Host.Connect(g.sync, "sync0", syncAddr)
	return b
}

// newGPair starts the pair; auth gives each box's failover.auth (nil: a
// shared random PSK).
func newGPair(t *testing.T, auth func(box string) string) *gPair {
	t.Helper()
	testnet.RequireCmd(t, "dhclient", "curl")
	binary(t)
	n := testnet.New(t, "hdg")
	g := &gPair{pair: &pair{net: n, lan: n.Switch("lan")}, sync: n.Switch("sync"), dir: t.TempDir()}
	g.psk = filepath.Join(g.dir, "peer.key")
	lab.WritePSK(t, g.psk)
	if auth == nil {
		auth = func(string) string { return "{psk_file: " + g.psk + "}" }
	}
	g.pri = g.box(t, "pri", g.lan, "primary", "192.0.2.2/24", "198.51.100.1/24", "198.51.100.1:647", "198.51.100.2:647", 200, auth("pri"))
	g.sec = g.box(t, "sec", g.lan, "secondary", "192.0.2.3/24", "198.51.100.2/24", "198.51.100.2:647", "198.51.100.1:647", 100, auth("sec"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("primary log:\n%s", g.pri.Log.String())
			t.Logf("secondary log:\n%s", g.sec.Log.String())
		}
	})
	g.sec.Start()
	g.pri.Start()
	return g
}

// metric reads one sample of the box's /metrics (0 when absent).
func (b *pairBox) metric(t *testing.T, series string) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := b.Host.Output(ctx, "curl", "-sS", "--max-time", "3", "http://127.0.0.1:9767/metrics")
	if err != nil {
		t.Fatalf("%s: /metrics: %v\n%s", b.Name, err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %s: %v", b.Name, series, err)
			}
			return f
		}
	}
	return 0
}

// TestIntegrationFailoverWrongPSK: a third hadhcpd with the wrong key
// dials the secondary's sync address (only the secondary accepts, so the
// acceptor's side is where an intruder is refused): it is refused with
// reason auth, logged once (rate-limited per source and reason), counted
// in hadhcpd_peer_refused_peers_total{reason="auth"}, and the pair keeps
// its link and serves a client with replication.
func TestIntegrationFailoverWrongPSK(t *testing.T) {
	g := newGPair(t, nil)
	g.waitReady(t)
	bad := filepath.Join(g.dir, "wrong.key")
	lab.WritePSK(t, bad)
	g.intruder(t, "{psk_file: "+bad+"}", "auth")
}

// intruder runs a third box with the given failover.auth (a "primary" on
// its own isolated LAN, dialling the secondary) and checks that the
// secondary refuses it for reason, logs it once and counts it, while the
// pair keeps its link and serves a client with replication.
func (g *gPair) intruder(t *testing.T, auth, reason string) {
	t.Helper()
	rogue := g.box(t, "rogue", g.net.Switch("rlan"), "primary", "192.0.2.2/24", "198.51.100.3/24",
		"198.51.100.3:647", "198.51.100.2:647", 200, auth)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("rogue log:\n%s", rogue.Log.String())
		}
	})
	rogue.Start()
	refusal := `msg="peer link: refused partner connection".*ip=198\.51\.100\.3 reason=` + reason
	g.sec.WaitLog(refusal, 15*time.Second)
	// The rogue redials: wait for a second refused attempt, which must
	// not log a second line.
	series := `hadhcpd_peer_refused_peers_total{reason="` + reason + `"}`
	var v float64
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if v = g.sec.metric(t, series); v >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("secondary: %s = %v 15s after the first refusal, want the rogue's retries counted (>= 2)", series, v)
		}
	}
	if n := len(regexp.MustCompile(refusal).FindAllString(g.sec.Log.String(), -1)); n != 1 {
		t.Errorf("secondary logged the refusal %d times, want once (rate limit per source and reason)", n)
	}
	t.Logf("secondary: %v refused attempts (%s), one log line", v, series)
	if regexp.MustCompile(`peer link up.*partner=rogue`).MatchString(g.sec.Log.String()) {
		t.Error("the secondary accepted the rogue's connection")
	}

	// The pair is untouched: link up, and a client's lease is replicated
	// before its ACK.
	for _, b := range []*pairBox{g.pri, g.sec} {
		if st := b.Status(); st.Failover == nil || !st.Failover.LinkUp || st.Failover.State != "NORMAL" {
			t.Errorf("%s after the intrusion: failover %+v, want NORMAL with the link up", b.Name, st.Failover)
		}
	}
	c := newClient(t, g.net.Host("c1"))
	c.h.Connect(g.lan, "eth0")
	out, err := c.dhclient(t)
	m := ackRx.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("c1: no lease from the pair while the rogue knocks: %v\n%s", err, out)
	}
	if st := leaseState(g.sec.leases(), m[1]); st != "active" {
		t.Errorf("c1's lease %s on the secondary: %q, want active (replication still works)", m[1], st)
	}
	_, _ = c.dhclient(t, "-x")
	rogue.Stop(t)
	g.pri.Stop(t)
	g.sec.Stop(t)
}

// TestIntegrationFailoverConfigSync: the primary's pool shrinks in its
// file; after SIGHUP it applies the section itself and the secondary
// serves the new pool within a second, both reporting the same hash; the
// secondary keeps the section in its state directory.
func TestIntegrationFailoverConfigSync(t *testing.T) {
	g := newGPair(t, nil)
	g.waitReady(t)
	hp, hs := g.pri.Status().Failover.ConfigHash, g.sec.Status().Failover.ConfigHash
	if hp == "" || hp != hs {
		t.Fatalf("config hashes before the change: primary %q, secondary %q, want equal and set", hp, hs)
	}

	y, err := os.ReadFile(g.pri.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	ny := strings.Replace(string(y), "192.0.2.100-192.0.2.200", "192.0.2.150-192.0.2.200", 1)
	if ny == string(y) {
		t.Fatal("the pool range is not in the primary's config")
	}
	if err := os.WriteFile(g.pri.Cfg, []byte(ny), 0o600); err != nil {
		t.Fatal(err)
	}
	hup := time.Now()
	if err := g.pri.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var took time.Duration
	for {
		st := g.sec.Status()
		if len(st.Pools) == 1 && st.Pools[0].Total == 51 && st.Failover.ConfigHash != hs {
			took = time.Since(hup)
			break
		}
		if time.Since(hup) > 5*time.Second {
			t.Fatalf("secondary still serves %+v (hash %s) 5s after the primary's SIGHUP", st.Pools, st.Failover.ConfigHash)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("SIGHUP on the primary -> new pool in the secondary's status: %v", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("the secondary served the new pool %v after the SIGHUP, want within 1s", took)
	}
	g.pri.WaitLog(`reload: dhcp section applied.*changed=dhcp\.subnets`, 2*time.Second)
	g.pri.WaitLog(`config verdict from secondary.*accepted=true`, 2*time.Second)
	hp, hs = g.pri.Status().Failover.ConfigHash, g.sec.Status().Failover.ConfigHash
	if hp != hs {
		t.Errorf("config hashes after the sync: primary %s, secondary %s", hp, hs)
	}
	if st := g.pri.Status(); len(st.Pools) != 1 || st.Pools[0].Total != 51 {
		t.Errorf("primary pools after its reload: %+v, want 192.0.2.150-200 (51)", st.Pools)
	}
	g.sec.WaitLog(`dhcp config applied.*source=primary hash=`+hs, time.Second)
	if _, err := os.Stat(filepath.Join(g.sec.Dir, "state", "synced-dhcp.json")); err != nil {
		t.Errorf("the secondary did not keep the synced section: %v", err)
	}

	// A new client gets an address of the new pool.
	c := newClient(t, g.net.Host("c1"))
	c.h.Connect(g.lan, "eth0")
	out, err := c.dhclient(t)
	m := ackRx.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("c1: no lease after the reload: %v\n%s", err, out)
	}
	if last, _ := strconv.Atoi(m[1][strings.LastIndexByte(m[1], '.')+1:]); last < 150 {
		t.Errorf("c1 got %s, outside the new pool 192.0.2.150-200", m[1])
	}
	_, _ = c.dhclient(t, "-x")
	g.pri.Stop(t)
	g.sec.Stop(t)
}

// testCA is a throwaway certificate authority for the TLS tests, its
// certificate written to file.
type testCA struct {
	*testcert.CA
	file string
}

func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	ca := &testCA{CA: testcert.NewCA(t, name), file: filepath.Join(dir, name+"-ca.pem")}
	writePEMFile(t, ca.file, ca.PEM)
	return ca
}

// issue writes a node certificate and key signed by the CA (client and
// server use: each end of the link is both) and returns the auth value.
func (ca *testCA) issue(t *testing.T, dir, name, trust string) string {
	t.Helper()
	certPEM, keyPEM := ca.Issue(t, name, testcert.Both, name)
	cert, key := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	writePEMFile(t, cert, certPEM)
	writePEMFile(t, key, keyPEM)
	return fmt.Sprintf("{tls: {cert: %s, key: %s, ca: %s}}", cert, key, trust)
}

func writePEMFile(t *testing.T, file string, b []byte) {
	t.Helper()
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationFailoverTLSUntrusted: a pair on mutual TLS; a third box
// whose certificate is signed by another CA (it trusts the pair's CA, so
// only the secondary's check stands in its way) is refused with reason
// tls, logged once and counted, and the pair keeps serving.
func TestIntegrationFailoverTLSUntrusted(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "pair")
	g := newGPair(t, func(box string) string { return ca.issue(t, dir, box, ca.file) })
	g.waitReady(t)
	other := newTestCA(t, dir, "other")
	g.intruder(t, other.issue(t, dir, "rogue", ca.file), "tls")
}
