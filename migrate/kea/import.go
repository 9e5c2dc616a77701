package kea

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	dhcpscope "github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// Format reads a Kea DHCPv4 config (kea-dhcp4.conf with its <?include?>s)
// and memfile lease CSV, for migrate.Convert and migrate.Job.
func Format() migrate.Format {
	return migrate.Format{
		Name: "kea",
		ParseConfig: func(name string, data []byte, fs migrate.FS) (*migrate.Result, error) {
			return ParseConfig(name, data, fs.ReadFile)
		},
		ParseLeases: ParseLeases,
	}
}

// peerPort is where hadhcpd's peer link listens when the Kea HA URL's
// port (Kea's HTTP control channel) cannot be reused.
const peerPort = 647

// vendorSpace is Kea's space for option 43's sub-options when nothing
// else is said (Kea ARM "DHCPv4 Vendor-Specific Options").
const vendorSpace = "vendor-encapsulated-options-space"

type conv struct {
	rep  *migrate.Report
	cfg  *config.Config
	defs map[string]optDef // by "space/name"; the packet's own options under "dhcp4/"
	// encap: option key -> the key of the space it carries (option 43
	// carries vendorSpace unless a definition says otherwise).
	encap   map[string]string
	vivso   map[string]uint32 // space key of a vendor-N space -> N
	global  *scopeOpts
	haNames []string
	// Global reservations, placed at the end (into the subnet of their
	// address, or every subnet), when reservations-global is on.
	globalRes  []*Value
	resGlobal  bool
	onlyIfReq  map[string]migrate.Pos // classes with only-if-required and parameters
	subnetRefs []*config.SubnetConfig
	classPos   []migrate.Pos // of each of cfg.DHCP.ClientClasses
	subAuth    []subnetAuth
}

// optDef is an option-def converted by the importers' shared table.
type optDef struct {
	def migrate.Definition
}

// scopeOpts is what one scope's option-data says: options and
// sub-options of spaces.
type scopeOpts struct {
	opts map[string]any
	sub  map[string]map[string]any
	// carriers: option keys given with no data (Kea sends them filled
	// with their space's options).
	carry []string
}

