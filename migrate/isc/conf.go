package isc

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// Format reads ISC dhcpd 3.x/4.x's dhcpd.conf (with its includes) and
// dhcpd.leases, for migrate.Convert and migrate.Job.
func Format() migrate.Format {
	return migrate.Format{
		Name: "isc",
		ParseConfig: func(name string, data []byte, fs migrate.FS) (*migrate.Result, error) {
			return ParseConfig(name, data, fs.ReadFile)
		},
		ParseLeases: ParseLeases,
	}
}

// ISC dhcpd's defaults (dhcpd.conf(5)), written out explicitly because
// hadhcpd's differ.
const (
	iscDefaultLease = 43200 * time.Second
	iscMaxLease     = 86400 * time.Second
	iscFailoverPort = 647
)

// ParseConfig maps one dhcpd.conf onto a Config (without the node-local
// defaults FinishNode adds). load reads included files; nil forbids
// includes.
func ParseConfig(name string, data []byte, load Loader) (*migrate.Result, error) {
	c := &conv{
		rep:  &migrate.Report{},
		cfg:  &config.Config{DHCP: &config.DHCPConfig{Options: map[string]any{}}},
		defs: map[string]optDef{},
	}
	p := newParser(newLexer(name, bytes.NewReader(data)), load)
	var top []*Stmt
	for {
		s, err := p.next()
		if err != nil {
			return nil, err
		}
		if s == nil {
			break
		}
		top = append(top, s)
	}
	if err := c.block(top, &scope{kind: "global"}); err != nil {
		return nil, err
	}
	if err := c.finish(); err != nil {
		return nil, err
	}
	return &migrate.Result{Config: c.cfg, Report: c.rep}, nil
}

type conv struct {
	rep      *migrate.Report
	cfg      *config.Config
	defs     map[string]optDef
	subnets  []*subnet
	hosts    []*host
	ranges   []*prange
	fo       *config.FailoverConfig
	foName   string
	foPos    migrate.Pos
	poolPeer []*Stmt // `failover peer "x";` in pools, checked at the end
	declName bool    // use-host-decl-names on
	authSeen bool

	foAddr, foPeer     netip.Addr
	foPort, foPeerPort int
	foSplit            *int
}

// scope is where a statement stands: global, shared-network, group, subnet,
// pool, host.
type scope struct {
	kind    string
	name    string
	sub     *subnet
	host    *host
	inherit map[string]any // options of an enclosing shared-network or group
	times   [3]*time.Duration
	subs    []*subnet // subnets declared in this shared-network or group
	hosts   []*host
	parent  *scope
}

// block handles the statements of one scope: parameters (options, lease
// times, ...) first, then declarations (subnets, hosts, pools), because
// ISC applies a scope's parameters to every declaration in it wherever
// they stand in the block.
func (c *conv) block(stmts []*Stmt, sc *scope) error {
	for pass := 0; pass < 2; pass++ {
		for _, s := range stmts {
			decl := isDecl(s)
			if decl != (pass == 1) {
				continue
			}
			if err := c.stmt(s, sc); err != nil {
				return err
			}
		}
	}
	return nil
}

func isDecl(s *Stmt) bool {
	switch s.word(0) {
	case "subnet", "shared-network", "host", "group", "pool", "range":
		return true
	}
	return false
}

func (c *conv) stmt(s *Stmt, sc *scope) error {
	w0 := s.word(0)
	if sc.kind == "failover" {
		return c.failoverStmt(s)
	}
	if sc.kind == "host" {
		return c.hostStmt(s, sc)
	}
	switch w0 {
	case "option":
		return c.option(s, sc)
	case "default-lease-time", "max-lease-time", "min-lease-time":
		return c.leaseTime(s, sc)
	case "authoritative":
		return c.authoritative(s, sc, true)
	case "not":
		if s.word(1) == "authoritative" {
			return c.authoritative(s, sc, false)
		}
	case "subnet":
		return c.subnet(s, sc)
	case "shared-network":
		return c.container(s, sc, "shared-network")
	case "group":
		return c.container(s, sc, "group")
	case "host":
		return c.host(s, sc)
	case "pool":
		return c.pool(s, sc)
	case "range":
		return c.rangeStmt(s, sc)
	case "failover":
		return c.failover(s, sc)
	case "allow", "deny", "ignore":
		return c.permit(s, sc)
	case "use-host-decl-names":
		c.declName = len(s.Words) == 1 || s.word(1) == "on" || s.word(1) == "true"
		c.rep.Map(s.Pos, s.String(), "dhcp.subnets[].reservations[].hostname")
		return nil
	}
	if strings.HasPrefix(w0, "ddns-") {
		return c.ddns(s)
	}
	if why, ok := dropped[w0]; ok {
		c.rep.Drop(s.Pos, s.String(), why)
		return nil
	}
	if why, ok := unsupported[w0]; ok {
		c.rep.Unsupported(s.Pos, s.String(), why)
		return nil
	}
	if s.HasBlock && len(s.Words) > 0 && (w0 == "if" || w0 == "elsif" || w0 == "else") {
		c.rep.Unsupported(s.Pos, s.String(), "conditional statements need client classification, which hadhcpd does not have")
		return nil
	}
	return migrate.Errorf(s.Pos, "unknown statement %q", w0)
}

