package peer

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// Limits on connections whose partner has not proved its key yet, so that
// anybody who can reach failover.listen costs the secondary a bounded
// handshake (invariant 8) and cannot crowd out the partner.
//
// The one legitimate peer dials one connection at a time (dialLoop), so
// it never has more than one handshake in progress, perhaps two while a
// stale one from before a reconnect is still timing out:
// maxPendingPerSource is twice that. maxPending bounds the total at
// about 30 KiB each (three goroutines' stacks, a few KiB of heap; more
// with TLS, whose handshake allocates its own buffers): two megabytes
// under a flood, against the hundreds an unbounded one cost. The
// partner's own address (the host of Options.Peer) is not counted in the
// total, so a flood from other sources cannot lock it out; only its own
// per-source limit applies to it.
const (
	maxPendingPerSource = 4
	maxPending          = 64
)

// admission counts the unauthenticated connections, per source and in
// total. Its methods are safe for concurrent use.
type admission struct {
	perSource, total int
	partner          netip.Addr // exempt from total; invalid: none

	mu      sync.Mutex
	pending map[netip.Addr]int
	others  int // pending connections not from partner
}

func newAdmission(perSource, total int, partner netip.Addr) *admission {
	return &admission{perSource: perSource, total: total, partner: partner, pending: make(map[netip.Addr]int)}
}

// admit takes a slot for a connection from src. It returns the function
// that frees it, or the refusal reason (source_limit, total_limit) and
// why.
func (a *admission) admit(src netip.Addr) (release func(), reason string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	partner := a.partner.IsValid() && src == a.partner
	switch {
	case a.pending[src] >= a.perSource:
		return nil, "source_limit", fmt.Errorf("%d connections from %v are already in the handshake", a.pending[src], src)
	case !partner && a.others >= a.total:
		return nil, "total_limit", fmt.Errorf("%d connections are already in the handshake", a.others)
	}
	a.pending[src]++
	if !partner {
		a.others++
	}
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.pending[src]--; a.pending[src] <= 0 {
			delete(a.pending, src)
		}
		if !partner {
			a.others--
		}
	}, "", nil
}

// addrIP is the IP of a connection's address, IPv4-mapped addresses
// unmapped; the zero Addr when it has none (a pipe in tests).
func addrIP(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	case nil:
		return netip.Addr{}
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// hostIP is the IP of a host:port option; the zero Addr when it has
// none.
func hostIP(hostport string) netip.Addr {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
