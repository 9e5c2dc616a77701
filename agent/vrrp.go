package agent

// STUB: owned by the VRRP work (issue 5), which replaces this file. The agent
// (agent.go) calls exactly these; keep the signatures.

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
)

// vrrpPart runs the configured VRRP instances and owns their virtual IPs.
type vrrpPart struct{}

// newVRRP builds the VRRP instances of cfg; it returns nil, nil when cfg has
// none (a DHCP-only box). It touches nothing on the host.
func newVRRP(cfg *Config, log *slog.Logger, reg prometheus.Registerer) (*vrrpPart, error) {
	return nil, nil
}

// Cleanup removes every configured virtual IP from the host (invariant 4:
// done at start before anything else, and by `hadhcpd cleanup` from the
// unit's ExecStopPost).
func (p *vrrpPart) Cleanup() error { return nil }

// Run runs the instances until ctx ends, then leaves gracefully (priority 0
// advert, VIPs removed).
func (p *vrrpPart) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// ServerID returns the virtual IP to use as DHCP server identifier on iface
// (invariant 5), or false when no instance covers that interface.
func (p *vrrpPart) ServerID(iface string) (netip.Addr, bool) { return netip.Addr{}, false }

// Master reports whether the named instance is master now.
func (p *vrrpPart) Master(instance string) bool { return false }
