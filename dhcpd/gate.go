package dhcpd

import (
	"net"
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// Gate is what the failover layer (sync/failover) decides for the engine.
// The engine asks it on every request; implementations must be fast and safe
// for concurrent use.
type Gate interface {
	// Serve reports whether this server answers the client now (hot
	// standby: this box is active; load balance: the client's RFC 3074
	// bucket is ours, or secs is past the configured limit).
	Serve(c Client) bool
	// AllocateFrom returns the binding state new addresses may be taken
	// from (lease.StateFree on a primary or single server, lease.StateBackup
	// on a secondary serving alone), or false when this server may only
	// renew existing leases.
	AllocateFrom() (lease.State, bool)
	// LeaseTime caps the lease time the engine wants to grant for the
	// lease l (failover: MCLT rule) and says what the engine records on
	// the lease it commits (draft-ietf-dhc-failover-12 §5.2.1).
	LeaseTime(l lease.Lease, want time.Duration, now time.Time) Grant
}

// Grant is a Gate's answer for one binding.
type Grant struct {
	Time time.Duration // at most the time the engine wanted
	// Potential is the expiry to tell the partner; zero without one.
	Potential time.Time
	// Acked is the latest potential expiry the partner is known to hold
	// for l's binding: kept on the lease, so a renewal granted while the
	// partner is unreachable still counts from it. Zero without one.
	Acked time.Time
}

// MultiPoolGate is a Gate that may allow more than one pool at once: a
// failover server in PARTNER-DOWN, once the MCLT has passed, takes
// addresses from its own pool and from its partner's (draft-ietf-dhc-
// failover-12 §5.3.1). The engine uses AllocateFromAll instead of
// AllocateFrom when the Gate has it.
type MultiPoolGate interface {
	Gate
	// AllocateFromAll returns the binding states new addresses may be
	// taken from, in the order to try them (the own pool first); empty
	// when this server may only renew existing leases.
	AllocateFromAll() []lease.State
}

// SubnetGate is a Gate whose answers differ by subnet: a box in several
// failover relationships, each over its own subnets (and a subnet in none
// served by the box alone). The engine asks For with the subnet a request
// is served from (a shared network's subnets share one relationship) and
// uses the Gate it returns for Serve, allocation and the lease time. Its
// own methods are used only for what spans every subnet (the pools'
// offer limits).
type SubnetGate interface {
	Gate
	For(subnet netip.Prefix) Gate
}

// Client is who is asking, for Gate.Serve.
type Client struct {
	Key string // lease.ClientKey
	// ClientID is the client identifier (option 61, RFC 2132 §9.14), nil
	// when the request has none or an empty one; when set it is what Key
	// was made from (RFC 2131 §4.2 prefers it to chaddr), so a gate that
	// hashes it (the RFC 3074 load-balancing input) need not take Key
	// apart. Read-only.
	ClientID []byte
	HWAddr   net.HardwareAddr
	Secs     uint16
	// Renewal: a DHCPREQUEST in RENEWING or REBINDING state (RFC 2131
	// §4.3.2: ciaddr set, no server identifier, no requested address). A
	// load-balancing pair answers those whatever the client's hash bucket
	// (draft-ietf-dhc-failover-12 §5.3).
	Renewal bool
}

// SingleServer is the Gate of a server without a failover partner: it
// serves everyone, allocates from FREE, and caps nothing.
type SingleServer struct{}

func (SingleServer) Serve(Client) bool                 { return true }
func (SingleServer) AllocateFrom() (lease.State, bool) { return lease.StateFree, true }
func (SingleServer) LeaseTime(_ lease.Lease, want time.Duration, _ time.Time) Grant {
	return Grant{Time: want}
}
