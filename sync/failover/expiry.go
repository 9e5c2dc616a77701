package failover

import (
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// FromPartner converts one lease record as the partner wrote it into this
// node's view; the peer link calls it (through peer.Options.FromPartner)
// for every record it receives, before the record is stored.
//
// Clocks: the record's times are absolute in the partner's clock. sent is
// the partner's clock when it wrote the frame, received ours when the frame
// arrived; every non-zero time moves by received − sent, so what we store is
// in our clock whatever the skew, and the boxes need no synchronised clocks
// (the protocol carries both). Transit time is not subtracted: it is
// sub-millisecond on a LAN and the stored times are whole seconds. A zero
// time means "unset" and stays zero. A difference beyond ±292 years
// saturates (time.Time.Sub); the lease codec then refuses the result as
// outside 1970..2106, so an absurd partner clock fails the record rather
// than wrapping a time around.
//
// Sides (the potential expiration time of draft-ietf-dhc-failover-12
// §5.2.1): the partner's PotentialExpiry, what it may give the client, is
// our PartnerExpiry; its PartnerExpiry, the potential expiry it holds
// from us, is our AckedExpiry, and also our PotentialExpiry unless held
// (our current lease for the address, the zero Lease when we hold none)
// has a later one, sent but not yet applied by the partner. PartnerKnows
// and LatestEnd read these fields in our clock only.
func FromPartner(in, held lease.Lease, sent, received time.Time) lease.Lease {
	off := received.Sub(sent)
	shift := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.Add(off)
	}
	r := in
	r.Start, r.Expiry, r.CLTT, r.StateStart = shift(in.Start), shift(in.Expiry), shift(in.CLTT), shift(in.StateStart)
	r.PartnerExpiry = shift(in.PotentialExpiry)
	r.AckedExpiry = shift(in.PartnerExpiry)
	r.PotentialExpiry = r.AckedExpiry
	if held.PotentialExpiry.After(r.PotentialExpiry) {
		r.PotentialExpiry = held.PotentialExpiry
	}
	return r
}
