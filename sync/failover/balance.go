package failover

import (
	"math"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// Rebalance is the pool balancing of draft-ietf-dhc-failover-12 §5.4 as
// arithmetic: of the available addresses of a pool (FREE, owned by the
// primary, plus BACKUP, owned by the secondary), the secondary should hold
// share as BACKUP. It returns how many FREE addresses the primary should
// convert to BACKUP (toBackup) or how many BACKUP addresses the secondary
// should give back as FREE (toFree); at most one is non-zero.
//
// Nothing moves while the imbalance is within threshold addresses (the
// draft's "threshold mechanism ... to minimize the overhead"); a threshold
// < 0 is taken as 0.
//
// Only the owner of an address ever converts it (the primary gives FREE
// away, the secondary gives BACKUP back), so a transfer can never race an
// allocation on the other box: the receiver can use an address only after
// the record reached it over the sync link. (The draft lets the primary
// take BACKUP back with a BNDUPD the secondary may reject; having the owner
// give it up is the same flow without the reject case.)
func Rebalance(st lease.PoolStats, share float64, threshold int) (toBackup, toFree int) {
	if st.Free < 0 || st.Backup < 0 || !(share >= 0 && share <= 1) {
		return 0, 0
	}
	if threshold < 0 {
		threshold = 0
	}
	avail := st.Free + st.Backup
	target := int(math.Round(float64(avail) * share))
	switch d := target - st.Backup; {
	case d > threshold:
		return min(d, st.Free), 0
	case -d > threshold:
		return 0, -d
	}
	return 0, 0
}

// DefaultThreshold is the imbalance tolerated before moving addresses: 2%
// of the available addresses, at least one.
func DefaultThreshold(st lease.PoolStats) int {
	return max(1, (st.Free+st.Backup)/50)
}
