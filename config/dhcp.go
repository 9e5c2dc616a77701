package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
)

// Defaults of the dhcp section, as the README's configuration reference gives them.
const (
	defaultLeaseTime        = 2 * time.Hour
	defaultMaxLeaseTime     = 4 * time.Hour
	defaultMinLeaseTime     = 5 * time.Minute
	defaultDeclineProbation = time.Hour
	defaultOfferHold        = 10 * time.Second
)

// Bounds of the dhcp section's durations.
const (
	// Lease times: 4s at least. Real configurations go down to 10s
	// (min-lease-time) and lab ones lower; what bounds it here is what the
	// server can serve: the journal stores whole seconds, so T1 < T2 <
	// lease in whole seconds (RFC 2131 §4.4.5) needs 3s, and under 4s a
	// lease would end before a client's first retransmission of a lost
	// REQUEST (RFC 2131 §4.1). Shortness costs only writes: each renewal
	// is a journal record (and, in a pair, a round trip to the partner),
	// 2/L per second per client, and online compaction keeps the journal
	// bounded. Failover never needs a lease to be long: MCLT caps leases
	// from above, never from below. The upper
	// bound is what the lease database can store: it keeps absolute
	// times as 32-bit seconds (until 2106, as the failover protocol
	// carries them) and the potential expiry sent to the partner runs to
	// 1.5 leases ahead, plus up to an hour of clock skew. A year keeps
	// that inside the range until 2104, and a client renews at T1 anyway,
	// so a longer lease only keeps a departed client's address longer.
	minLeaseTime = 4 * time.Second
	maxLeaseTime = 365 * 24 * time.Hour
	// A declined address is stored ABANDONED until its probation ends:
	// bounded like a lease.
	maxDeclineProbation = maxLeaseTime
	// An offer holds its address in memory only; a client that has not
	// requested it within minutes has gone elsewhere.
	maxOfferHold = 5 * time.Minute
	// A probe delays the client's OFFER, which it awaits for about 4 s
	// before it retransmits (RFC 2131 §4.1); an answer on a LAN comes
	// within milliseconds.
	minPingTimeout     = 10 * time.Millisecond
	maxPingTimeout     = 2 * time.Second
	defaultPingTimeout = 500 * time.Millisecond
)