// dropped are statements hadhcpd does not need: its own behaviour covers
// them, or they only configure dhcpd itself.
var dropped = map[string]string{
	"log-facility":              "hadhcpd logs through slog to stderr/journald (node.log_format)",
	"ping-check":                "hadhcpd does not ping before offering; a conflicting client DECLINEs and the address is abandoned",
	"ping-timeout":              "hadhcpd does not ping before offering",
	"ping-timeout-ms":           "hadhcpd does not ping before offering",
	"one-lease-per-client":      "hadhcpd keeps one lease per client",
	"lease-file-name":           "hadhcpd's lease journal lives in node.state_dir",
	"pid-file-name":             "systemd tracks hadhcpd",
	"omapi-port":                "hadhcpd's control API is the unix socket node.control_socket",
	"omapi-key":                 "hadhcpd's control API is the unix socket node.control_socket",
	"key":                       "TSIG keys are for DDNS/OMAPI, which hadhcpd does not do",
	"zone":                      "DNS zones are for DDNS, which hadhcpd does not do",
	"local-port":                "hadhcpd serves on port 67",
	"local-address":             "hadhcpd binds the interfaces in dhcp.interfaces",
	"db-time-format":            "only affects dhcpd's lease file",
	"update-static-leases":      "DDNS, which hadhcpd does not do",
	"get-lease-hostnames":       "hadhcpd does no reverse DNS lookups",
	"stash-agent-options":       "hadhcpd echoes option 82 to relays itself",
	"always-broadcast":          "hadhcpd replies per RFC 2131 §4.1",
	"update-conflict-detection": "DDNS, which hadhcpd does not do",
	"update-optimization":       "DDNS, which hadhcpd does not do",
	"server-duid":               "DHCPv6 only",
	"dhcp-cache-threshold":      "an ISC lease-write optimisation",
	"lease-id-format":           "only affects dhcpd's lease file",
	"server-identifier":         "hadhcpd's server identifier is the VRRP virtual IP so renewals follow the active box",
	"server-name":               "the BOOTP sname field; hadhcpd leaves it empty",
	"authoring-byte-order":      "only affects dhcpd's lease file",
	"abandon-lease-time":        "hadhcpd keeps a declined address for dhcp.decline_probation",
	"infinite-is-reserved":      "hadhcpd grants no infinite leases",
	"boot-unknown-clients":      "hadhcpd serves unknown clients",
	"always-reply-rfc1048":      "hadhcpd answers DHCP, not BOOTP",
	"max-ack-delay":             "an ISC lease-write optimisation",
	"max-ack-delay-ms":          "an ISC lease-write optimisation",
	"delayed-ack":               "an ISC lease-write optimisation; hadhcpd group-commits",
}

// unsupported are statements that change what clients get and that
// hadhcpd cannot express.
var unsupported = map[string]string{
	"class":                            "client classes are not supported",
	"subclass":                         "client classes are not supported",
	"next-server":                      "network boot (siaddr) is not supported",
	"filename":                         "network boot (file field) is not supported",
	"on":                               "event hooks (on commit/expiry/release) are not supported",
	"vendor-option-space":              "option spaces are not supported",
	"site-option-space":                "option spaces are not supported",
	"dynamic-bootp-lease-length":       "dynamic BOOTP is refused (incompatible with failover)",
	"dynamic-bootp-lease-cutoff":       "dynamic BOOTP is refused (incompatible with failover)",
	"min-secs":                         "hadhcpd answers at once",
	"use-lease-addr-for-default-route": "hadhcpd sends the configured routers",
	"match":                            "client classes are not supported",
	"spawn":                            "client classes are not supported",
	"set":                              "variables and expressions are not supported",
	"fixed-address":                    "a fixed address outside a host declaration",
	"hardware":                         "a hardware address outside a host declaration",
}

