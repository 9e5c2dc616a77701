package dhcpd

import (
	"net"
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// LeaseEvent is one lease change the engine made durable, for the
// operator's event stream (EngineOptions.OnLease).
type LeaseEvent struct {
	Action LeaseAction
	// Lease is the binding as committed (for a release or a decline: the
	// address and the client; for an expiry: the record as expired).
	Lease lease.Lease
	// Relay is the relay agent (giaddr) of the request, zero for a client
	// on a served link and for an expiry.
	Relay netip.Addr
}

// LeaseAction is what happened to a binding.
type LeaseAction uint8

// The lease actions.
const (
	LeaseGranted  LeaseAction = iota + 1 // DHCPACK of a new binding (RFC 2131 §4.3.2)
	LeaseRenewed                         // DHCPACK extending the same client's binding
	LeaseReleased                        // DHCPRELEASE (§4.3.4)
	LeaseExpired                         // the binding ran out
	LeaseDeclined                        // DHCPDECLINE (§4.3.3): abandoned for the probation period
)

var leaseActionNames = [...]string{LeaseGranted: "granted", LeaseRenewed: "renewed", LeaseReleased: "released",
	LeaseExpired: "expired", LeaseDeclined: "declined"}

func (a LeaseAction) String() string {
	if int(a) < len(leaseActionNames) && leaseActionNames[a] != "" {
		return leaseActionNames[a]
	}
	return "unknown"
}

// emit hands ev to the OnLease observer. It runs on the committer's or a
// worker's goroutine after the change is durable; the observer must not
// block (events.Bus.Publish never does).
func (e *Engine) emit(a LeaseAction, l lease.Lease, relay netip.Addr) {
	if e.onLease != nil {
		e.onLease(LeaseEvent{Action: a, Lease: l, Relay: relay})
	}
}

// relayOf is a request's giaddr, zero when it came directly.
func relayOf(gi net.IP) netip.Addr {
	if a := addr4(gi); a.IsValid() && !a.IsUnspecified() {
		return a
	}
	return netip.Addr{}
}

// ended is the lease event of a client's binding that ended (release,
// decline): the address, the client, when.
func ended(c client, addr netip.Addr, now time.Time) lease.Lease {
	return lease.Lease{Addr: addr, HWAddr: c.hw, ClientID: c.id, CLTT: now, StateStart: now}
}