// ParseConfig maps the Dhcp4 object. It stops only at JSON that cannot
// be read; every other problem of the source is in the report, with its
// file and line, and reading goes on.
func ParseConfig(name string, data []byte, load func(string) ([]byte, error)) (*migrate.Result, error) {
	root, err := ParseJSON(name, data, load)
	if err != nil {
		return nil, err
	}
	d4 := root.Get("Dhcp4")
	if d4 == nil || d4.Kind != Obj {
		return nil, migrate.Errorf(root.Pos, "no \"Dhcp4\" object")
	}
	c := &conv{rep: &migrate.Report{}, cfg: &config.Config{DHCP: &config.DHCPConfig{}}, defs: map[string]optDef{},
		encap: map[string]string{"vendor_specific": migrate.SpaceKey(vendorSpace)}, vivso: map[string]uint32{}, onlyIfReq: map[string]migrate.Pos{}}
	for _, m := range root.Obj {
		if m.Key != "Dhcp4" {
			c.rep.Drop(m.Pos, m.Key, "another Kea server's section")
		}
	}
	c.global = &scopeOpts{}
	if od := d4.Get("option-def"); od != nil {
		c.optionDefs(od)
	}
	// The HA hook first: its peers name the HA_ classes the pools use.
	if h := d4.Get("hooks-libraries"); h != nil {
		if err := c.hooks(h); err != nil {
			c.rep.Error(h.Pos, "hooks-libraries", err)
		}
	}
	if v := d4.Get("reservations-global"); v != nil && v.Kind == Bool {
		c.resGlobal = v.Bool
	}
	if v := d4.Get("reservation-mode"); v != nil && str(v) == "global" {
		c.resGlobal = true
	}
	d := c.cfg.DHCP
	// What the subnets' mapping reads, before them: the global options
	// (sub-options their option 43 inherits) and authoritative (a
	// subnet's own must agree with it).
	if v := d4.Get("option-data"); v != nil {
		c.global = c.optionData(v, "dhcp.options")
	}
	if v := d4.Get("authoritative"); v != nil {
		if v.Kind == Bool {
			d.Authoritative = migrate.Ptr(v.Bool)
		} else {
			c.rep.Invalid(v.Pos, "authoritative", "authoritative must be true or false")
		}
	}
	for _, m := range d4.Obj {
		src := m.Key
		switch m.Key {
		case "option-def", "hooks-libraries", "option-data":
		case "authoritative":
			if m.Val.Kind != Bool {
				continue
			}
			if m.Val.Bool {
				c.rep.Map(m.Pos, src, "dhcp.authoritative")
			} else {
				c.rep.MapNote(m.Pos, src, "dhcp.authoritative", authNote)
			}
		case "interfaces-config":
			c.interfaces(m.Val)
		case "subnet4":
			c.subnets(m.Val, nil, "dhcp.subnets", &d.Subnets, nil)
		case "shared-networks":
			if m.Val.Kind != Arr {
				c.rep.Invalid(m.Pos, src, "shared-networks must be a list")
				continue
			}
			for _, sn := range m.Val.Arr {
				c.sharedNetwork(sn)
			}
		case "client-classes":
			c.classes(m.Val)
		case "reservations":
			if m.Val.Kind == Arr {
				c.globalRes = m.Val.Arr
			}
		case "host-reservation-identifiers":
			c.identifiers(m)
		case "decline-probation-period":
			if t, ok := c.secs(m); ok {
				d.DeclineProbation = t
				c.rep.Map(m.Pos, src, "dhcp.decline_probation")
			}
		case "reservations-global", "reservation-mode":
			c.rep.MapNote(m.Pos, src, "dhcp.subnets[].reservations", "global reservations are placed in the subnet of their address")
		case "reservations-in-subnet":
			c.rep.MapNote(m.Pos, src, "dhcp.subnets[].reservations", "the subnets' reservations are used (a subnet's own setting says otherwise)")
		default:
			if !c.common(m, "dhcp", &d.NextServer, &d.ServerName, &d.BootFile, nil) {
				c.other(m, "Dhcp4")
			}
		}
	}
	c.globalTimes(d4)
	d.Options = c.finishOpts(c.global, "dhcp")
	c.placeGlobalReservations()
	c.loadBalance()
	c.precedence()
	c.checkClasses()
	for name, pos := range c.onlyIfReq {
		c.rep.Unsupported(pos, "client class "+name+" only-if-required", "Kea evaluates it only for the subnets and pools that require it; hadhcpd evaluates every class for every client, so its parameters reach clients elsewhere too")
	}
	// Kea's authoritative defaults to false (Kea ARM "Authoritative
	// DHCPv4 Server Behavior"): it then ignores a REQUEST for an address
	// it has no record of from an unknown client (INIT-REBOOT), which is
	// hadhcpd's authoritative: false.
	if d.Authoritative == nil {
		d.Authoritative = migrate.Ptr(false)
		c.rep.Invent("dhcp.authoritative", "false", "no \"authoritative\" and Kea's default is false: "+authNote)
	}
	c.finishAuth()
	// Without libdhcp_bootp.so Kea drops a request without a message
	// type (option 53): BOOTP (Kea ARM "libdhcp_bootp.so").
	if d.BOOTP == "" {
		d.BOOTP = "off"
		c.rep.Invent("dhcp.bootp", "off", "no libdhcp_bootp.so: Kea ignores BOOTP requests")
	}
	if d.DefaultLeaseTime == 0 {
		d.DefaultLeaseTime = 7200 * time.Second
		c.rep.Invent("dhcp.default_lease_time", "2h", "Kea's default valid-lifetime")
	}
	// Kea's global min-valid-lifetime and max-valid-lifetime default to
	// its valid-lifetime (set or 7200).
	for _, b := range []struct {
		dst  *time.Duration
		k, w string
	}{{&d.MinLeaseTime, "min_lease_time", "min"}, {&d.MaxLeaseTime, "max_lease_time", "max"}} {
		if *b.dst != 0 {
			continue
		}
		*b.dst = d.DefaultLeaseTime
		if v := d4.Get("valid-lifetime"); v != nil {
			c.rep.MapNote(v.Pos, "valid-lifetime (as "+b.w+"-valid-lifetime)", "dhcp."+b.k, boundsNote)
		} else {
			c.rep.Invent("dhcp."+b.k, migrate.FormatDuration(*b.dst), "Kea's default valid-lifetime: "+boundsNote)
		}
	}
	migrate.Sanitize(c.cfg, c.rep)
	return &migrate.Result{Config: c.cfg, Report: c.rep}, nil
}

const authNote = "Kea with authoritative false ignores a request for an address it has no record of; hadhcpd's authoritative: false answers with silence there too (RFC 2131 §4.3.2) and NAKs a client it has a record of that asks for the wrong address"

