package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
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

// Bounds of the duration keys of the vrrp: and failover: sections (the
// dhcp: section's are in dhcp.go). Nothing here is stored, so the bounds
// keep each value where it still means what its key says; beyond them a
// value is far more likely a wrong unit than a wish.
const (
	// Longer than an hour is preempt: false in effect (keepalived allows
	// at most 1000s).
	maxPreemptDelay = time.Hour
	// The burst after a takeover tells switches and hosts the new master
	// at once; rounds a minute apart are no burst.
	maxGARPInterval = time.Minute
	// A refresh under a second floods the link with ARP; one a day apart
	// refreshes nothing a cache still holds.
	minGARPRefresh = time.Second
	maxGARPRefresh = 24 * time.Hour

	// A box in PARTNER-DOWN waits MCLT before it uses the partner's free
	// addresses, and new leases start at MCLT: past a day that is an
	// outage of the pool, not a safety margin (the default is 1h).
	minMCLT = time.Minute
	maxMCLT = 24 * time.Hour
	// Heartbeats go every 1/24 of it and commits wait a sixth of it for a
	// silent partner's ack: under a second one slow fsync takes the link
	// down; over two minutes a REQUEST may wait past 20s for a dead
	// partner, beyond a client's first retransmissions (ISC and Kea
	// default to 60s).
	minMaxResponseDelay = time.Second
	maxMaxResponseDelay = 2 * time.Minute
	// Both paths silent for over a day is the operator's call
	// (hadhcpd partner-down); 0s turns the automatic one off.
	maxAutoPartnerDown = 24 * time.Hour
)

// outside reports whether d is outside lo..hi.
func outside(d, lo, hi time.Duration) bool { return d < lo || d > hi }

// bound adds an error for key when d is outside lo..hi; note says what
// a special value means.
func bound(v *validator, key string, d, lo, hi time.Duration, note string) {
	switch {
	case !outside(d, lo, hi):
	case d < 0:
		v.add(key, "%s is negative", d)
	default:
		v.add(key, "%s is outside %s..%s%s", short(d), short(lo), short(hi), note)
	}
}

