package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// Partitions: a ready hot-standby pair under the crash
// loop's load client loses one path between the boxes, or both, for
// partHold, and gets it back. A partition of one path alone
// never leads to PARTNER-DOWN, and invariant 1 holds under a partition of
// either path. After the heal the pair must be back in NORMAL with one VIP
// holder, and the two lease databases must agree with each other and with
// every ACK the clients got.

// Knobs of one partition.
const (
	// partHold exceeds loadPairConfig's max_response_delay (3 s), so a
	// silent sync partition is noticed by the heartbeat timeout while it
	// lasts and the pair serves some time under COMMUNICATIONS-INTERRUPTED
	// rules, not only with ACKs stalled waiting for the partner.
	partHold = 4 * time.Second
	// partLead is load before the cut (a steady state) and after the heal
	// (clients served while the boxes resynchronise).
	partLead     = time.Second
	partConverge = 30 * time.Second
)

// newPartPair is the crash loop's pair with its own namespace prefix
// ("hdp"), so this test and the crash loop can run side by side.
func newPartPair(t *testing.T) *pair {
	t.Helper()
	testnet.RequireCmd(t, "nft")
	return newLoadPair(t, "hdp", crashSpec)
}

// nft loads a ruleset into the box's namespace (the tables live and die
// with it, so a failed test leaves nothing behind on the host).
func nft(t *testing.T, h *testnet.Host, ruleset string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", h.Name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in %s: %v\n%s\n%s", h.Name, err, ruleset, out)
	}
}

// The sync cable is cut silently inside the primary: every frame in or out
// of sync0 is dropped, the link stays up, so neither TCP end gets a FIN, an
// RST or an ICMP error and only the heartbeat timeout can tell.
const (
	cutSync  = "table inet hdps {\n chain in { type filter hook input priority 0; iifname \"sync0\" drop; }\n chain out { type filter hook output priority 0; oifname \"sync0\" drop; }\n}\n"
	healSync = "delete table inet hdps\n"
	// VRRP (IP protocol 112, RFC 5798 §5.1.1.4) is dropped on input in
	// each box, so neither hears the other's adverts. Not on output: a
	// refused send (EPERM) would be a local fault, not a partition.
	cutVRRP  = "table inet hdpv {\n chain in { type filter hook input priority 0; ip protocol 112 drop; }\n}\n"
	healVRRP = "delete table inet hdpv\n"
)

// activePairs is address → chaddr (lower case) of a box's ACTIVE leases.
func activePairs(ls map[netip.Addr]control.LeaseInfo) map[netip.Addr]string {
	m := make(map[netip.Addr]string, len(ls))
	for a, l := range ls {
		m[a] = strings.ToLower(l.HWAddr)
	}
	return m
}

// pairsDiff lists the (address, chaddr) pairs active in one database but
// not in the other, one line each, sorted.
func pairsDiff(pri, sec map[netip.Addr]string) []string {
	var d []string
	for a, hw := range pri {
		if sec[a] != hw {
			d = append(d, fmt.Sprintf("%s: primary %s, secondary %q", a, hw, sec[a]))
		}
	}
	for a, hw := range sec {
		if _, ok := pri[a]; !ok {
			d = append(d, fmt.Sprintf("%s: primary \"\", secondary %s", a, hw))
		}
	}
	sort.Strings(d)
	return d
}

// TestPairsDiffDetects guards the convergence comparison.
func TestPairsDiffDetects(t *testing.T) {
	ip := netip.MustParseAddr
	pri := map[netip.Addr]string{ip("198.18.1.1"): "02:cc:01:00:00:01", ip("198.18.1.2"): "02:cc:01:00:00:02", ip("198.18.1.3"): "02:cc:01:00:00:03"}
	sec := map[netip.Addr]string{ip("198.18.1.1"): "02:cc:01:00:00:01", ip("198.18.1.2"): "02:cc:01:00:00:09", ip("198.18.1.4"): "02:cc:01:00:00:04"}
	d := pairsDiff(pri, sec)
	if len(d) != 3 || !strings.HasPrefix(d[0], "198.18.1.2") || !strings.HasPrefix(d[1], "198.18.1.3") || !strings.HasPrefix(d[2], "198.18.1.4") {
		t.Errorf("pairsDiff = %q, want 198.18.1.2, .3, .4", d)
	}
	if d := pairsDiff(pri, pri); len(d) != 0 {
		t.Errorf("pairsDiff of equal sets = %q", d)
	}
}

