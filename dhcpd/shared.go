package dhcpd

import (
	"net/netip"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
)

// Shared networks: subnetFor finds the subnet a request belongs to (its
// link's or its relay's); the client may then get an address of any
// subnet of that subnet's shared network (scope.Subnet.Candidates), keeps
// whichever it holds, and gets the mask, routers and lease times of the
// subnet that holds its address (scope.Subnet.Holder). These helpers look
// through the candidates; none allocates.

// poolOf returns the candidate of sub holding a in one of its pools, and
// that pool; nil, nil when none does.
func poolOf(sub *scope.Subnet, a netip.Addr) (*scope.Subnet, *lease.Pool) {
	for _, s := range sub.Candidates() {
		if p := s.PoolOf(a); p != nil {
			return s, p
		}
	}
	return nil, nil
}

// reservationOf returns the reservation of address a in sub's shared
// network, or nil.
func reservationOf(sub *scope.Subnet, a netip.Addr) *scope.Reservation {
	if h := sub.Holder(a); h != nil {
		return h.ReservationOf(a)
	}
	return nil
}

// holderOr is the subnet whose options and times go with a: the
// candidate of sub holding it, else sub.
func holderOr(sub *scope.Subnet, a netip.Addr) *scope.Subnet {
	if h := sub.Holder(a); h != nil {
		return h
	}
	return sub
}

// onServedLink reports whether a is on the receiving interface's link:
// in one of its prefixes, or in a subnet sharing a network with one of
// them (the link's other subnets need no address of the box).
func onServedLink(cfg *scope.Config, a netip.Addr, ifAddrs []netip.Prefix) bool {
	if onLink(a, ifAddrs) {
		return true
	}
	for _, p := range ifAddrs {
		if s := subnetContaining(cfg, p.Addr(), false); s != nil && s.Holder(a) != nil {
			return true
		}
	}
	return false
}
