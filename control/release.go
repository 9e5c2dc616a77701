package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
)

// LeaseWriter changes leases on the operator's behalf: the agent's, which
// runs the engine's release through the replicated commit path after the
// failover state says the partner can learn of it safely.
type LeaseWriter interface {
	// Release ends addr's ACTIVE binding as the client's DHCPRELEASE
	// would; by names the caller for the log and the event stream.
	Release(ctx context.Context, addr netip.Addr, by string) (ReleaseResult, error)
}

// ErrNoLease: the address has no ACTIVE binding to release (404).
var ErrNoLease = errors.New("no active lease for this address")

// ErrLeaseRefused: the release is refused now (409), the reason wrapped
// with it: the partner could not learn of it safely, or a client's
// request is committing the address this moment.
var ErrLeaseRefused = errors.New("lease release refused")

// ReleaseResult is DELETE /v1/leases/{ip}'s answer.
type ReleaseResult struct {
	IP    string `json:"ip"`
	State string `json:"state"` // the binding's state now (RELEASED)
	// PartnerAcked: the partner applied the change durably before this
	// answer (false for a single server, in PARTNER-DOWN, or when the
	// link went down meanwhile: then the record waits in the stream for
	// the partner's return).
	PartnerAcked bool   `json:"partner_acked"`
	Message      string `json:"message"`
}

// deleteLease serves DELETE /v1/leases/{ip}: the operator's release of a
// binding (Kea's lease4-del, OMAPI's lease removal). The client is not
// told (DHCP has no way to): it keeps using the address until it asks
// again, and then is NAKed or given the same address back (the record
// keeps its identity). No body: a cross-site page cannot send a DELETE
// without the browser asking first, and auth refuses pages anyway.
func (a *API) deleteLease(w http.ResponseWriter, r *http.Request) {
	const op = "lease release"
	code, v := a.release(r)
	lvl, msg := slog.LevelInfo, ""
	if e, ok := v.(apiError); ok {
		lvl, msg = slog.LevelWarn, e.Error
	}
	a.Log.Log(r.Context(), lvl, "api write", "op", op, "ip", r.PathValue("ip"), "who", who(r), "remote", r.RemoteAddr, "status", code, "error", msg)
	writeJSON(w, code, v)
}

func (a *API) release(r *http.Request) (int, any) {
	addr, err := netip.ParseAddr(r.PathValue("ip"))
	if err != nil || !addr.Is4() {
		return http.StatusBadRequest, apiError{Error: fmt.Sprintf("%q is not an IPv4 address", r.PathValue("ip"))}
	}
	if a.LeaseWriter == nil {
		return http.StatusConflict, apiError{Error: "lease release: this agent serves no dhcp section"}
	}
	ctx, cancel := context.WithTimeout(r.Context(), opTimeout)
	defer cancel()
	res, err := a.LeaseWriter.Release(ctx, addr, who(r))
	switch {
	case err == nil:
		return http.StatusOK, res
	case errors.Is(err, ErrNoLease):
		return http.StatusNotFound, apiError{Error: fmt.Sprintf("%s: %v", addr, err)}
	default:
		return http.StatusConflict, apiError{Error: fmt.Sprintf("%s: %v", addr, err)}
	}
}
