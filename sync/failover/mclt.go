package failover

import (
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// Grant applies the MCLT rule of draft-ietf-dhc-failover-12 §5.2.1 ("Control
// of lease time"): the lease a client is given must not end more than MCLT
// after the potential expiry the partner has acknowledged,
//
//	actual lease interval <= acknowledged potential lease interval + MCLT
//
// now and partnerKnows are both times of the local clock: partnerKnows is the
// latest potential expiry the partner is known to hold for this address (see
// PartnerKnows), already converted to the local clock by the peer link.
// The zero time means the partner knows nothing (a new lease).
//
// grant is min(desired, remainder + MCLT) where remainder is what is left of
// partnerKnows at now (never negative) -- the "what to tell the client" rule
// of the §5.2.1 example. potential is what to send the partner in the update
// (the "what to tell the failover partner" rule): now + T1 + desired with
// T1 = grant/2 (RFC 2131 §4.4.5: T1 defaults to 0.5 of the lease), so that a renewal
// at T1 finds desired time left on the acknowledged potential and gets the
// full desired lease. With MCLT 1 h and desired 3 days: the first lease is
// 1 h, potential now+3d+30m; the renewal 30 min later gets 3 days.
//
// A desired or mclt <= 0 yields a zero grant: callers validate both, and a
// zero lease can only make a client come back, never overlap another.
func Grant(now, partnerKnows time.Time, desired, mclt time.Duration) (grant time.Duration, potential time.Time) {
	if desired <= 0 || mclt <= 0 {
		return 0, now
	}
	var remainder time.Duration
	if !partnerKnows.IsZero() && partnerKnows.After(now) {
		remainder = partnerKnows.Sub(now)
	}
	grant = desired
	if cap := remainder + mclt; cap > 0 && cap < grant { // cap > 0 guards overflow
		grant = cap
	}
	return grant, now.Add(grant/2 + desired)
}

// PartnerKnows is the latest expiry the partner is known to have recorded
// for the address: the potential expiry it acknowledged from us, or the one
// it sent us itself (it keeps what it sends, draft §7.1.5), whichever is
// later. Both fields are in the local clock (the peer link converts).
func PartnerKnows(l lease.Lease) time.Time {
	t := l.AckedExpiry
	if l.PartnerExpiry.After(t) {
		t = l.PartnerExpiry
	}
	return t
}

// LatestEnd is the latest moment any client may still hold the address
// according to this record: what the client was told, or what the partner
// may have extended it to on its own -- MCLT past the latest potential
// expiry it may hold, counting the one we sent even if its ack never came
// back (draft §5.2.2: reallocation waits MCLT after the expiry).
func LatestEnd(l lease.Lease, mclt time.Duration) time.Time {
	t := l.Expiry
	k := PartnerKnows(l)
	if l.PotentialExpiry.After(k) {
		k = l.PotentialExpiry
	}
	if !k.IsZero() {
		if k = k.Add(mclt); k.After(t) {
			t = k
		}
	}
	return t
}

// AckedThrough is l as known once the partner has acknowledged every
// record of our stream up to sequence number seq (its acks are
// cumulative and in sequence order, sync/peer): the potential expiry of an
// ACTIVE binding whose record we wrote at or below seq is then one the
// partner holds durably, i.e. acknowledged (draft §5.2.1), so the renewal
// at T1 may be granted up to MCLT past it. A record the partner wrote
// (Peer), or one we wrote that it has not acknowledged, is unchanged.
func AckedThrough(l lease.Lease, seq uint64) lease.Lease {
	if l.State == lease.StateActive && !l.Peer && l.Seq != 0 && l.Seq <= seq && l.PotentialExpiry.After(l.AckedExpiry) {
		l.AckedExpiry = l.PotentialExpiry
	}
	return l
}
