package agent

import (
	"errors"
	"fmt"
	"net/netip"
)

// Validate checks the whole configuration without touching the host and
// returns every problem at once (errors.Join of *ConfigError), each naming
// its key path. Checks that need the host (does the interface exist?) run in
// Run with the same key naming.
func (c *Config) Validate() error {
	var v validator
	c.validateNode(&v)
	c.validateVRRP(&v)
	c.dhcpConfig(&v)
	c.validateFailover(&v)
	if c.DHCP == nil && len(c.VRRP.Instances) == 0 {
		v.add("config", "nothing to run: no vrrp instances and no dhcp section")
	}
	return v.err()
}

type validator struct{ errs []error }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, &ConfigError{Key: key, Reason: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error { return errors.Join(v.errs...) }

func (c *Config) validateNode(v *validator) {
	switch c.Node.LogFormat {
	case "text", "json":
	default:
		v.add("node.log_format", "%q is not text or json", c.Node.LogFormat)
	}
	switch c.Node.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		v.add("node.log_level", "%q is not debug, info, warn or error", c.Node.LogLevel)
	}
	if c.Node.StateDir == "" {
		v.add("node.state_dir", "must not be empty")
	}
}

func (c *Config) validateVRRP(v *validator) {
	names := map[string]bool{}
	for i, in := range c.VRRP.Instances {
		k := fmt.Sprintf("vrrp.instances[%d]", i)
		if in.Name == "" {
			v.add(k+".name", "must be set")
		} else if names[in.Name] {
			v.add(k+".name", "%q is used by another instance", in.Name)
		}
		names[in.Name] = true
		if in.Interface == "" {
			v.add(k+".interface", "must be set")
		}
		if in.VRID < 1 || in.VRID > 255 {
			v.add(k+".vrid", "%d is outside 1..255", in.VRID)
		}
		if in.Priority < 1 || in.Priority > 255 {
			v.add(k+".priority", "%d is outside 1..254 (255 = address owner)", in.Priority)
		}
		// RFC 5798 §5.2.7: 12 bits of centiseconds.
		if in.AdvertInterval != 0 && (in.AdvertInterval < 10e6 || in.AdvertInterval > 40950e6) {
			v.add(k+".advert_interval", "%s is outside 10ms..40.95s", in.AdvertInterval)
		} else if in.AdvertInterval%10e6 != 0 {
			v.add(k+".advert_interval", "%s is not a whole number of centiseconds", in.AdvertInterval)
		}
		if in.PreemptDelay < 0 {
			v.add(k+".preempt_delay", "%s is negative", in.PreemptDelay)
		}
		if len(in.VirtualIPs) == 0 {
			v.add(k+".virtual_ips", "needs at least one address")
		}
		for j, s := range in.VirtualIPs {
			p, err := netip.ParsePrefix(s)
			if err != nil || !p.Addr().Is4() {
				v.add(fmt.Sprintf("%s.virtual_ips[%d]", k, j), "%q is not an IPv4 address with prefix length (192.0.2.1/24)", s)
			}
		}
		for j, s := range in.UnicastPeers {
			if a, err := netip.ParseAddr(s); err != nil || !a.Is4() {
				v.add(fmt.Sprintf("%s.unicast_peers[%d]", k, j), "%q is not an IPv4 address", s)
			}
		}
		if in.GARP.Repeat < 0 {
			v.add(k+".garp.repeat", "%d is negative", in.GARP.Repeat)
		}
		if in.GARP.Interval < 0 {
			v.add(k+".garp.interval", "%s is negative", in.GARP.Interval)
		}
		if in.GARP.Refresh < 0 {
			v.add(k+".garp.refresh", "%s is negative", in.GARP.Refresh)
		}
	}
	vrids := map[string]int{}
	for i, in := range c.VRRP.Instances {
		id := fmt.Sprintf("%s/%d", in.Interface, in.VRID)
		if j, dup := vrids[id]; dup {
			v.add(fmt.Sprintf("vrrp.instances[%d].vrid", i), "%d on %s is also used by vrrp.instances[%d]", in.VRID, in.Interface, j)
		}
		vrids[id] = i
	}
	for i, g := range c.VRRP.SyncGroups {
		k := fmt.Sprintf("vrrp.sync_groups[%d]", i)
		if g.Name == "" {
			v.add(k+".name", "must be set")
		}
		if len(g.Instances) == 0 {
			v.add(k+".instances", "needs at least one instance")
		}
		for j, n := range g.Instances {
			if !names[n] {
				v.add(fmt.Sprintf("%s.instances[%d]", k, j), "%q is not a vrrp instance", n)
			}
		}
	}
}
