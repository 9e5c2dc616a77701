package failover

import (
	"math"
	"net/netip"
	"time"

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

// BalanceMax bounds the addresses one pool moves per balancing round:
// one group commit of at most this many records (a few hundred KiB of
// journal, one fsync) and as many updates pipelined to the partner.
const BalanceMax = 4096

// The balancer's pace. A round moves the whole imbalance of each pool up
// to BalanceMax, so the addresses moved per second grow with the
// imbalance; while some remains the next round follows after BalanceDuty
// times what the round's commits took (balancing then holds the journal
// and the link at most 1/(1+BalanceDuty) of the time, the engine's
// commits the rest) but not sooner than BalanceMinGap; once balanced the
// pools are looked at every BalanceIdle.
const (
	BalanceIdle   = time.Second
	BalanceMinGap = 20 * time.Millisecond
	BalanceDuty   = 3
)

// BalancePace is how long to wait before the next round after one whose
// commits took took: rest says some pool still has addresses to move.
func BalancePace(rest bool, took time.Duration) time.Duration {
	if !rest {
		return BalanceIdle
	}
	return min(BalanceIdle, max(BalanceMinGap, BalanceDuty*took))
}

// Move is one pool balancing decision: N of this node's own available
// addresses of pool Pool go from binding state From to To (draft §5.4).
// Rest is what remains of the imbalance after this round (BalanceMax).
// Which addresses is the lease database's choice (its free structures);
// the records go to the partner over the sync link like any other.
type Move struct {
	Pool     string
	N        int
	From, To lease.State
	Rest     int
}

// Balance is one round of pool balancing over the pools' stats
// (Transfer per pool, at most BalanceMax addresses each): nothing outside
// NORMAL with the link up, and only what this node owns.
func (p Policy) Balance(stats []lease.PoolStats) []Move {
	var mv []Move
	for _, st := range stats {
		n, from, to := p.Transfer(st)
		if n <= 0 {
			continue
		}
		k := min(n, BalanceMax)
		mv = append(mv, Move{Pool: st.Name, N: k, From: from, To: to, Rest: n - k})
	}
	return mv
}

// Lease is the record that moves addr: the new binding state, starting
// now. The partner learns of it before this node forgets it owned it,
// since the record travels the replicating commit path.
func (m Move) Lease(addr netip.Addr, now time.Time) lease.Lease {
	return lease.Lease{Addr: addr, State: m.To, StateStart: now, CLTT: now}
}