func (c *conv) ddns(s *Stmt) error {
	w0, w1 := s.word(0), s.word(1)
	if (w0 == "ddns-update-style" && (w1 == "none" || w1 == "ad-hoc")) || (w0 == "ddns-updates" && (w1 == "off" || w1 == "false")) {
		c.rep.Drop(s.Pos, s.String(), "hadhcpd does no DNS updates, and this turns them off")
		return nil
	}
	if w0 == "ddns-update-style" || w0 == "ddns-updates" {
		c.rep.Unsupported(s.Pos, s.String(), "dynamic DNS updates are not supported: hadhcpd updates no DNS zone")
		return nil
	}
	c.rep.Drop(s.Pos, s.String(), "DDNS setting; hadhcpd does no DNS updates")
	return nil
}

// permit handles allow/deny/ignore.
func (c *conv) permit(s *Stmt, sc *scope) error {
	rest := strings.Join(wordsText(s.Words[1:]), " ")
	switch rest {
	case "dynamic bootp clients", "bootp":
		if s.word(0) != "allow" {
			c.rep.MapNote(s.Pos, s.String(), "(built in)", "hadhcpd always refuses BOOTP")
			return nil
		}
		c.rep.Unsupported(s.Pos, s.String(), "BOOTP is refused by hadhcpd (dynamic BOOTP is incompatible with failover)")
		return nil
	case "client-updates":
		if s.word(0) == "allow" {
			c.rep.Unsupported(s.Pos, s.String(), "client DNS updates are a DDNS feature hadhcpd does not have")
		} else {
			c.rep.Drop(s.Pos, s.String(), "DDNS setting; hadhcpd does no DNS updates")
		}
		return nil
	case "unknown-clients", "unknown clients":
		if s.word(0) == "allow" {
			c.rep.MapNote(s.Pos, s.String(), "(built in)", "hadhcpd serves unknown clients")
			return nil
		}
	case "declines", "duplicates", "leasequery", "booting":
		if s.word(0) == "allow" {
			c.rep.MapNote(s.Pos, s.String(), "(built in)", "hadhcpd's default behaviour")
			return nil
		}
	}
	_ = sc
	c.rep.Unsupported(s.Pos, s.String(), "client access control (known/unknown clients, class members) is not supported")
	return nil
}

func wordsText(ts []token) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.str())
	}
	return out
}

func (c *conv) authoritative(s *Stmt, sc *scope, on bool) error {
	if sc.kind == "global" {
		c.cfg.DHCP.Authoritative = migrate.Ptr(on)
		c.authSeen = true
		c.rep.Map(s.Pos, s.String(), "dhcp.authoritative")
		return nil
	}
	global := c.cfg.DHCP.Authoritative != nil && *c.cfg.DHCP.Authoritative
	if on == global {
		c.rep.MapNote(s.Pos, s.String(), "dhcp.authoritative", "same as the global setting")
		return nil
	}
	c.rep.Unsupported(s.Pos, s.String(), "hadhcpd's authoritative setting is global (dhcp.authoritative), not per "+sc.kind)
	return nil
}

// seconds parses an ISC time value.
func seconds(s *Stmt, i int) (time.Duration, error) {
	n, err := strconv.ParseUint(s.word(i), 10, 32)
	if err != nil || len(s.Words) != i+1 {
		return 0, migrate.Errorf(s.Pos, "%s: %q is not a number of seconds", s.word(0), s.word(i))
	}
	return time.Duration(n) * time.Second, nil
}

func (c *conv) leaseTime(s *Stmt, sc *scope) error {
	d, err := seconds(s, 1)
	if err != nil {
		return err
	}
	i := map[string]int{"default-lease-time": 0, "max-lease-time": 1, "min-lease-time": 2}[s.word(0)]
	key := strings.ReplaceAll(s.word(0), "-", "_")
	switch sc.kind {
	case "global":
		*[]*time.Duration{&c.cfg.DHCP.DefaultLeaseTime, &c.cfg.DHCP.MaxLeaseTime, &c.cfg.DHCP.MinLeaseTime}[i] = d
		c.rep.Map(s.Pos, s.String(), "dhcp."+key)
	case "subnet":
		*[]**time.Duration{&sc.sub.cfg.DefaultLeaseTime, &sc.sub.cfg.MaxLeaseTime, &sc.sub.cfg.MinLeaseTime}[i] = &d
		c.rep.Map(s.Pos, s.String(), fmt.Sprintf("dhcp.subnets[%s].%s", sc.sub.cfg.Subnet, key))
	case "shared-network":
		sc.times[i] = &d
		c.rep.MapNote(s.Pos, s.String(), "dhcp.subnets[]."+key, "applied to each subnet of shared-network "+sc.name)
	default:
		c.rep.Unsupported(s.Pos, s.String(), "lease times can be set globally or per subnet, not per "+sc.kind)
	}
	return nil
}