// TestIntegrationFailoverPartitions: three partitions, each on a fresh
// ready pair under 200 new clients/s.
func TestIntegrationFailoverPartitions(t *testing.T) {
	cases := []struct {
		name       string
		sync, vrrp bool
	}{
		// The primary stays VRRP master (the adverts still flow) and
		// serves under COMMUNICATIONS-INTERRUPTED rules once the
		// heartbeat times out; the secondary must not take the VIP.
		{"sync-link", true, false},
		// Both become VRRP master and both hold the VIP on one LAN, so
		// every broadcast reaches both; the sync link is up, so each may
		// serve only what it owns, replicated to the other.
		{"vrrp", false, true},
		// Both serve alone, each from what it owns.
		{"both", true, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { partition(t, i+1, tc.sync, tc.vrrp) })
	}
}

func partition(t *testing.T, round int, cutS, cutV bool) {
	p := newPartPair(t)
	cl := p.net.Host("cl")
	cl.Connect(p.lan, "eth0")
	load := newLoadClient(t, cl)
	p.mustNormal(t, 60*time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- load.run(ctx, round) }()
	time.Sleep(partLead)

	marker := fmt.Sprintf("--- partition: sync %v, vrrp %v ---\n", cutS, cutV)
	_, _ = fmt.Fprint(p.pri.Log, marker)
	_, _ = fmt.Fprint(p.sec.Log, marker)
	cutAt := time.Now()
	if cutS {
		nft(t, p.pri.Host, cutSync)
	}
	if cutV {
		nft(t, p.pri.Host, cutVRRP)
		nft(t, p.sec.Host, cutVRRP)
	}
	// Sample who holds the VIP while the partition lasts.
	var priVIP, secVIP, bothVIP int
	for time.Since(cutAt) < partHold {
		pv, sv := p.pri.hasVIP(), p.sec.hasVIP()
		if pv {
			priVIP++
		}
		if sv {
			secVIP++
		}
		if pv && sv {
			bothVIP++
		}
		time.Sleep(100 * time.Millisecond)
	}
	sp, errp := p.pri.TryStatus()
	ss, errs := p.sec.TryStatus()
	t.Logf("end of the partition: primary %s (%v), secondary %s (%v); VIP samples: primary %d, secondary %d, both %d",
		statusLine(sp), errp, statusLine(ss), errs, priVIP, secVIP, bothVIP)
	healAt := time.Now()
	if cutS {
		nft(t, p.pri.Host, healSync)
	}
	if cutV {
		nft(t, p.pri.Host, healVRRP)
		nft(t, p.sec.Host, healVRRP)
	}
	_, _ = fmt.Fprintf(p.pri.Log, "--- healed ---\n")
	_, _ = fmt.Fprintf(p.sec.Log, "--- healed ---\n")
	time.Sleep(partLead)
	cancel()
	var started int
	select {
	case started = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("load client did not stop within 10s")
	}

	// What the partition must have done, or the test proves nothing.
	switch {
	case cutV && bothVIP == 0:
		t.Errorf("VRRP cut: both boxes never held the VIP at once (samples: primary %d, secondary %d)", priVIP, secVIP)
	case !cutV && secVIP > 0:
		t.Errorf("sync link cut alone: the secondary took the VIP (%d samples): VRRP still worked", secVIP)
	}

	load.mu.Lock()
	acks := append([]crashAck(nil), load.acks...)
	failed := load.failed
	load.mu.Unlock()
	var before, during, after int
	for _, a := range acks {
		switch {
		case a.at.Before(cutAt):
			before++
		case a.at.Before(healAt):
			during++
		default:
			after++
		}
	}
	if before == 0 {
		t.Fatal("no ACK before the partition: the load client did not work")
	}
	if during == 0 {
		t.Error("no ACK during the partition: the pair stopped serving")
	}

	// Converged: both NORMAL with the VIP on the primary alone, every
	// unexpired ACK active for its client in both databases, the same
	// active pairs in both, and still NORMAL then.
	deadline := healAt.Add(partConverge)
	normalAt, _, err := p.waitNormal(time.Until(deadline), 0)
	if err != nil {
		t.Fatalf("after the heal: %v", err)
	}
	c := p.converge(t, time.Until(deadline), crashCheck(acks))
	if st := p.poll(0); !st.normal {
		t.Errorf("the pair left NORMAL while its databases converged: %s", st.why)
	}
	t.Logf("%d clients started, no ACK %d; ACKs before the partition %d, during %d (%v), after the heal %d; lost %d, duplicates %d; heal → NORMAL with one VIP %v, → databases converged %v",
		started, failed, before, during, partHold, after, len(c.v.lost), len(c.v.dups),
		normalAt.Sub(healAt).Round(time.Millisecond), since(healAt, c.at))
	// Duplicates do not heal with time: checked on the last read either way.
	reportLines(t, "duplicate (invariant 1)", c.v.dups)
	if c.at.IsZero() {
		t.Errorf("databases not converged within %v of the heal", partConverge)
		reportLines(t, "not active in both", c.v.lost)
		reportLines(t, "active pairs differ", c.diff)
	}
}