// dhcpConfig checks the dhcp section and builds the engine's typed config
// from it. Problems go to v with their key paths; the result is only
// meaningful when v collected none. vips (every virtual IP with its key)
// must be neither in a pool nor reserved: the box would lease its own
// address to a client.
func (c *Config) dhcpConfig(v *validator, vips []keyedAddr) *scope.Config {
	d := c.DHCP
	if d == nil {
		return nil
	}
	out := &scope.Config{
		Authoritative:    d.Authoritative == nil || *d.Authoritative,
		OfferHold:        durationOr(d.OfferHold, defaultOfferHold),
		DeclineProbation: durationOr(d.DeclineProbation, defaultDeclineProbation),
		PingCheck:        d.PingCheck,
		PingTimeout:      durationOr(d.PingTimeout, defaultPingTimeout),
	}
	if len(d.Interfaces) == 0 {
		v.add("dhcp.interfaces", "needs at least one interface to serve")
	}
	seen := map[string]int{}
	for i, n := range d.Interfaces {
		k := fmt.Sprintf("dhcp.interfaces[%d]", i)
		switch {
		case n == "":
			v.add(k, "must not be empty")
		case len(n) > 15 || strings.ContainsAny(n, "/ \t"):
			v.add(k, "%q is not an interface name", n)
		}
		if j, dup := seen[n]; dup {
			v.add(k, "%q is also dhcp.interfaces[%d]", n, j)
		}
		seen[n] = i
	}
	bound(v, "dhcp.offer_hold", d.OfferHold, 0, maxOfferHold, "")
	if d.PingTimeout != 0 {
		bound(v, "dhcp.ping_timeout", d.PingTimeout, minPingTimeout, maxPingTimeout, "")
	}
	for i, r := range d.TrustedRelays {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			var a netip.Addr
			if a, err = netip.ParseAddr(r); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		switch {
		case err != nil || !p.Addr().Is4():
			v.add(fmt.Sprintf("dhcp.trusted_relays[%d]", i), "%q is not an IPv4 address or network (192.0.2.254, 198.51.100.0/24)", r)
		case p.Masked() != p:
			v.add(fmt.Sprintf("dhcp.trusted_relays[%d]", i), "%s has host bits set (network is %s)", r, p.Masked())
		default:
			out.TrustedRelays = append(out.TrustedRelays, p)
		}
	}
	bound(v, "dhcp.decline_probation", d.DeclineProbation, 0, maxDeclineProbation, "")
	global := leaseTimes(v, "dhcp", d.DefaultLeaseTime, d.MinLeaseTime, d.MaxLeaseTime, scope.LeaseTimes{
		Default: defaultLeaseTime, Min: defaultMinLeaseTime, Max: defaultMaxLeaseTime,
	})
	defs, derrs := scope.NewDefinitions(d.OptionDefinitions)
	for _, e := range derrs {
		v.add("dhcp.option_definitions"+e.Key, "%s", e.Reason)
	}
	v.optDefs = defs
	global = renewTimes(v, "dhcp", nonZero(d.RenewTime), nonZero(d.RebindTime), global)
	gopts := parseOptions(v, "dhcp.options", d.Options)
	dhcpGlobals(v, d, out)
	var classNames classNames
	out.Classes, classNames = classesConfig(v, d.ClientClasses)
	entries := subnetEntries(v, d, global, gopts, out.Boot)
	if len(entries) == 0 {
		v.add("dhcp.subnets", "needs at least one subnet (here or in dhcp.shared_networks)")
	}
	type span struct {
		first, last netip.Addr
		key         string
	}
	var pools []span
	poolNames := map[string]bool{}
	for _, en := range entries {
		k, sc := en.key, en.cfg
		s := &scope.Subnet{}
		p, err := netip.ParsePrefix(sc.Subnet)
		switch {
		case err != nil || !p.Addr().Is4():
			v.add(k+".subnet", "%q is not an IPv4 network (192.0.2.0/24)", sc.Subnet)
		case p.Masked() != p:
			v.add(k+".subnet", "%s has host bits set (network is %s)", sc.Subnet, p.Masked())
		case p.Bits() > 30:
			v.add(k+".subnet", "%s is too small to serve clients (/30 at most)", sc.Subnet)
		default:
			s.Prefix = p
		}
		for j, other := range out.Subnets {
			if s.Prefix.IsValid() && other.Prefix.IsValid() && s.Prefix.Overlaps(other.Prefix) {
				v.add(k+".subnet", "%s overlaps %s.subnet %s", s.Prefix, entries[j].key, other.Prefix)
			}
		}
		s.Times = leaseTimes(v, k, derefDur(sc.DefaultLeaseTime), derefDur(sc.MinLeaseTime), derefDur(sc.MaxLeaseTime), en.times)
		s.Times = renewTimes(v, k, sc.RenewTime, sc.RebindTime, s.Times)
		s.Options = en.opts.Merge(parseOptions(v, k+".options", sc.Options))
		s.Boot = en.boot.Over(bootConfig(v, k, sc.NextServer, sc.ServerName, sc.BootFile))
		inSubnet := func(a netip.Addr) bool {
			return s.Prefix.IsValid() && s.Prefix.Contains(a) && a != s.Prefix.Addr() && a != scope.Broadcast(s.Prefix)
		}
		if len(sc.Pools) == 0 && len(sc.Reservations) == 0 {
			v.add(k+".pools", "a subnet needs a pool or a reservation")
		}
		for j, pc := range sc.Pools {
			pk := fmt.Sprintf("%s.pools[%d].range", k, j)
			first, last, err := parseRange(pc.Range)
			if err != nil {
				v.add(pk, "%v", err)
				continue
			}
			first, last = skipEnds(v, pk, s.Prefix, first, last)
			if s.Prefix.IsValid() && (!inSubnet(first) || !inSubnet(last) || last.Less(first)) {
				v.add(pk, "%s is not inside subnet %s (without its network and broadcast addresses)", pc.Range, s.Prefix)
				continue
			}
			bad := false
			for _, o := range pools {
				if first.Compare(o.last) <= 0 && o.first.Compare(last) <= 0 {
					v.add(pk, "%s overlaps %s", pc.Range, o.key)
					bad = true
				}
			}
			pools = append(pools, span{first, last, pk})
			for _, vip := range vips {
				if first.Compare(vip.addr) <= 0 && vip.addr.Compare(last) <= 0 {
					v.add(vip.key, "%s is inside the pool %s (%s): the box would lease its own virtual IP to a client", vip.addr, pk, pc.Range)
				}
			}
			name := first.String() + "-" + last.String()
			if bad || poolNames[name] {
				continue
			}
			poolNames[name] = true
			s.Pools = append(s.Pools, lease.Pool{Name: name, First: first, Last: last})
			s.PoolRules = append(s.PoolRules, poolRule(v, fmt.Sprintf("%s.pools[%d]", k, j), pc, classNames))
		}
		for j, r := range sc.Relays {
			a, err := netip.ParseAddr(r)
			if err != nil || !a.Is4() {
				v.add(fmt.Sprintf("%s.relays[%d]", k, j), "%q is not an IPv4 address", r)
				continue
			}
			s.Relays = append(s.Relays, a)
		}
		ips, hws, ids := map[netip.Addr]int{}, map[string]int{}, map[string]int{}
		circuits, remotes := map[string]int{}, map[string]int{}
		for j, rc := range sc.Reservations {
			rk := fmt.Sprintf("%s.reservations[%d]", k, j)
			var r scope.Reservation
			reservationIdents(v, rk, rc, &r, circuits, remotes, j)
			if rc.HWAddress != "" {
				hw, err := net.ParseMAC(rc.HWAddress)
				if err != nil || len(hw) != 6 {
					v.add(rk+".hw_address", "%q is not an Ethernet address (00:11:22:33:44:55)", rc.HWAddress)
				} else if o, dup := hws[hw.String()]; dup {
					v.add(rk+".hw_address", "%s is also reserved by %s.reservations[%d]", hw, k, o)
				} else {
					hws[hw.String()] = j
					r.HWAddr = hw
				}
			}
			if rc.ClientID != "" {
				id, err := scope.ParseHex(rc.ClientID)
				if err != nil || len(id) < 2 {
					v.add(rk+".client_id", "%q is not a client identifier in hex (01:00:11:22:33:44:55)", rc.ClientID)
				} else if o, dup := ids[string(id)]; dup {
					v.add(rk+".client_id", "%s is also reserved by %s.reservations[%d]", rc.ClientID, k, o)
				} else {
					ids[string(id)] = j
					r.ClientID = id
				}
			}
			a, err := netip.ParseAddr(rc.IP)
			switch {
			case rc.IP == "":
				// Options, boot fields and classes only.
			case err != nil || !a.Is4():
				v.add(rk+".ip", "%q is not an IPv4 address", rc.IP)
			case s.Prefix.IsValid() && !inSubnet(a):
				v.add(rk+".ip", "%s is not a host address of subnet %s", a, s.Prefix)
			default:
				if o, dup := ips[a]; dup {
					v.add(rk+".ip", "%s is also reserved by %s.reservations[%d]", a, k, o)
				}
				// Inside a pool is fine: the pool never gives it to
				// another client (lease.Pool.Reserved).
				ips[a] = j
				for _, vip := range vips {
					if vip.addr == a {
						v.add(vip.key, "%s is reserved for a client by %s.ip: the box would lease its own virtual IP to it", a, rk)
					}
				}
				r.Addr = a
			}
			if rc.Hostname != "" && !validHostname(rc.Hostname) {
				v.add(rk+".hostname", "%q is not a host name (letters, digits, '-', '.')", rc.Hostname)
			}
			r.Hostname = rc.Hostname
			r.Options = parseOptions(v, rk+".options", rc.Options)
			r.Boot = bootConfig(v, rk, rc.NextServer, rc.ServerName, rc.BootFile)
			r.Classes, _ = classSet(v, rk+".client_classes", rc.ClientClasses, classNames, false)
			s.Reservations = append(s.Reservations, r)
		}
		s.IndexReservations()
		out.Subnets = append(out.Subnets, s)
	}
	linkShared(out.Subnets, entries)
	return out
}

