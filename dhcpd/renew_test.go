package dhcpd

import (
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestRenewTimes: configured T1/T2 are sent as they are when they fit the
// lease; otherwise clamped so that T1 < T2 < lease (RFC 2131 §4.4.5).
func TestRenewTimes(t *testing.T) {
	m := time.Minute
	for _, c := range []struct {
		name           string
		lt             uint32
		renew, rebind  time.Duration
		wantT1, wantT2 uint32
	}{
		{"defaults", 3600, 0, 0, 1800, 3150},
		{"configured", 3600, 20 * m, 50 * m, 1200, 3000},
		{"renew only", 3600, 20 * m, 0, 1200, 3150},
		{"rebind only, default T1 below it", 3600, 0, 40 * m, 1800, 2400},
		{"rebind only, default T1 past it", 3600, 0, 20 * m, 685, 1200},
		{"renew past the default T2", 3600, 55 * m, 0, 1800, 3150},
		{"both past a short lease (MCLT, client asked less)", 600, 30 * m, 50 * m, 300, 525},
		{"renew past the lease", 600, time.Hour, 0, 300, 525},
		{"rebind equal to the lease", 600, 0, 10 * m, 300, 525},
		{"tiny lease", 4, 0, 0, 2, 3},
	} {
		t1, t2 := renewTimes(c.lt, scope.LeaseTimes{Renew: c.renew, Rebind: c.rebind})
		if t1 != c.wantT1 || t2 != c.wantT2 {
			t.Errorf("%s: T1 %d T2 %d, want %d %d", c.name, t1, t2, c.wantT1, c.wantT2)
		}
		if c.lt > 2 && !(t1 < t2 && t2 < c.lt) {
			t.Errorf("%s: T1 %d T2 %d lease %d: not T1 < T2 < lease", c.name, t1, t2, c.lt)
		}
	}
}

// TestRenewTimesInReply: a subnet's configured T1/T2 go into the OFFER and
// the ACK; a client asking a lease shorter than them gets them clamped.
func TestRenewTimesInReply(t *testing.T) {
	r := newRig(t, func(c *scope.Config) {
		c.Subnets[0].Times.Renew, c.Subnets[0].Times.Rebind = 30*time.Minute, 90*time.Minute
	})
	ack := r.dora(t, macA)
	if t1, t2 := leaseSecs(ack, dhcpv4.OptionRenewTimeValue), leaseSecs(ack, dhcpv4.OptionRebindingTimeValue); t1 != 1800 || t2 != 5400 {
		t.Fatalf("ACK T1 %d T2 %d, want 1800 5400", t1, t2)
	}
	short := dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(10 * time.Minute))
	ack = r.dora(t, macB, short)
	lt, t1, t2 := leaseSecs(ack, dhcpv4.OptionIPAddressLeaseTime), leaseSecs(ack, dhcpv4.OptionRenewTimeValue), leaseSecs(ack, dhcpv4.OptionRebindingTimeValue)
	if lt != 600 || !(t1 < t2 && t2 < lt) {
		t.Fatalf("short lease %d: T1 %d T2 %d", lt, t1, t2)
	}
}
