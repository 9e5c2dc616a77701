package agent

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/netcfg"
)

// probeTimeout bounds one ARP probe of the partner (netcfg.ProbeARP asks
// three times within it): a live box on the same LAN answers in well
// under a millisecond. The probe's context may set a shorter bound (the
// pair's question when the sync link turns quiet).
const probeTimeout = 450 * time.Millisecond

// lanWitness is pair.Witness over netcfg's ARP probe: this box's own
// addresses on dhcp.interfaces (the VIPs excluded), and probes of the
// partner's from the link in their subnet.
type lanWitness struct {
	ifaces []string
	vips   []netip.Addr
}

func newLANWitness(b *config.Built) *lanWitness {
	w := &lanWitness{ifaces: b.File.DHCP.Interfaces}
	for _, s := range b.VRRP {
		for _, v := range s.VIPs {
			w.vips = append(w.vips, v.Addr())
		}
	}
	return w
}

func (w *lanWitness) OwnAddrs() []netip.Addr { return netcfg.OwnAddrs(w.ifaces, w.vips) }

var errNoLink = errors.New("no link with carrier in the address's subnet")

func (w *lanWitness) Probe(ctx context.Context, a netip.Addr) (bool, error) {
	ifn, ok := netcfg.LinkFor(a)
	if !ok {
		return false, errNoLink
	}
	timeout := probeTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	if timeout <= 0 {
		return false, context.DeadlineExceeded
	}
	return netcfg.ProbeARP(ifn, a, timeout)
}