// globalTimes maps the global lease times and T1/T2.
func (c *conv) globalTimes(d4 *Value) {
	d := c.cfg.DHCP
	for _, m := range d4.Obj {
		var dst *time.Duration
		switch m.Key {
		case "valid-lifetime":
			dst = &d.DefaultLeaseTime
		case "min-valid-lifetime":
			dst = &d.MinLeaseTime
		case "max-valid-lifetime":
			dst = &d.MaxLeaseTime
		case "renew-timer":
			dst = &d.RenewTime
		case "rebind-timer":
			dst = &d.RebindTime
		default:
			continue
		}
		if t, ok := c.secs(m); ok {
			*dst = t
		}
	}
}

func (c *conv) secs(m Member) (time.Duration, bool) {
	n, err := strconv.ParseUint(m.Val.Str, 10, 32)
	if m.Val.Kind != Num || err != nil {
		c.rep.Invalid(m.Pos, m.Key, fmt.Sprintf("%q is not a number of seconds", m.Val.Str))
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

func str(v *Value) string {
	if v == nil || v.Kind != Str {
		return ""
	}
	return v.Str
}

var timeKeys = map[string]string{"valid-lifetime": "default_lease_time", "min-valid-lifetime": "min_lease_time", "max-valid-lifetime": "max_lease_time", "renew-timer": "renew_time", "rebind-timer": "rebind_time"}

// times holds a scope's optional lease times and T1/T2.
type times struct{ def, max, min, renew, rebind **time.Duration }

const boundsNote = "Kea's min-valid-lifetime and max-valid-lifetime default to the valid-lifetime of the same level: it ignores a client's requested lease time beyond them"

// complete fills a level's lease times as Kea reads the valid-lifetime
// triplet of a shared network, subnet or class: one of them set makes
// the level's own triplet, whole (its absent bounds are not inherited);
// an absent min or max is valid-lifetime, an absent valid-lifetime is
// min-valid-lifetime, else max-valid-lifetime. Written out whole, the
// level's three replace the outer level's, as Kea's triplet does. lv is
// the level's object in the source.
func (tm times) complete(c *conv, key string, lv *Value) {
	def, lo, hi := *tm.def, *tm.min, *tm.max
	if def == nil && lo == nil && hi == nil {
		return
	}
	fill := func(dst **time.Duration, v *time.Duration, as, from string) {
		if *dst != nil {
			return
		}
		t := *v
		*dst = &t
		pos := lv.Pos
		if m := lv.Get(from); m != nil {
			pos = m.Pos
		}
		c.rep.MapNote(pos, from+" (as "+as+")", key+"."+timeKeys[as], boundsNote)
	}
	src := "valid-lifetime"
	switch {
	case def != nil:
	case lo != nil:
		src = "min-valid-lifetime"
		fill(tm.def, lo, "valid-lifetime", src)
	default:
		src = "max-valid-lifetime"
		fill(tm.def, hi, "valid-lifetime", src)
	}
	fill(tm.min, *tm.def, "min-valid-lifetime", src)
	fill(tm.max, *tm.def, "max-valid-lifetime", src)
}

// common handles the keys every level shares: lease times and T1/T2
// (through tm; nil at the global level, see globalTimes), the boot
// fields, and the settings hadhcpd needs none of. It reports whether it
// took m.
func (c *conv) common(m Member, key string, next, sname, file *string, tm *times) bool {
	switch m.Key {
	case "valid-lifetime", "min-valid-lifetime", "max-valid-lifetime", "renew-timer", "rebind-timer":
		if tm != nil {
			t, ok := c.secs(m)
			if !ok {
				return true
			}
			*map[string]**time.Duration{"valid-lifetime": tm.def, "max-valid-lifetime": tm.max, "min-valid-lifetime": tm.min, "renew-timer": tm.renew, "rebind-timer": tm.rebind}[m.Key] = &t
		}
		c.rep.Map(m.Pos, m.Key, key+"."+timeKeys[m.Key])
	case "next-server":
		a, err := netip.ParseAddr(str(m.Val))
		if err != nil || !a.Is4() {
			c.rep.Invalid(m.Pos, m.Key+" "+str(m.Val), "not an IPv4 address (hadhcpd does no DNS lookups: write the address)")
			return true
		}
		if a.IsUnspecified() {
			c.rep.MapNote(m.Pos, m.Key+" "+str(m.Val), key+".next_server", "0.0.0.0 is Kea's \"none\"")
			return true
		}
		*next = a.String()
		c.rep.Map(m.Pos, m.Key+" "+str(m.Val), key+".next_server")
	case "server-hostname":
		if len(str(m.Val)) > 63 {
			c.rep.Invalid(m.Pos, m.Key, "longer than the 64-byte sname field")
			return true
		}
		*sname = str(m.Val)
		c.rep.Map(m.Pos, m.Key+" "+str(m.Val), key+".server_name")
	case "boot-file-name":
		if len(str(m.Val)) > 127 {
			c.rep.Invalid(m.Pos, m.Key, "longer than the 128-byte file field")
			return true
		}
		*file = str(m.Val)
		c.rep.Map(m.Pos, m.Key+" "+str(m.Val), key+".boot_file")
	case "calculate-tee-times", "t1-percent", "t2-percent":
		c.teeTimes(m)
	case "match-client-id":
		if m.Val.Kind == Bool && !m.Val.Bool {
			c.rep.Unsupported(m.Pos, m.Key+" false", "hadhcpd always tells clients apart by client identifier when they send one")
		} else {
			c.rep.Drop(m.Pos, m.Key, "hadhcpd matches clients by client identifier, as Kea's default")
		}
	case "lease-database", "control-socket", "control-sockets", "loggers", "multi-threading", "sanity-checks", "expired-leases-processing",
		"dhcp-queue-control", "server-tag", "dhcp-ddns", "hosts-database", "hosts-databases", "statistic-default-sample-count",
		"statistic-default-sample-age", "reservations-out-of-pool", "echo-client-id", "dhcp4o6-port", "compatibility",
		"cache-threshold", "cache-max-age", "parked-packet-limit", "store-extended-info", "early-global-reservations-lookup",
		"ip-reservations-unique", "reservations-lookup-first", "lease-checks", "user-context", "comment", "id", "pool-id",
		"allocator", "pd-allocator", "hostname-char-set", "hostname-char-replacement", "4o6-interface", "4o6-interface-id",
		"4o6-subnet", "offer-lifetime", "stash-agent-options", "always-send", "ddns-send-updates", "ddns-override-no-update",
		"ddns-override-client-update", "ddns-replace-client-name", "ddns-generated-prefix", "ddns-qualifying-suffix",
		"ddns-update-on-renew", "ddns-use-conflict-resolution", "ddns-conflict-resolution-mode", "ddns-ttl-percent", "ddns-ttl", "ddns-ttl-min", "ddns-ttl-max":
		c.rep.Drop(m.Pos, m.Key, "Kea's own server setting; hadhcpd has its own equivalent or needs none")
	default:
		if strings.HasPrefix(m.Key, "ddns-") {
			c.rep.Drop(m.Pos, m.Key, "DDNS setting; hadhcpd does no DNS updates")
			return true
		}
		return false
	}
	return true
}

// teeTimes: Kea DHCPv4 sends T1/T2 only as configured (renew-timer,
// rebind-timer) or computed with calculate-tee-times; hadhcpd's default
// (0.5 and 0.875 of the lease, RFC 2131 §4.4.5) is what calculate-tee-times
// computes with its default percentages.
func (c *conv) teeTimes(m Member) {
	switch {
	case m.Key == "t1-percent" && m.Val.Str == "0.5", m.Key == "t2-percent" && m.Val.Str == "0.875", m.Key == "calculate-tee-times":
		c.rep.Drop(m.Pos, m.Key, "hadhcpd sends T1 = 0.5 and T2 = 0.875 of the lease time unless renew_time/rebind_time say otherwise")
	default:
		c.rep.Unsupported(m.Pos, m.Key+" "+m.Val.Str, "T1/T2 as a share of the lease other than 0.5/0.875: set renew_time/rebind_time")
	}
}

// other reports a key nothing took.
func (c *conv) other(m Member, where string) {
	switch m.Key {
	case "client-class", "client-classes", "require-client-classes", "evaluate-additional-classes":
		c.rep.Unsupported(m.Pos, m.Key, "not supported in "+where)
	case "config-control":
		c.rep.Unsupported(m.Pos, m.Key, "configuration from a database backend: import the database's contents as a file")
	default:
		c.rep.Unsupported(m.Pos, m.Key, fmt.Sprintf("unknown %s parameter %q (skipped)", where, m.Key))
	}
}

func (c *conv) interfaces(v *Value) {
	for _, m := range v.Obj {
		switch m.Key {
		case "interfaces":
			for _, e := range m.Val.Arr {
				name, addr, _ := strings.Cut(str(e), "/")
				if name == "*" || name == "" {
					// FinishNode takes --interface, or says to name them.
					c.rep.Drop(e.Pos, str(e), "hadhcpd serves the interfaces it is given: --interface names them")
					continue
				}
				c.cfg.DHCP.Interfaces = appendUniq(c.cfg.DHCP.Interfaces, name)
				if addr != "" {
					c.rep.MapNote(e.Pos, str(e), "dhcp.interfaces", "the /"+addr+" pin is not carried: hadhcpd opens one socket per interface")
				} else {
					c.rep.Map(e.Pos, str(e), "dhcp.interfaces")
				}
			}
		default:
			c.rep.Drop(m.Pos, "interfaces-config."+m.Key, "hadhcpd's socket handling needs no setting")
		}
	}
}

// identifiers: host-reservation-identifiers, the order Kea looks
// reservations up in.
func (c *conv) identifiers(m Member) {
	for _, e := range m.Val.Arr {
		id := map[string]string{"hw-address": "hw_address", "client-id": "client_id", "circuit-id": "circuit_id", "remote-id": "remote_id"}[str(e)]
		if id == "" {
			c.rep.Drop(e.Pos, "host-reservation-identifiers "+str(e), "hadhcpd has no reservations by "+str(e)+"; reservations by it are reported where they stand")
			continue
		}
		c.cfg.DHCP.ReservationIdentifiers = append(c.cfg.DHCP.ReservationIdentifiers, id)
	}
	c.rep.Map(m.Pos, m.Key, "dhcp.reservation_identifiers")
}

func appendUniq(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}

func (c *conv) sharedNetwork(v *Value) {
	name := str(v.Get("name"))
	key := "dhcp.shared_networks[" + name + "]"
	n := config.SharedNetworkConfig{Name: name}
	c.rep.Map(v.Pos, "shared-network "+name, key)
	var so *scopeOpts
	var allow []string
	var netAuth *bool
	tm := times{&n.DefaultLeaseTime, &n.MaxLeaseTime, &n.MinLeaseTime, &n.RenewTime, &n.RebindTime}
	for _, m := range v.Obj {
		switch m.Key {
		case "name":
		case "option-data":
			so = c.optionData(m.Val, key+".options")
		case "subnet4":
		case "interface":
			c.cfg.DHCP.Interfaces = appendUniq(c.cfg.DHCP.Interfaces, str(m.Val))
			c.rep.Map(m.Pos, "interface "+str(m.Val), "dhcp.interfaces")
		case "relay":
			for _, a := range arr(m.Val.Get("ip-addresses")) {
				n.Relays = append(n.Relays, str(a))
				c.rep.Map(a.Pos, "relay "+str(a), key+".relays")
			}
		case "client-class", "client-classes":
			allow = c.classRestriction(m, key+".subnets[].pools[].allow")
		case "authoritative":
			netAuth = c.scopeAuth(m)
		case "require-client-classes", "evaluate-additional-classes":
			c.rep.MapNote(m.Pos, m.Key, "dhcp.client_classes", "the classes are evaluated for every client (see only-if-required)")
		case "reservations", "reservation-mode", "reservations-global", "reservations-in-subnet":
			c.rep.Drop(m.Pos, m.Key, "reservations are per subnet in hadhcpd")
		default:
			if !c.common(m, key, &n.NextServer, &n.ServerName, &n.BootFile, &tm) {
				c.other(m, "shared-network")
			}
		}
	}
	tm.complete(c, key, v)
	if so == nil {
		so = &scopeOpts{}
	}
	n.Options = c.finishOpts(so, key)
	if sv := v.Get("subnet4"); sv != nil {
		c.subnets(sv, allow, key+".subnets", &n.Subnets, netAuth)
	}

	if len(n.Subnets) == 0 {
		c.rep.Drop(v.Pos, "shared-network "+name, "no subnet with a pool or reservation")
		return
	}
	c.cfg.DHCP.SharedNetworks = append(c.cfg.DHCP.SharedNetworks, n)
}

// classRestriction: a subnet (or shared network) only for a class's
// clients is, in hadhcpd, pools only for them.
func (c *conv) classRestriction(m Member, key string) []string {
	var out []string
	if m.Val.Kind == Arr {
		for _, e := range m.Val.Arr {
			out = append(out, str(e))
		}
	} else {
		out = []string{str(m.Val)}
	}
	for i, n := range out {
		// Kea's built-in classes of clients with and without a
		// reservation.
		out[i] = map[string]string{"KNOWN": "known", "UNKNOWN": "unknown"}[n]
		if out[i] == "" {
			out[i] = n
		}
	}
	c.rep.MapNote(m.Pos, m.Key+" "+strings.Join(out, ","), key, "only the class's clients are served there: each pool allows only them")
	return out
}

// scopeAuth reads a shared network's or subnet's authoritative; hadhcpd's
// is global, taken when every subnet agrees (finishAuth).
func (c *conv) scopeAuth(m Member) *bool {
	if m.Val.Kind != Bool {
		c.rep.Invalid(m.Pos, m.Key, "authoritative must be true or false")
		return nil
	}
	c.rep.MapNote(m.Pos, m.Key+" "+strconv.FormatBool(m.Val.Bool), "dhcp.authoritative", "set per subnet in Kea; hadhcpd's is global, taken when every subnet agrees")
	return migrate.Ptr(m.Val.Bool)
}

type subnetAuth struct {
	key  string
	auth *bool // nil: the global setting
}

// finishAuth sets dhcp.authoritative from the subnets' effective values.
func (c *conv) finishAuth() {
	d := c.cfg.DHCP
	global := d.Authoritative != nil && *d.Authoritative
	var on, off []string
	for _, s := range c.subAuth {
		v := global
		if s.auth != nil {
			v = *s.auth
		}
		if v {
			on = append(on, s.key)
		} else {
			off = append(off, s.key)
		}
	}
	switch {
	case len(on) > 0 && len(off) > 0:
		d.Authoritative = migrate.Ptr(global)
		c.rep.Unsupported(migrate.Pos{}, "authoritative", fmt.Sprintf("Kea is authoritative for %s and not for %s; hadhcpd's setting is global: written %v", strings.Join(on, ", "), strings.Join(off, ", "), global))
	case len(on) > 0 && !global:
		d.Authoritative = migrate.Ptr(true)
		c.rep.MapNote(migrate.Pos{}, "authoritative (every subnet)", "dhcp.authoritative", "every subnet is authoritative")
	case len(off) > 0 && global:
		d.Authoritative = migrate.Ptr(false)
		c.rep.MapNote(migrate.Pos{}, "authoritative false (every subnet)", "dhcp.authoritative", "no subnet is authoritative: "+authNote)
	}
}

func (c *conv) subnets(v *Value, allow []string, base string, out *[]config.SubnetConfig, netAuth *bool) {
	if v.Kind != Arr {
		c.rep.Invalid(v.Pos, "subnet4", "subnet4 must be a list")
		return
	}
	for _, e := range v.Arr {
		p, err := netip.ParsePrefix(str(e.Get("subnet")))
		if err != nil || !p.Addr().Is4() || p.Masked() != p {
			c.rep.Invalid(e.Pos, "subnet "+str(e.Get("subnet")), "not an IPv4 network (192.0.2.0/24)")
			continue
		}
		sc := config.SubnetConfig{Subnet: p.String()}
		k := base + "[" + p.String() + "]"
		c.rep.Map(e.Pos, "subnet "+p.String(), k)
		so := &scopeOpts{}
		subAllow := allow
		resMode := ""
		auth := netAuth
		tm := times{&sc.DefaultLeaseTime, &sc.MaxLeaseTime, &sc.MinLeaseTime, &sc.RenewTime, &sc.RebindTime}
		for _, m := range e.Obj {
			switch m.Key {
			case "subnet", "pools", "reservations":
			case "option-data":
				so = c.optionData(m.Val, k+".options")
			case "interface":
				c.cfg.DHCP.Interfaces = appendUniq(c.cfg.DHCP.Interfaces, str(m.Val))
				c.rep.Map(m.Pos, "interface "+str(m.Val), "dhcp.interfaces")
			case "relay":
				for _, a := range arr(m.Val.Get("ip-addresses")) {
					sc.Relays = append(sc.Relays, str(a))
					c.rep.Map(a.Pos, "relay "+str(a), k+".relays")
				}
			case "client-class", "client-classes":
				subAllow = c.classRestriction(m, k+".pools[].allow")
			case "require-client-classes", "evaluate-additional-classes":
				c.rep.MapNote(m.Pos, m.Key, "dhcp.client_classes", "the classes are evaluated for every client (see only-if-required)")
			case "authoritative":
				auth = c.scopeAuth(m)
			case "reservation-mode":
				resMode = str(m.Val)
				c.rep.MapNote(m.Pos, m.Key+" "+resMode, k+".reservations", "Kea 1.x's reservation-mode")
			case "reservations-in-subnet":
				if m.Val.Kind == Bool && !m.Val.Bool {
					resMode = "disabled"
				}
				c.rep.Map(m.Pos, m.Key, k+".reservations")
			case "reservations-global":
				c.rep.MapNote(m.Pos, m.Key, k+".reservations", "global reservations are placed in the subnet of their address")
			default:
				if !c.common(m, k, &sc.NextServer, &sc.ServerName, &sc.BootFile, &tm) {
					c.other(m, "subnet4")
				}
			}
		}
		tm.complete(c, k, e)
		if pv := e.Get("pools"); pv != nil {
			for _, pe := range pv.Arr {
				c.pool(pe, p, k, subAllow, &sc)
			}
		}
		if rv := e.Get("reservations"); rv != nil {
			if resMode == "disabled" || resMode == "global" {
				c.rep.Drop(rv.Pos, "reservations", "Kea ignores them here (reservation-mode "+resMode+")")
			} else {
				for _, re := range rv.Arr {
					if r, ok := c.reservation(re, k+".reservations[]"); ok {
						sc.Reservations = append(sc.Reservations, r)
					}
				}
			}
		}
		sc.Options = c.finishOpts(so, k)
		if len(sc.Pools) == 0 && len(sc.Reservations) == 0 && !c.resGlobal {
			// check-config wants a pool or a reservation in every subnet.
			c.rep.Drop(e.Pos, "subnet "+p.String(), "no pool and no reservation: hadhcpd needs no declaration for a network it gives no address in (if it is a shared network's link or relay address, list that in the network's relays)")
			continue
		}
		*out = append(*out, sc)
		c.subAuth = append(c.subAuth, subnetAuth{k, auth})
	}
	for i := range *out {
		c.subnetRefs = append(c.subnetRefs, &(*out)[i])
	}
}

func (c *conv) pool(pe *Value, sub netip.Prefix, k string, allow []string, sc *config.SubnetConfig) {
	r, err := poolRange(str(pe.Get("pool")), sub)
	if err != nil {
		c.rep.Invalid(pe.Pos, "pool "+str(pe.Get("pool")), err.Error())
		return
	}
	pc := config.PoolConfig{Range: r, Allow: append([]string(nil), allow...)}
	pk := fmt.Sprintf("%s.pools[%d]", k, len(sc.Pools))
	c.rep.Map(pe.Pos, "pool "+str(pe.Get("pool")), pk)
	for _, pm := range pe.Obj {
		switch pm.Key {
		case "pool", "user-context", "comment", "pool-id":
		case "option-data":
			pc.Options = c.finishOpts(c.optionData(pm.Val, pk+".options"), pk)
		case "client-class", "client-classes":
			cls := c.classRestriction(pm, pk+".allow")
			if len(allow) > 0 {
				// Kea: the client must be in the subnet's class and the
				// pool's; hadhcpd's allow is "any of": only the pool's
				// list can be kept.
				c.rep.Unsupported(pm.Pos, pm.Key, "a class on both the subnet and the pool: hadhcpd's allow list means any of them; the pool's is kept")
			}
			pc.Allow = cls
		case "require-client-classes", "evaluate-additional-classes":
			c.rep.MapNote(pm.Pos, pm.Key, "dhcp.client_classes", "the classes are evaluated for every client (see only-if-required)")
		default:
			c.rep.Unsupported(pm.Pos, "pool "+pm.Key, "unknown pool parameter (skipped)")
		}
	}
	sc.Pools = append(sc.Pools, pc)
}

// poolRange reads "a - b" and "prefix/len" pool forms.
func poolRange(s string, sub netip.Prefix) (string, error) {
	var lo, hi netip.Addr
	if a, b, ok := strings.Cut(s, "-"); ok {
		var err1, err2 error
		lo, err1 = netip.ParseAddr(strings.TrimSpace(a))
		hi, err2 = netip.ParseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil || !lo.Is4() || !hi.Is4() || hi.Less(lo) {
			return "", fmt.Errorf("not FIRST - LAST of IPv4 addresses")
		}
	} else {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil || !p.Addr().Is4() {
			return "", fmt.Errorf("not FIRST - LAST or an IPv4 prefix")
		}
		p = p.Masked()
		lo = p.Addr()
		b := lo.As4()
		n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | (1<<(32-p.Bits()) - 1)
		hi = netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		// Kea never hands out the network and broadcast addresses of
		// the subnet even when a CIDR pool covers them.
		if lo == sub.Addr() {
			lo = lo.Next()
		}
		if sub.Contains(hi) && !sub.Contains(hi.Next()) { // the broadcast address
			hi = hi.Prev()
		}
	}
	if !sub.Contains(lo) || !sub.Contains(hi) {
		return "", fmt.Errorf("not inside subnet %s", sub)
	}
	return lo.String() + "-" + hi.String(), nil
}

// reservation maps one host reservation.
func (c *conv) reservation(v *Value, k string) (config.ReservationConfig, bool) {
	var r config.ReservationConfig
	var ids []string
	so := &scopeOpts{}
	ok := true
	for _, m := range v.Obj {
		switch m.Key {
		case "hw-address":
			// Kea reads one-digit groups (0:11:22:33:44:5).
			mac, err := dhcpscope.ParseHex(str(m.Val))
			if err != nil || len(mac) != 6 {
				c.rep.Invalid(m.Pos, "hw-address "+str(m.Val), "not an Ethernet address")
				ok = false
				continue
			}
			r.HWAddress = net.HardwareAddr(mac).String()
			ids = append(ids, "hw-address")
		case "client-id", "circuit-id", "remote-id":
			val, err := idValue(str(m.Val))
			if err != nil {
				c.rep.Invalid(m.Pos, m.Key+" "+str(m.Val), err.Error())
				ok = false
				continue
			}
			*map[string]*string{"client-id": &r.ClientID, "circuit-id": &r.CircuitID, "remote-id": &r.RemoteID}[m.Key] = val
			ids = append(ids, m.Key)
		case "duid", "flex-id":
			c.rep.Unsupported(m.Pos, m.Key+" "+str(m.Val), "hadhcpd has no reservations by "+m.Key+" (hw_address, client_id, circuit_id, remote_id)")
			ok = false
		case "ip-address":
			a, err := netip.ParseAddr(str(m.Val))
			if err != nil || !a.Is4() {
				c.rep.Invalid(m.Pos, "ip-address "+str(m.Val), "not an IPv4 address")
				ok = false
				continue
			}
			r.IP = a.String()
		case "hostname":
			r.Hostname = str(m.Val)
		case "option-data":
			so = c.optionData(m.Val, k+".options")
		case "client-classes":
			for _, e := range m.Val.Arr {
				r.ClientClasses = append(r.ClientClasses, str(e))
			}
			c.rep.Map(m.Pos, m.Key, k+".client_classes")
		case "next-server", "server-hostname", "boot-file-name":
			c.common(m, k, &r.NextServer, &r.ServerName, &r.BootFile, nil)
		case "user-context", "comment":
		default:
			c.rep.Unsupported(m.Pos, "reservation "+m.Key, "unknown reservation parameter (skipped)")
		}
	}
	if !ok {
		return r, false
	}
	if len(ids) != 1 {
		c.rep.Invalid(v.Pos, "reservation "+r.IP, fmt.Sprintf("%d identifiers (%s): Kea wants exactly one", len(ids), strings.Join(ids, ", ")))
		return r, false
	}
	r.Options = c.finishOpts(so, k)
	c.rep.Map(v.Pos, "reservation "+ids[0]+" "+r.IP, k)
	return r, true
}

// idValue reads Kea's identifier forms: hex with or without separators
// (01:02:0a, 01 02 0a, 01020a, one-digit groups), or 'quoted text'.
func idValue(s string) (string, error) {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return s, nil
	}
	x, err := dhcpscope.ParseHex(strings.TrimSpace(s))
	if err != nil || len(x) == 0 {
		return "", fmt.Errorf("%q is neither hex nor 'quoted text'", s)
	}
	return net.HardwareAddr(x).String(), nil
}

// placeGlobalReservations puts Kea's global reservations (used where
// reservations-global is on) into the subnet of their address, or every
// subnet when they have none.
func (c *conv) placeGlobalReservations() {
	for _, re := range c.globalRes {
		if !c.resGlobal {
			c.rep.Drop(re.Pos, "reservation", "a global reservation Kea does not use: reservations-global is not on")
			continue
		}
		r, ok := c.reservation(re, "dhcp.subnets[].reservations[]")
		if !ok {
			continue
		}
		var into []*config.SubnetConfig
		if r.IP != "" {
			a := netip.MustParseAddr(r.IP)
			for _, s := range c.subnetRefs {
				if netip.MustParsePrefix(s.Subnet).Contains(a) {
					into = append(into, s)
				}
			}
			if len(into) == 0 {
				c.rep.Unsupported(re.Pos, "reservation "+r.IP, "a global reservation whose address is in no subnet")
				continue
			}
		} else {
			into = c.subnetRefs
			c.rep.MapNote(re.Pos, "reservation", "dhcp.subnets[].reservations[]", fmt.Sprintf("a global reservation without address: copied into each of the %d subnets", len(into)))
		}
		for _, s := range into {
			s.Reservations = append(s.Reservations, r)
		}
	}
}