// short writes d as the file would ("24h", "1m30s", not "24h0m0s").
func short(d time.Duration) string {
	s := d.String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok && t != "" {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

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
	var vips []keyedAddr
	b.VRRP, vips = c.vrrpSpecs(&v)
	b.Scripts = c.scriptSpecs(&v)
	b.DHCP = c.dhcpConfig(&v, vips)
	if c.Failover != nil && len(c.Failover.Relationships) > 0 {
		b.Relationships = c.relationshipSpecs(&v) // config/relationships.go
	} else {
		b.Failover = c.failoverSpec(&v)
	}
	c.checkDefaultsFrom(&v) // config/globals.go
	b.API = c.apiSpec(&v)
	if c.DHCP == nil && len(c.VRRP.Instances) == 0 {
		v.add("config", "nothing to run: no vrrp instances and no dhcp section")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	b.Warnings = v.warns
	return b, nil
}

// Warnings returns what c's configuration does that works but may not be
// what its author meant (check-config prints them); nil when c is not
// valid.
func (c *Config) Warnings() []*ConfigError {
	b, err := Build(c)
	if err != nil {
		return nil
	}
	return b.Warnings
}

type validator struct {
	errs  []error
	warns []*ConfigError
	// optDefs are the option names the dhcp section's options maps are
	// parsed with: the standard ones and dhcp.option_definitions.
	optDefs *scope.Definitions
}

// warn notes something that is served, but differently from what the
// file says (check-config prints it; it never stops the server).
func (v *validator) warn(key, format string, args ...any) {
	v.warns = append(v.warns, &ConfigError{Key: key, Reason: fmt.Sprintf(format, args...)})
}

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

// keyedAddr is an address with the key it came from, for checks that
// cross sections.
type keyedAddr struct {
	key  string
	addr netip.Addr
}

// VRRPSpecs is the vrrp instances as far as their keys parse, whether or
// not the whole file validates: what `hadhcpd cleanup` needs to remove the
// virtual IPs an invalid file names (Build gives nothing then).
func (c *Config) VRRPSpecs() []VRRPSpec {
	var v validator
	specs, _ := c.vrrpSpecs(&v)
	return specs
}

// vrrpSpecs checks the vrrp: section and builds the typed instances; vips
// are every virtual IP with its key.
func (c *Config) vrrpSpecs(v *validator) (specs []VRRPSpec, vips []keyedAddr) {
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
		// Clamped, not wrapped: VRRPSpecs hands out what parsed of an
		// invalid file too.
		s.VRID, s.Priority = uint8(min(max(in.VRID, 0), 255)), uint8(min(max(in.Priority, 0), 255))
		// RFC 5798 §5.2.7: 12 bits of centiseconds.
		if in.AdvertInterval != 0 && (in.AdvertInterval < 10*time.Millisecond || in.AdvertInterval > 40950*time.Millisecond) {
			v.add(k+".advert_interval", "%s is outside 10ms..40.95s", in.AdvertInterval)
		} else if in.AdvertInterval%(10*time.Millisecond) != 0 {
			v.add(k+".advert_interval", "%s is not a whole number of centiseconds", in.AdvertInterval)
		}
		if s.AdvertInterval == 0 {
			s.AdvertInterval = defaultAdvertInterval
		}
		bound(v, k+".preempt_delay", in.PreemptDelay, 0, maxPreemptDelay, "")
		// RFC 5798 §5.2.6: the count of addresses is one octet.
		if len(in.VirtualIPs) == 0 || len(in.VirtualIPs) > 255 {
			v.add(k+".virtual_ips", "%d addresses, want 1..255", len(in.VirtualIPs))
		}
		for j, a := range in.VirtualIPs {
			vk := fmt.Sprintf("%s.virtual_ips[%d]", k, j)
			p, err := netip.ParsePrefix(a)
			if err != nil || !p.Addr().Is4() {
				v.add(vk, "%q is not an IPv4 address with prefix length (192.0.2.1/24)", a)
				continue
			}
			s.VIPs = append(s.VIPs, p)
			vips = append(vips, keyedAddr{vk, p.Addr()})
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
		bound(v, k+".garp.interval", in.GARP.Interval, 0, maxGARPInterval, "")
		if in.GARP.Refresh != 0 {
			bound(v, k+".garp.refresh", in.GARP.Refresh, minGARPRefresh, maxGARPRefresh, " (0s = off)")
		}
		if s.GARP.Repeat == 0 {
			s.GARP.Repeat = defaultGARPRepeat
		}
		if s.GARP.Interval == 0 {
			s.GARP.Interval = defaultGARPInterval
		}
		s.Track, s.TrackScripts = in.trackSpecs(v, k, c.VRRP.Scripts)
		s.Notify = in.notifySpec(v, k)
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
	return specs, vips
}

// failoverSpec checks the failover: section and builds the machine's
// config and the link's settings, with their defaults.
func (c *Config) failoverSpec(v *validator) *FailoverSpec {
	if c.Failover == nil {
		return nil
	}
	s := c.failoverSpecAt(v, "failover", c.Failover)
	s.Notify = failoverNotify(v, "failover", c.Failover, nil)
	return s
}

// failoverSpecAt checks the failover keys of f, named under k (the
// failover: section, or one of its relationships with the section's keys
// as defaults), and builds the spec.
func (c *Config) failoverSpecAt(v *validator, k string, f *FailoverConfig) *FailoverSpec {
	s := &FailoverSpec{
		Machine:          machineConfig(v, k, f),
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
	if f.MaxResponseDelay != 0 {
		bound(v, k+".max_response_delay", f.MaxResponseDelay, minMaxResponseDelay, maxMaxResponseDelay, "")
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
	c := machineConfig(&v, "failover", f)
	return c, v.err()
}

// machineConfig reads the keys of the failover machine, named under k.
// load_balance_max_seconds 0 reads as the default 3 (an int key cannot
// tell unset from 0).
func machineConfig(v *validator, k string, f *FailoverConfig) failover.Config {
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
	if f.MCLT != 0 {
		bound(v, k+".mclt", f.MCLT, minMCLT, maxMCLT, "")
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
		bound(v, k+".auto_partner_down", *f.AutoPartnerDown, 0, maxAutoPartnerDown, " (0s = only by operator)")
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