func derefDur(d *time.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return *d
}

// leaseTimes applies defaults (zero = inherit) and checks min <= default <= max.
func leaseTimes(v *validator, k string, def, lo, hi time.Duration, inherit scope.LeaseTimes) scope.LeaseTimes {
	t := inherit
	for _, x := range []struct {
		key string
		d   time.Duration
		to  *time.Duration
	}{{"default_lease_time", def, &t.Default}, {"min_lease_time", lo, &t.Min}, {"max_lease_time", hi, &t.Max}} {
		switch {
		case x.d < 0:
			v.add(k+"."+x.key, "%s is negative", x.d)
		case x.d > 0 && outside(x.d, minLeaseTime, maxLeaseTime):
			v.add(k+"."+x.key, "%s is outside %s..%s", short(x.d), short(minLeaseTime), short(maxLeaseTime))
		case x.d > 0 && x.d%time.Second != 0:
			v.add(k+"."+x.key, "%s is not a whole number of seconds", x.d)
		case x.d > 0:
			*x.to = x.d
		}
	}
	// An inherited bound the user's own value crosses moves with it, so
	// that setting only default_lease_time: 8h is not an error.
	if def > 0 && hi == 0 && t.Max < t.Default {
		t.Max = t.Default
	}
	if def > 0 && lo == 0 && t.Min > t.Default {
		t.Min = t.Default
	}
	if t.Min > t.Default {
		v.add(k+".min_lease_time", "%s is longer than the default lease time %s", t.Min, t.Default)
	}
	if t.Default > t.Max {
		v.add(k+".max_lease_time", "%s is shorter than the default lease time %s", t.Max, t.Default)
	}
	return t
}

func parseOptions(v *validator, k string, m map[string]any) scope.Options {
	opts, errs := v.optDefs.Parse(m)
	for _, e := range errs {
		v.add(k+"."+e.Key, "%s", e.Reason)
	}
	return opts
}

// parseRange reads "192.0.2.100-192.0.2.200".
func parseRange(s string) (netip.Addr, netip.Addr, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return netip.Addr{}, netip.Addr{}, fmt.Errorf("%q is not FIRST-LAST (192.0.2.100-192.0.2.200)", s)
	}
	first, err1 := netip.ParseAddr(strings.TrimSpace(a))
	last, err2 := netip.ParseAddr(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || !first.Is4() || !last.Is4() {
		return netip.Addr{}, netip.Addr{}, fmt.Errorf("%q is not FIRST-LAST of IPv4 addresses", s)
	}
	if last.Less(first) {
		return netip.Addr{}, netip.Addr{}, fmt.Errorf("%s ends before it starts", s)
	}
	return first, last, nil
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return true
}
