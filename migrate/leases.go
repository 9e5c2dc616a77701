package migrate

import (
	"net"
	"net/netip"
	"time"
)

// Lease is one imported binding. It mirrors the fields of lease.Lease that a
// source file can fill; package migrate/leasedb converts and commits them.
// (Keeping the importers free of the lease package lets them be built and
// tested on their own.)
type Lease struct {
	Addr     netip.Addr
	HWAddr   net.HardwareAddr
	ClientID []byte
	Hostname string
	State    LeaseState
	Start    time.Time
	Expiry   time.Time
	CLTT     time.Time

	// Failover times (draft-ietf-dhc-failover-12 §5.2): ISC's tstp, tsfp
	// and atsfp (dhcpd.leases(5)).
	PotentialExpiry time.Time // tstp: what the peer has been told
	AckedExpiry     time.Time // tsfp: what the peer has acknowledged
	PartnerExpiry   time.Time // atsfp: what the peer sent

	Pos Pos // the block that set this state, for error messages
}

// LeaseState is the binding state of an imported lease. Free and backup
// addresses are not imported (an address with no record is FREE, and
// hadhcpd's failover hands out BACKUP addresses itself).
type LeaseState uint8

const (
	LeaseActive LeaseState = iota + 1
	LeaseExpired
	LeaseReleased
	LeaseAbandoned
)

func (s LeaseState) String() string {
	switch s {
	case LeaseActive:
		return "active"
	case LeaseExpired:
		return "expired"
	case LeaseReleased:
		return "released"
	case LeaseAbandoned:
		return "abandoned"
	}
	return "?"
}

// LeaseTable keeps the last state of each address in the order addresses
// were first seen, the rule both ISC ("the last lease block for an address
// wins", dhcpd.leases(5)) and Kea's memfile (a later line supersedes an
// earlier one) follow.
type LeaseTable struct {
	idx    map[netip.Addr]int
	leases []*Lease // pointers: a superseding block overwrites in place, and growth copies 8 bytes a lease
	gone   []bool
	Blocks int // blocks or lines read
}

// Put records l as the current state of its address.
func (t *LeaseTable) Put(l Lease) {
	t.Blocks++
	if t.idx == nil {
		t.idx = map[netip.Addr]int{}
	}
	if i, ok := t.idx[l.Addr]; ok {
		*t.leases[i], t.gone[i] = l, false
		return
	}
	t.idx[l.Addr] = len(t.leases)
	t.leases = append(t.leases, &l)
	t.gone = append(t.gone, false)
}

// Remove records that addr has no binding (a free address, a Kea lease
// deleted by writing it with lifetime 0).
func (t *LeaseTable) Remove(addr netip.Addr) {
	t.Blocks++
	if i, ok := t.idx[addr]; ok {
		t.gone[i] = true
	}
}

// Superseded returns how many blocks were replaced by a later one.
func (t *LeaseTable) Superseded() int { return t.Blocks - len(t.leases) }

// Leases returns the current bindings in first-seen order.
func (t *LeaseTable) Leases() []Lease {
	out := make([]Lease, 0, len(t.leases))
	for i, l := range t.leases {
		if !t.gone[i] {
			out = append(out, *l)
		}
	}
	return out
}

// StateCounts counts leases by state for the report.
func StateCounts(ls []Lease) map[LeaseState]int {
	m := map[LeaseState]int{}
	for _, l := range ls {
		m[l.State]++
	}
	return m
}
