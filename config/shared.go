package config

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
)

// SharedNetworkConfig is one of dhcp.shared_networks[]: subnets on one
// link or behind one relay (ISC dhcpd's shared-network, Kea's
// shared-networks). Its options and times sit between the global ones
// and its subnets'.
type SharedNetworkConfig struct {
	Name    string         `mapstructure:"name"`
	Relays  []string       `mapstructure:"relays"`
	Options map[string]any `mapstructure:"options"`
	// Subnets have the schema of dhcp.subnets[]; a subnet is either here
	// or there.
	Subnets          []SubnetConfig `mapstructure:"subnets"`
	DefaultLeaseTime *time.Duration `mapstructure:"default_lease_time"`
	MaxLeaseTime     *time.Duration `mapstructure:"max_lease_time"`
	MinLeaseTime     *time.Duration `mapstructure:"min_lease_time"`
	RenewTime        *time.Duration `mapstructure:"renew_time"`
	RebindTime       *time.Duration `mapstructure:"rebind_time"`

	NextServer string `mapstructure:"next_server"`
	ServerName string `mapstructure:"server_name"`
	BootFile   string `mapstructure:"boot_file"`
}

// subnetEntry is one subnet of the file, from dhcp.subnets[] or from a
// shared network, with what it inherits.
type subnetEntry struct {
	key   string // dhcp.subnets[1], dhcp.shared_networks[0].subnets[2]
	cfg   SubnetConfig
	times scope.LeaseTimes // the global ones, or its shared network's
	opts  scope.Options
	boot  scope.Boot           // the global boot fields, or its shared network's over them
	net   *scope.SharedNetwork // nil: not in a shared network
}

// subnetEntries lists every subnet of d: those of the shared networks
// first (in file order), then dhcp.subnets. Each shared network's own
// keys are checked here.
func subnetEntries(v *validator, d *DHCPConfig, global scope.LeaseTimes, gopts scope.Options, gboot scope.Boot) []subnetEntry {
	var out []subnetEntry
	names := map[string]int{}
	for i, nc := range d.SharedNetworks {
		k := fmt.Sprintf("dhcp.shared_networks[%d]", i)
		n := &scope.SharedNetwork{Name: nc.Name}
		switch j, dup := names[nc.Name]; {
		case nc.Name == "":
			v.add(k+".name", "a shared network needs a name")
		case dup:
			v.add(k+".name", "%q is also dhcp.shared_networks[%d].name", nc.Name, j)
		}
		names[nc.Name] = i
		if len(nc.Subnets) == 0 {
			v.add(k+".subnets", "a shared network needs at least one subnet")
		}
		for j, r := range nc.Relays {
			a, err := netip.ParseAddr(r)
			if err != nil || !a.Is4() {
				v.add(fmt.Sprintf("%s.relays[%d]", k, j), "%q is not an IPv4 address", r)
				continue
			}
			n.Relays = append(n.Relays, a)
		}
		t := leaseTimes(v, k, derefDur(nc.DefaultLeaseTime), derefDur(nc.MinLeaseTime), derefDur(nc.MaxLeaseTime), global)
		t = renewTimes(v, k, nc.RenewTime, nc.RebindTime, t)
		opts := gopts.Merge(parseOptions(v, k+".options", nc.Options))
		boot := gboot.Over(bootConfig(v, k, nc.NextServer, nc.ServerName, nc.BootFile))
		for j, sc := range nc.Subnets {
			out = append(out, subnetEntry{key: fmt.Sprintf("%s.subnets[%d]", k, j), cfg: sc, times: t, opts: opts, boot: boot, net: n})
		}
	}
	for i, sc := range d.Subnets {
		out = append(out, subnetEntry{key: fmt.Sprintf("dhcp.subnets[%d]", i), cfg: sc, times: global, opts: gopts, boot: gboot})
	}
	return out
}

// linkShared puts each subnet (subs[i] built from entries[i]) into its
// shared network: the network's relays serve each of its subnets (the
// first in config order is where such a request starts).
func linkShared(subs []*scope.Subnet, entries []subnetEntry) {
	for i, en := range entries {
		if en.net == nil || i >= len(subs) {
			continue
		}
		s := subs[i]
		en.net.Subnets = append(en.net.Subnets, s)
		s.Network = en.net
		s.Relays = append(s.Relays, en.net.Relays...)
	}
}

// renewTimes reads renew_time and rebind_time of level k (nil: inherit
// t's): T1 and T2 of RFC 2131 §4.4.5. The engine clamps them to each
// lease it grants (T1 < T2 < lease), so a value longer than a lease is
// served, shortened: check-config says so.
func renewTimes(v *validator, k string, renew, rebind *time.Duration, t scope.LeaseTimes) scope.LeaseTimes {
	for _, x := range []struct {
		key string
		d   *time.Duration
		to  *time.Duration
	}{{"renew_time", renew, &t.Renew}, {"rebind_time", rebind, &t.Rebind}} {
		switch {
		case x.d == nil:
		case *x.d < 0:
			v.add(k+"."+x.key, "%s is negative", *x.d)
		case *x.d > maxLeaseTime:
			v.add(k+"."+x.key, "%s is longer than %s, the longest lease", short(*x.d), short(maxLeaseTime))
		case *x.d%time.Second != 0:
			v.add(k+"."+x.key, "%s is not a whole number of seconds", *x.d)
		default:
			*x.to = *x.d // 0: back to the default ratio
		}
	}
	if t.Renew > 0 && t.Rebind > 0 && t.Renew >= t.Rebind && (renew != nil || rebind != nil) {
		v.add(k+".renew_time", "%s is not shorter than rebind_time %s (RFC 2131 §4.4.5: T1 < T2)", short(t.Renew), short(t.Rebind))
	}
	if renew != nil && t.Renew >= t.Default {
		v.warn(k+".renew_time", "%s is not shorter than the default lease time %s: clients get 0.5 of their lease instead", short(t.Renew), short(t.Default))
	}
	if rebind != nil && t.Rebind >= t.Default {
		v.warn(k+".rebind_time", "%s is not shorter than the default lease time %s: clients get 0.875 of their lease instead", short(t.Rebind), short(t.Default))
	}
	return t
}

func nonZero(d time.Duration) *time.Duration {
	if d == 0 {
		return nil
	}
	return &d
}

// skipEnds drops the network and broadcast addresses of p from the pool
// first-last of key k, with a warning: ISC dhcpd and Kea configurations
// often write a pool as the whole subnet (192.0.2.0-192.0.2.255), and
// neither address may go to a host (RFC 1122 §3.2.1.3; RFC 3021 /31s
// are not served). The two are the subnet's ends, so trimming the range
// skips them.
func skipEnds(v *validator, k string, p netip.Prefix, first, last netip.Addr) (netip.Addr, netip.Addr) {
	if !p.IsValid() || !p.Contains(first) || !p.Contains(last) {
		return first, last
	}
	if first == p.Addr() {
		v.warn(k, "%s is the network address of %s: not given to clients", first, p)
		first = first.Next()
	}
	if b := scope.Broadcast(p); last == b {
		v.warn(k, "%s is the broadcast address of %s: not given to clients", last, p)
		last = last.Prev()
	}
	return first, last
}
