package agent

import (
	"context"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/hadhcpd/hadhcpd/netcfg"
)

// netProber is the engine's Prober over netcfg: ARP on the receiving
// link for a directly attached client, ICMP echo for a relayed one (RFC
// 2131 §2.2, §4.4.1).
type netProber struct{}

func (netProber) InUse(ctx context.Context, t dhcpd.ProbeTarget) (bool, error) {
	if t.Direct && t.IfIndex > 0 {
		return netcfg.ARPProbe(ctx, t.IfIndex, t.Addr)
	}
	return netcfg.ICMPProbe(ctx, t.Addr)
}

// lossWindowEnd is when every lease that records lost at lostAt could
// hold has expired: lostAt plus the longest lease any subnet grants.
func lossWindowEnd(cfg *scope.Config, lostAt time.Time) time.Time {
	var longest time.Duration
	for _, s := range cfg.Subnets {
		longest = max(longest, s.Times.Max)
	}
	return lostAt.Add(longest)
}