// finish places ranges and hosts into their subnets and fills the defaults
// where ISC's differ from hadhcpd's.
func (c *conv) finish() error {
	for _, r := range c.ranges {
		sub := r.sub
		if sub == nil {
			for _, s := range c.subnets {
				if s.prefix.Contains(r.lo) && s.prefix.Contains(r.hi) {
					sub = s
				}
			}
			if sub == nil {
				return migrate.Errorf(r.pos, "range %s-%s is inside no declared subnet", r.lo, r.hi)
			}
		}
		sub.cfg.Pools = append(sub.cfg.Pools, config.PoolConfig{Range: r.lo.String() + "-" + r.hi.String()})
		c.rep.Map(r.pos, r.src, fmt.Sprintf("dhcp.subnets[%s].pools[%d]", sub.prefix, len(sub.cfg.Pools)-1))
	}
	for _, h := range c.hosts {
		if !h.fixed.IsValid() {
			c.rep.Drop(h.pos, "host "+h.name, "no fixed-address: in ISC it only marks a known client, and hadhcpd serves every client")
			continue
		}
		if h.res.HWAddress == "" && h.res.ClientID == "" {
			c.rep.Unsupported(h.pos, "host "+h.name, "a reservation needs hardware ethernet or dhcp-client-identifier")
			continue
		}
		var sub *subnet
		for _, s := range c.subnets {
			if s.prefix.Contains(h.fixed) {
				sub = s
			}
		}
		if sub == nil {
			c.rep.Unsupported(h.pos, "host "+h.name, fmt.Sprintf("fixed-address %s is inside no declared subnet", h.fixed))
			continue
		}
		h.res.Options = migrate.FinishOptions(h.options)
		sub.cfg.Reservations = append(sub.cfg.Reservations, h.res)
		c.rep.Map(h.pos, "host "+h.name, fmt.Sprintf("dhcp.subnets[%s].reservations[%d]", sub.prefix, len(sub.cfg.Reservations)-1))
	}
	for _, s := range c.subnets {
		if len(s.cfg.Pools) == 0 && len(s.cfg.Reservations) == 0 {
			c.rep.Drop(s.pos, "subnet "+s.prefix.String(), "no range and no host: hadhcpd needs no declaration for a network it does not serve")
			continue
		}
		s.cfg.Options = migrate.FinishOptions(s.cfg.Options)
		c.cfg.DHCP.Subnets = append(c.cfg.DHCP.Subnets, s.cfg)
	}
	c.cfg.DHCP.Options = migrate.FinishOptions(c.cfg.DHCP.Options)
	if !c.authSeen {
		c.cfg.DHCP.Authoritative = migrate.Ptr(false)
		c.rep.Invent("dhcp.authoritative", "false", "dhcpd.conf has no `authoritative;` and ISC's default is not authoritative")
	}
	if c.cfg.DHCP.DefaultLeaseTime == 0 {
		c.cfg.DHCP.DefaultLeaseTime = iscDefaultLease
		c.rep.Invent("dhcp.default_lease_time", "12h", "ISC's default-lease-time")
	}
	if c.cfg.DHCP.MaxLeaseTime == 0 {
		c.cfg.DHCP.MaxLeaseTime = max(iscMaxLease, c.cfg.DHCP.DefaultLeaseTime)
		c.rep.Invent("dhcp.max_lease_time", migrate.FormatDuration(c.cfg.DHCP.MaxLeaseTime), "ISC's max-lease-time")
	}
	for _, st := range c.poolPeer {
		if c.fo == nil || st.word(2) != c.foName {
			return migrate.Errorf(st.Pos, "failover peer %q is not declared", st.word(2))
		}
	}
	if c.fo != nil {
		return c.finishFailover()
	}
	return nil
}
