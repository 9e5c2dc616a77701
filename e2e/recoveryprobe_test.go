package e2e

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// TestIntegrationRecoveryProbing: a box alone loses lease records to a
// damaged journal. It cannot tell from its records which addresses those
// leases held, so until the longest lease could have ended it probes every
// address before it offers it (ARP on the served link): the clients that
// still hold the lost addresses answer, those addresses are abandoned, and
// no new client gets an address another client holds (invariant 1). The
// window shows in the log, in `status` and in a metric.
func TestIntegrationRecoveryProbing(t *testing.T) {
	testnet.RequireCmd(t, "curl")
	lab.Bin.Path(t)
	n := testnet.New(t, "hhard")
	lan, srv, box := lanBox(t, n, "solo", withDir(stormConfig))
	// One population: it answers ARP for every address it holds, as the
	// real clients would.
	pop := lanPopulation(t, n, lan, "cl", [2]byte{0x5e, 0x02})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const before = 40
	held := map[netip.Addr]int{}
	for i := range before {
		r := pop.DORA(ctx, i)
		if !r.OK() {
			t.Fatalf("client %d: %v", i, r.Err)
		}
		held[r.Addr] = i
	}

	// The box dies; records in the middle of its journal are damaged.
	box.Kill(syscall.SIGKILL, 10*time.Second)
	state := filepath.Join(box.Dir, "state")
	ents, err := os.ReadDir(state)
	if err != nil {
		t.Fatal(err)
	}
	var journals []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "journal-") {
			journals = append(journals, e.Name())
		}
	}
	slices.Sort(journals)
	if len(journals) == 0 {
		t.Fatal("no journal")
	}
	jpath := filepath.Join(state, journals[len(journals)-1])
	data, err := os.ReadFile(jpath)
	if err != nil {
		t.Fatal(err)
	}
	for _, frac := range []int{3, 2} { // two runs of damage: a few records lost
		off := len(data) * (frac - 1) / frac
		for i := range 16 {
			data[off+i] ^= 0xff
		}
	}
	if err := os.WriteFile(jpath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	marker := box.Start()
	waitLogAfter(t, box, marker, "hadhcpd running", 15*time.Second)
	waitLogAfter(t, box, marker, "recovery probing: every address offered", time.Second)
	st, err := box.TryStatus()
	if err != nil {
		t.Fatal(err)
	}
	if until := st.RecoveryProbingUntil; until.Before(time.Now().Add(3*time.Hour)) || until.After(time.Now().Add(5*time.Hour)) {
		t.Errorf("status recovery_probing_until %v, want about max_lease_time (4h) from now", until)
	}
	var ls []control.LeaseInfo
	if err := box.Leases(&ls); err != nil {
		t.Fatal(err)
	}
	active := map[netip.Addr]bool{}
	for _, l := range ls {
		if l.State == "active" {
			active[netip.MustParseAddr(l.IP)] = true
		}
	}
	var lost []netip.Addr
	for a := range held {
		if !active[a] {
			lost = append(lost, a)
		}
	}
	slices.SortFunc(lost, netip.Addr.Compare)
	if len(lost) == 0 {
		t.Fatal("the damage cost no lease: the test damaged nothing that matters")
	}

	// New clients: none may get an address a client still holds.
	const after = 20
	for i := range after {
		r := pop.DORA(ctx, 1000+i)
		if !r.OK() {
			t.Fatalf("new client %d after the recovery: %v", i, r.Err)
		}
		if c, ok := held[r.Addr]; ok {
			t.Errorf("new client %d got %s, which client %d still holds (its record was lost)", i, r.Addr, c)
		}
	}
	inUse := metricSum(t, srv, `hadhcpd_dhcp_probes_total{result="in-use"}`)
	window := metricSum(t, srv, `hadhcpd_dhcp_recovery_probing`)
	if err := box.Leases(&ls); err != nil {
		t.Fatal(err)
	}
	abandoned := 0
	for _, l := range ls {
		if a := netip.MustParseAddr(l.IP); l.State == "abandoned" && slices.Contains(lost, a) {
			abandoned++
		}
	}
	t.Logf("%d leases, %d lost to the damage (%v); %d new clients served, %.0f probes answered, %d lost addresses now abandoned",
		before, len(lost), lost, after, inUse, abandoned)
	if inUse == 0 || abandoned == 0 {
		t.Errorf("no lost address was probed and found in use (probes in-use %v, abandoned %d)", inUse, abandoned)
	}
	if window != 1 {
		t.Errorf("hadhcpd_dhcp_recovery_probing = %v, want 1", window)
	}
}
