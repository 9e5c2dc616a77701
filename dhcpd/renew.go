package dhcpd

import (
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
)

// renewTimes returns T1 and T2 in seconds for a lease of lt seconds
// (RFC 2131 §4.4.5): the configured renew and rebind times (scope.LeaseTimes),
// else 0.5 and 0.875 of the lease, clamped so that T1 < T2 < lease. A
// configured time at or past what this lease allows (the lease granted may
// be shorter than configured: the client asked less, or failover capped
// it at MCLT) falls back to the default ratio rather than telling the
// client to renew after its lease ended.
func renewTimes(lt uint32, t scope.LeaseTimes) (t1, t2 uint32) {
	t2 = uint32(uint64(lt) * 7 / 8)
	if r := secs(t.Rebind); r > 0 && r < lt {
		t2 = r
	}
	t1 = lt / 2
	if r := secs(t.Renew); r > 0 {
		t1 = r
	}
	if t1 >= t2 {
		// The default ratio below T2 (0.5/0.875 of it).
		t1 = uint32(uint64(t2) * 4 / 7)
	}
	return t1, t2
}

func secs(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	if s := d / time.Second; s < 1<<32 {
		return uint32(s)
	}
	return 1<<32 - 1
}
