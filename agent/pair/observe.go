package pair

import (
	"errors"
	"fmt"

	"github.com/hadhcpd/hadhcpd/sync/failover"
)

// ObserveTransitions registers f to see every failover transition (the
// operator's event stream). Call it before Run; f runs on Run's goroutine
// and must not block.
func (p *Pair) ObserveTransitions(f func(failover.Transition)) { p.observe = f }

// ErrPartnerCannotLearn refuses an operator's lease change (a release
// through the API) in a state in which the partner could not learn of it
// safely (LeaseWriteAllowed).
var ErrPartnerCannotLearn = errors.New("the partner could not learn of this change safely")

// LeaseWriteAllowed says whether an operator may change a lease now (a
// release through the API). The change takes the replicated commit path,
// so it is safe where the partner either acknowledges it before the
// caller is answered or has no binding of its own to set against it:
//
//   - NORMAL with the link up: the partner applies the record durably
//     before the commit returns (invariant 2).
//   - PARTNER-DOWN: the partner was declared down; it comes back through
//     RECOVER and takes this box's records before it serves again.
//
// Everywhere else it is refused. In COMMUNICATIONS-INTERRUPTED the
// partner may be serving the same client: it could renew the binding
// unseen, and when the link heals one side's record replaces the
// other's (a later CLTT of the same client wins, lease.DB.Apply): the
// renewal lost (an address free while its client holds it, invariant 1)
// or the operator's release silently undone. In STARTUP and the RECOVER
// states this box's own database is not yet known complete.
func (p *Pair) LeaseWriteAllowed() error {
	st := p.status.Load()
	if st == nil {
		return fmt.Errorf("%w: the failover machine has not started", ErrPartnerCannotLearn)
	}
	switch {
	case st.State == failover.Normal && st.LinkUp:
		return nil
	case st.State == failover.PartnerDown:
		return nil
	case st.State == failover.CommInterrupted:
		return fmt.Errorf("%w: COMMUNICATIONS-INTERRUPTED: the partner may be serving this client unseen; "+
			"wait for the link, or declare the partner down (partner-down) if it is gone", ErrPartnerCannotLearn)
	default:
		return fmt.Errorf("%w: failover state %s (link up %v): only NORMAL with the link up or PARTNER-DOWN", ErrPartnerCannotLearn, st.State, st.LinkUp)
	}
}

// PartnerHas reports whether the partner acknowledged our record seq (its
// acks are cumulative).
func (p *Pair) PartnerHas(seq uint64) bool { return seq > 0 && p.ackedSeq.Load() >= seq }
