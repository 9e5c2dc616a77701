package config

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/sync/failover"
)

// Defaults of the vrrp: and failover: sections, as the README's
// configuration reference gives them.
const (
	defaultAdvertInterval = time.Second
	defaultGARPRepeat     = 3
	defaultGARPInterval   = 100 * time.Millisecond

	defaultMCLT             = time.Hour
	defaultMaxResponseDelay = 3 * time.Second
	defaultMaxUnacked       = 1000
	defaultSplit            = 128
	defaultLBMaxSeconds     = 3
	defaultStandbyShare     = 0.10
	defaultAutoPartnerDown  = 60 * time.Second
)

// Validate checks the whole configuration without touching the host and
// returns every problem at once (errors.Join of *ConfigError), each naming
// its key path. It is Build without the result: one code path reads every
// key. Checks that need the host (does the interface exist?) run in the
// agent with the same key naming.
func (c *Config) Validate() error {
	_, err := Build(c)
	return err
}

// Build validates c and turns it into the parts' typed configs. Every key
// is parsed here and only here; the result is meaningful only when the
// error is nil.
func Build(c *Config) (*Built, error) {
	var v validator
	b := &Built{File: c}
	c.validateNode(&v)
	b.VRRP = c.vrrpSpecs(&v)
	b.DHCP = c.dhcpConfig(&v)
	b.Failover = c.failoverSpec(&v)
	b.API = c.apiSpec(&v)
	if c.DHCP == nil && len(c.VRRP.Instances) == 0 {
		v.add("config", "nothing to run: no vrrp instances and no dhcp section")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return b, nil
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

// vrrpSpecs checks the vrrp: section and builds the typed instances.
func (c *Config) vrrpSpecs(v *validator) []VRRPSpec {
	var specs []VRRPSpec
	names := map[string]bool{}
	for i, in := range c.VRRP.Instances {
		k := fmt.Sprintf("vrrp.instances[%d]", i)
		s := VRRPSpec{
			Name: in.Name, Interface: in.Interface, AdvertInterval: in.AdvertInterval,
			Preempt: in.Preempt == nil || *in.Preempt, PreemptDelay: in.PreemptDelay,
			GARP: GARPSpec{Repeat: in.GARP.Repeat, Interval: in.GARP.Interval, Refresh: in.GARP.Refresh},
		}
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
		s.VRID, s.Priority = uint8(in.VRID), uint8(in.Priority)
		// RFC 5798 §5.2.7: 12 bits of centiseconds.
		if in.AdvertInterval != 0 && (in.AdvertInterval < 10*time.Millisecond || in.AdvertInterval > 40950*time.Millisecond) {
			v.add(k+".advert_interval", "%s is outside 10ms..40.95s", in.AdvertInterval)
		} else if in.AdvertInterval%(10*time.Millisecond) != 0 {
			v.add(k+".advert_interval", "%s is not a whole number of centiseconds", in.AdvertInterval)
		}
		if s.AdvertInterval == 0 {
			s.AdvertInterval = defaultAdvertInterval
		}
		if in.PreemptDelay < 0 {
			v.add(k+".preempt_delay", "%s is negative", in.PreemptDelay)
		}
		// RFC 5798 §5.2.6: the count of addresses is one octet.
		if len(in.VirtualIPs) == 0 || len(in.VirtualIPs) > 255 {
			v.add(k+".virtual_ips", "%d addresses, want 1..255", len(in.VirtualIPs))
		}
		for j, a := range in.VirtualIPs {
			p, err := netip.ParsePrefix(a)
			if err != nil || !p.Addr().Is4() {
				v.add(fmt.Sprintf("%s.virtual_ips[%d]", k, j), "%q is not an IPv4 address with prefix length (192.0.2.1/24)", a)
				continue
			}
			s.VIPs = append(s.VIPs, p)
		}
		for j, a := range in.UnicastPeers {
			ip, err := netip.ParseAddr(a)
			if err != nil || !ip.Is4() {
				v.add(fmt.Sprintf("%s.unicast_peers[%d]", k, j), "%q is not an IPv4 address", a)
				continue
			}
			s.UnicastPeers = append(s.UnicastPeers, ip)
		}
		if in.VirtualMAC {
			v.add(k+".virtual_mac", "not supported yet")
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
		if s.GARP.Repeat == 0 {
			s.GARP.Repeat = defaultGARPRepeat
		}
		if s.GARP.Interval == 0 {
			s.GARP.Interval = defaultGARPInterval
		}
		// The instance's own interface is tracked first.
		s.Track = slices.Compact(append([]string{in.Interface}, in.TrackInterfaces...))
		specs = append(specs, s)
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
	return specs
}

// failoverSpec checks the failover: section and builds the machine's
// config and the link's settings, with their defaults.
func (c *Config) failoverSpec(v *validator) *FailoverSpec {
	f := c.Failover
	if f == nil {
		return nil
	}
	const k = "failover"
	s := &FailoverSpec{
		Machine:          machineConfig(v, f),
		VRRPInstance:     f.VRRPInstance,
		MaxResponseDelay: f.MaxResponseDelay,
		MaxUnacked:       f.MaxUnackedUpdates,
		Auth:             f.Auth,
		SilenceAfter:     3 * defaultAdvertInterval,
	}
	for _, x := range []struct {
		key, val string
		to       *netip.AddrPort
	}{{"listen", f.Listen, &s.Listen}, {"peer", f.Peer, &s.Peer}} {
		ap, err := netip.ParseAddrPort(x.val)
		if err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
			v.add(k+"."+x.key, "%q is not IPv4ADDRESS:PORT (198.51.100.1:647)", x.val)
			continue
		}
		*x.to = ap
	}
	if f.VRRPInstance == "" {
		v.add(k+".vrrp_instance", "must name the vrrp instance whose mastership decides who serves")
	} else {
		found := false
		for _, in := range c.VRRP.Instances {
			if in.Name == f.VRRPInstance {
				found = true
				if in.AdvertInterval > 0 {
					s.SilenceAfter = 3 * in.AdvertInterval
				}
			}
		}
		if !found {
			v.add(k+".vrrp_instance", "%q is not a vrrp instance", f.VRRPInstance)
		}
	}
	if f.MaxResponseDelay < 0 {
		v.add(k+".max_response_delay", "%s is negative", f.MaxResponseDelay)
	}
	if s.MaxResponseDelay == 0 {
		s.MaxResponseDelay = defaultMaxResponseDelay
	}
	if f.MaxUnackedUpdates < 0 {
		v.add(k+".max_unacked_updates", "%d is negative", f.MaxUnackedUpdates)
	}
	if s.MaxUnacked == 0 {
		s.MaxUnacked = defaultMaxUnacked
	}
	switch {
	case f.Auth.PSKFile == "" && f.Auth.TLS == nil:
		v.add(k+".auth", "needs psk_file or tls: the peer link is always authenticated")
	case f.Auth.PSKFile != "" && f.Auth.TLS != nil:
		v.add(k+".auth", "set psk_file or tls, not both")
	case f.Auth.TLS != nil:
		for _, x := range []struct{ key, val string }{{"cert", f.Auth.TLS.Cert}, {"key", f.Auth.TLS.Key}, {"ca", f.Auth.TLS.CA}} {
			if x.val == "" {
				v.add(k+".auth.tls."+x.key, "must be set")
			}
		}
	}
	if c.DHCP == nil {
		v.add(k, "failover needs a dhcp section to replicate")
	}
	return s
}

// FailoverMachine is the failover state machine's config of the failover:
// section alone, with its defaults (for tests of the parts
// that take one; Build reads the same keys through the same code).
func FailoverMachine(f *FailoverConfig) (failover.Config, error) {
	var v validator
	c := machineConfig(&v, f)
	return c, v.err()
}

// machineConfig reads the keys of the failover machine. load_balance_max_seconds
// 0 reads as the default 3 (an int key cannot tell unset from 0).
func machineConfig(v *validator, f *FailoverConfig) failover.Config {
	const k = "failover"
	c := failover.Config{
		Role: failover.Primary, Mode: failover.HotStandby,
		MCLT: f.MCLT, Split: defaultSplit, LoadBalanceMaxSeconds: f.LoadBalanceMaxSeconds,
		StandbyShare: defaultStandbyShare, AutoPartnerDown: defaultAutoPartnerDown,
	}
	switch f.Role {
	case "primary":
	case "secondary":
		c.Role = failover.Secondary
	default:
		v.add(k+".role", "%q is not primary or secondary", f.Role)
	}
	switch f.Mode {
	case "", "hot-standby":
	case "load-balance":
		c.Mode = failover.LoadBalance
	default:
		v.add(k+".mode", "%q is not hot-standby or load-balance", f.Mode)
	}
	if f.MCLT < 0 || (f.MCLT > 0 && f.MCLT < time.Minute) {
		v.add(k+".mclt", "%s is shorter than 1m", f.MCLT)
	}
	if c.MCLT == 0 {
		c.MCLT = defaultMCLT
	}
	if f.Split != nil {
		if *f.Split < 0 || *f.Split > 256 {
			v.add(k+".split", "%d is outside 0..256", *f.Split)
		}
		c.Split = *f.Split
	}
	if f.LoadBalanceMaxSeconds < 0 || f.LoadBalanceMaxSeconds > 65535 {
		v.add(k+".load_balance_max_seconds", "%d is outside 0..65535", f.LoadBalanceMaxSeconds)
	}
	if c.LoadBalanceMaxSeconds == 0 {
		c.LoadBalanceMaxSeconds = defaultLBMaxSeconds
	}
	if share := strings.TrimSpace(f.StandbyShare); share != "" {
		n, err := strconv.ParseFloat(strings.TrimSuffix(share, "%"), 64)
		if err != nil || !strings.HasSuffix(share, "%") || n < 0 || n > 100 {
			v.add(k+".standby_share", "%q is not a percentage 0%%..100%%", f.StandbyShare)
		} else {
			c.StandbyShare = n / 100
		}
	}
	if f.AutoPartnerDown != nil {
		if *f.AutoPartnerDown < 0 {
			v.add(k+".auto_partner_down", "%s is negative", *f.AutoPartnerDown)
		}
		c.AutoPartnerDown = *f.AutoPartnerDown
	}
	if len(v.errs) == 0 {
		// The machine's own guard; the keys above should have caught it.
		if err := c.Validate(); err != nil {
			v.add(k, "%v", err)
		}
	}
	return c
}
