package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// TestIntegrationMaintenanceNoPreempt: the secondary has preempt: false,
// so a lowered priority alone would never hand it the VIP. maintenance
// start on the primary resigns (RFC 5798 §6.4.3: a priority-0 advert, the
// backup takes over after its Skew_Time whatever its preempt setting); the
// primary stays BACKUP at the unfit priority; maintenance stop restores
// its priority and, since the primary itself preempts, it takes the VIP
// back.
func TestIntegrationMaintenanceNoPreempt(t *testing.T) {
	testnet.RequireCmd(t, "dhclient")
	p := newPairLab(t, "hdw", netip.MustParsePrefix("192.0.2.0/24"), 40, func(r boxRole, dir, psk string) string {
		c := fmt.Sprintf(pairConfig, r.name, dir, r.prio, r.role, r.listen, r.peer, psk, "")
		if r.name == "sec" {
			c = strings.Replace(c, "advert_interval: 100ms\n", "advert_interval: 100ms\n      preempt: false\n", 1)
		}
		return c
	})
	p.waitReady(t)

	begin := time.Now()
	out, err := p.pri.Run("maintenance", "start")
	cmdTook := time.Since(begin)
	if err != nil || !strings.Contains(out, "maintenance on: the partner holds VRRP mastership") {
		t.Fatalf("maintenance start: %v\n%s", err, out)
	}
	took := waitVIP(t, p.sec, p.pri, 3*time.Second)
	t.Logf("maintenance start: returned after %v, VIP on the secondary alone %v later\n%s",
		cmdTook.Round(time.Millisecond), took.Round(time.Millisecond), out)
	if st := p.pri.Status(); len(st.VRRP) != 1 || st.VRRP[0].State != "BACKUP" || st.VRRP[0].Priority != 1 {
		t.Errorf("primary in maintenance: %+v, want BACKUP at priority 1", st.VRRP)
	}
	// It stays there: nobody preempts the secondary.
	time.Sleep(time.Second)
	if !p.sec.hasVIP() || p.pri.hasVIP() {
		t.Fatalf("VIP moved during maintenance: secondary %v primary %v", p.sec.hasVIP(), p.pri.hasVIP())
	}

	if out, err := p.pri.Run("maintenance", "stop"); err != nil {
		t.Fatalf("maintenance stop: %v\n%s", err, out)
	}
	took = waitVIP(t, p.pri, p.sec, 3*time.Second)
	t.Logf("maintenance stop: VIP back on the primary (it preempts) %v after the command returned", took.Round(time.Millisecond))
}
