package isc

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// Options say what to import.
type Options struct {
	Conf     string // dhcpd.conf
	Leases   string // dhcpd.leases; "" = none
	Defaults migrate.Defaults
	// VRRP, when set, is the vrrp section to use (from keepalived.conf)
	// instead of one invented from the first subnet's router.
	VRRP *config.VRRPConfig
	// ReadFile reads the config and its includes; nil = os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// Import reads an ISC dhcpd 3.x/4.x configuration (and lease file) and
// returns the hadhcpd config, the leases and the report. A *SyntaxError
// names the file and line of input it cannot read; statements hadhcpd
// cannot express are in the report (Report.Err).
func Import(o Options) (*migrate.Result, error) {
	read := o.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	data, err := read(o.Conf)
	if err != nil {
		return nil, fmt.Errorf("isc: %w", err)
	}
	res, err := ParseConfig(o.Conf, data, read)
	if err != nil {
		return nil, err
	}
	if o.Leases != "" {
		f, err := os.Open(o.Leases)
		if err != nil {
			return nil, fmt.Errorf("isc: %w", err)
		}
		defer f.Close()
		res.Leases, err = ParseLeases(o.Leases, f, res.Report)
		if err != nil {
			return nil, err
		}
	}
	if o.VRRP != nil {
		res.Config.VRRP = *o.VRRP
	}
	migrate.FinishNode(res.Config, o.Defaults, res.Report)
	return res, nil
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

type optDef struct {
	code int
	typ  migrate.OptType
	ok   bool // a type hadhcpd can write
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

type subnet struct {
	cfg    config.SubnetConfig
	prefix netip.Prefix
	pos    migrate.Pos
	set    map[string]bool // options the subnet sets itself
}

type host struct {
	pos     migrate.Pos
	name    string
	res     config.ReservationConfig
	fixed   netip.Addr
	options map[string]any
}

type prange struct {
	pos    migrate.Pos
	src    string
	lo, hi netip.Addr
	sub    *subnet // nil: in a pool of a shared-network; found by address
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
	"server-identifier":         "hadhcpd's server identifier is the VRRP virtual IP (DESIGN.md invariant 5)",
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

// option handles `option NAME VALUE;` and `option NAME code N = TYPE;`.
func (c *conv) option(s *Stmt, sc *scope) error {
	name := s.word(1)
	if name == "" {
		return migrate.Errorf(s.Pos, "option without a name")
	}
	if s.word(2) == "code" {
		return c.optionDef(s)
	}
	if name == "space" || strings.Contains(name, ".") {
		c.rep.Unsupported(s.Pos, s.String(), "option spaces and encapsulated options are not supported")
		return nil
	}
	vals, err := optionValues(s)
	if err != nil {
		return err
	}
	if why, ok := migrate.DerivedOptions[name]; ok {
		if name == "subnet-mask" && sc.sub != nil {
			if m, err := netip.ParseAddr(s.word(2)); err == nil && maskBits(m) == sc.sub.prefix.Bits() {
				c.rep.MapNote(s.Pos, s.String(), "(derived)", why)
				return nil
			}
			c.rep.Unsupported(s.Pos, s.String(), "a subnet mask other than the subnet's own prefix")
			return nil
		}
		c.rep.Drop(s.Pos, s.String(), why)
		return nil
	}
	var key string
	var v any
	if d, ok := c.defs[name]; ok {
		if !d.ok {
			c.rep.Unsupported(s.Pos, s.String(), fmt.Sprintf("option code %d has a type hadhcpd cannot write", d.code))
			return nil
		}
		if d.code == 121 || d.code == 249 {
			v, err = routesFromBytes(vals)
		} else {
			v, err = migrate.OptionValue(d.typ, vals)
		}
		if err != nil {
			return migrate.Errorf(s.Pos, "option %s: %v", name, err)
		}
		k := migrate.OptionKey(name)
		if std, ok := migrate.StandardOptions[name]; ok && int(std.Code) == d.code {
			k = std.Key
		}
		key, v = migrate.OptionEntry(d.code, k, d.typ, v)
	} else if std, ok := migrate.StandardOptions[name]; ok {
		if std.Type == migrate.OptRoutes {
			v, err = routesFromBytes(vals)
		} else {
			v, err = migrate.OptionValue(std.Type, vals)
		}
		if err != nil {
			return migrate.Errorf(s.Pos, "option %s: %v", name, err)
		}
		key, v = migrate.OptionEntry(int(std.Code), std.Key, std.Type, v)
	} else if name == "dhcp-client-identifier" && sc.kind == "host" {
		return nil // handled by hostStmt
	} else {
		c.rep.Unsupported(s.Pos, s.String(), fmt.Sprintf("option %q is not one hadhcpd knows by name; define it by code in hadhcpd.yaml", name))
		return nil
	}
	rk := migrate.ReportKey(key)
	switch sc.kind {
	case "global":
		c.cfg.DHCP.Options[key] = v
		c.rep.Map(s.Pos, s.String(), "dhcp.options."+rk)
	case "subnet":
		sc.sub.cfg.Options[key] = v
		sc.sub.set[key] = true
		c.rep.Map(s.Pos, s.String(), fmt.Sprintf("dhcp.subnets[%s].options.%s", sc.sub.cfg.Subnet, rk))
	case "shared-network", "group":
		sc.inherit[key] = v
		c.rep.MapNote(s.Pos, s.String(), "options."+rk, "applied to each subnet and host of "+sc.kind+" "+sc.name)
	case "host":
		if key == "host_name" {
			sv, _ := v.(string)
			sc.host.res.Hostname = sv
			c.rep.Map(s.Pos, s.String(), fmt.Sprintf("reservations[%s].hostname", sc.host.name))
			return nil
		}
		sc.host.options[key] = v
		c.rep.Map(s.Pos, s.String(), fmt.Sprintf("reservations[%s].options.%s", sc.host.name, rk))
	default:
		c.rep.Unsupported(s.Pos, s.String(), "options per "+sc.kind+" are not supported (only global, subnet and reservation)")
	}
	return nil
}

// optionValues splits an option's values at commas; quoted strings lose
// their quotes. A value of several words (a route "24 192.0.2.1" in
// byte form) is joined with spaces.
func optionValues(s *Stmt) ([]string, error) {
	var out []string
	cur := []string{}
	for _, t := range s.Words[2:] {
		if t.kind == tPunct && t.is(',') {
			if len(cur) == 0 {
				return nil, migrate.Errorf(s.Pos, "option %s: empty value before ','", s.word(1))
			}
			out = append(out, strings.Join(cur, " "))
			cur = cur[:0]
			continue
		}
		cur = append(cur, t.str())
	}
	if len(cur) == 0 {
		return nil, migrate.Errorf(s.Pos, "option %s has no value", s.word(1))
	}
	return append(out, strings.Join(cur, " ")), nil
}

// routesFromBytes reads RFC 3442 classless routes written as ISC's usual
// `array of integer 8` (width, significant destination octets, router),
// or as "prefix router" pairs.
func routesFromBytes(vals []string) (any, error) {
	if len(vals) > 0 && strings.Contains(vals[0], "/") {
		return migrate.OptionValue(migrate.OptRoutes, vals)
	}
	var b []int
	for _, v := range vals {
		for _, f := range strings.Fields(v) {
			n, err := strconv.ParseUint(f, 10, 8)
			if err != nil {
				return nil, fmt.Errorf("%q is not a byte", f)
			}
			b = append(b, int(n))
		}
	}
	var out []string
	for len(b) > 0 {
		w := b[0]
		if w > 32 {
			return nil, fmt.Errorf("prefix length %d", w)
		}
		n := (w + 7) / 8
		if len(b) < 1+n+4 {
			return nil, fmt.Errorf("route truncated")
		}
		var d [4]byte
		for i := 0; i < n; i++ {
			d[i] = byte(b[1+i])
		}
		r := b[1+n : 1+n+4]
		out = append(out, fmt.Sprintf("%s %d.%d.%d.%d", netip.PrefixFrom(netip.AddrFrom4(d), w).Masked(), r[0], r[1], r[2], r[3]))
		b = b[1+n+4:]
	}
	return out, nil
}

// optionDef records `option NAME code N = TYPE;`.
func (c *conv) optionDef(s *Stmt) error {
	name := s.word(1)
	code, err := strconv.Atoi(s.word(3))
	if err != nil || code < 1 || code > 254 || s.word(4) != "=" {
		return migrate.Errorf(s.Pos, "option %s: want `option NAME code N = TYPE;` with N in 1..254", name)
	}
	typ := strings.Join(wordsText(s.Words[5:]), " ")
	t, ok := map[string]migrate.OptType{
		"ip-address":                  migrate.OptIP,
		"array of ip-address":         migrate.OptIPList,
		"text":                        migrate.OptString,
		"string":                      migrate.OptString,
		"integer 8":                   migrate.OptUint8,
		"unsigned integer 8":          migrate.OptUint8,
		"unsigned integer 16":         migrate.OptUint16,
		"unsigned integer 32":         migrate.OptUint32,
		"integer 32":                  migrate.OptInt32,
		"signed integer 32":           migrate.OptInt32,
		"boolean":                     migrate.OptBool,
		"domain-list":                 migrate.OptDomainList,
		"domain-list compressed":      migrate.OptDomainList,
		"array of integer 8":          migrate.OptRoutes,
		"array of unsigned integer 8": migrate.OptRoutes,
	}[typ]
	if t == migrate.OptRoutes && code != 121 && code != 249 {
		ok = false
	}
	c.defs[name] = optDef{code: code, typ: t, ok: ok}
	if ok {
		c.rep.MapNote(s.Pos, s.String(), "(option definition)", "used where the option is set")
	} else {
		c.rep.Unsupported(s.Pos, s.String(), fmt.Sprintf("option type %q cannot be written in hadhcpd.yaml", typ))
	}
	return nil
}

func maskBits(m netip.Addr) int {
	if !m.Is4() {
		return -1
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	if v != 0 {
		return -1
	}
	return n
}

func addr4(s *Stmt, i int) (netip.Addr, error) {
	a, err := netip.ParseAddr(s.word(i))
	if err != nil || !a.Is4() {
		return netip.Addr{}, migrate.Errorf(s.Pos, "%s: %q is not an IPv4 address", s.word(0), s.word(i))
	}
	return a, nil
}

func (c *conv) subnet(s *Stmt, sc *scope) error {
	if len(s.Words) != 4 || s.word(2) != "netmask" || !s.HasBlock {
		return migrate.Errorf(s.Pos, "want `subnet ADDRESS netmask MASK { ... }`")
	}
	a, err := addr4(s, 1)
	if err != nil {
		return err
	}
	m, err := addr4(s, 3)
	if err != nil {
		return err
	}
	bits := maskBits(m)
	if bits < 0 {
		return migrate.Errorf(s.Pos, "netmask %s is not contiguous", m)
	}
	p := netip.PrefixFrom(a, bits)
	if p.Masked().Addr() != a {
		return migrate.Errorf(s.Pos, "%s is not the network address of a /%d (that is %s)", a, bits, p.Masked().Addr())
	}
	sub := &subnet{cfg: config.SubnetConfig{Subnet: p.String(), Options: map[string]any{}}, prefix: p, pos: s.Pos, set: map[string]bool{}}
	for _, o := range c.subnets {
		if o.prefix.Overlaps(p) {
			return migrate.Errorf(s.Pos, "subnet %s overlaps subnet %s", p, o.prefix)
		}
	}
	c.subnets = append(c.subnets, sub)
	for e := sc; e != nil; e = e.parent {
		e.subs = append(e.subs, sub)
	}
	c.rep.Map(s.Pos, s.String(), fmt.Sprintf("dhcp.subnets[%s]", p))
	return c.block(s.Block, &scope{kind: "subnet", sub: sub, parent: sc})
}

// container handles shared-network and group: their parameters go to
// every subnet (and host) declared inside.
func (c *conv) container(s *Stmt, sc *scope, kind string) error {
	if !s.HasBlock {
		return migrate.Errorf(s.Pos, "%s needs a { ... } block", kind)
	}
	if sc.kind != "global" && !(kind == "group" && (sc.kind == "group" || sc.kind == "shared-network" || sc.kind == "subnet")) {
		return migrate.Errorf(s.Pos, "%s inside %s", kind, sc.kind)
	}
	in := &scope{kind: kind, name: s.word(1), inherit: map[string]any{}, parent: sc, sub: sc.sub}
	if kind == "shared-network" {
		c.rep.MapNote(s.Pos, s.String(), "dhcp.subnets[]", "its subnets become ordinary subnets: hadhcpd picks the subnet by the receiving interface's address or the relay's giaddr")
	} else {
		c.rep.MapNote(s.Pos, s.String(), "(scope)", "its parameters are applied to the declarations inside")
	}
	if err := c.block(s.Block, in); err != nil {
		return err
	}
	for _, sub := range in.subs {
		for k, v := range in.inherit {
			if !sub.set[k] {
				sub.cfg.Options[k] = v
				sub.set[k] = true
			}
		}
		ts := []**time.Duration{&sub.cfg.DefaultLeaseTime, &sub.cfg.MaxLeaseTime, &sub.cfg.MinLeaseTime}
		for i, t := range in.times {
			if t != nil && *ts[i] == nil {
				*ts[i] = t
			}
		}
	}
	for _, h := range in.hosts {
		if kind != "group" {
			break // a shared-network's options reach its hosts through their subnet
		}
		for k, v := range in.inherit {
			if _, ok := h.options[k]; !ok {
				h.options[k] = v
			}
		}
	}
	return nil
}

func (c *conv) pool(s *Stmt, sc *scope) error {
	if !s.HasBlock {
		return migrate.Errorf(s.Pos, "pool needs a { ... } block")
	}
	if sc.kind != "subnet" && sc.kind != "shared-network" {
		return migrate.Errorf(s.Pos, "pool inside %s (pools belong in a subnet or shared-network)", sc.kind)
	}
	c.rep.MapNote(s.Pos, s.String(), "dhcp.subnets[].pools[]", "each range of the pool becomes a pool")
	in := &scope{kind: "pool", sub: sc.sub, parent: sc}
	for _, st := range s.Block {
		if st.word(0) == "failover" {
			if st.word(1) != "peer" || len(st.Words) != 3 || st.Words[2].kind != tString {
				return migrate.Errorf(st.Pos, "want `failover peer \"NAME\";` in a pool")
			}
			c.poolPeer = append(c.poolPeer, st)
			c.rep.MapNote(st.Pos, st.String(), "failover", "the pool is replicated to the partner")
			continue
		}
		if err := c.stmt(st, in); err != nil {
			return err
		}
	}
	return nil
}

func (c *conv) rangeStmt(s *Stmt, sc *scope) error {
	if sc.kind != "subnet" && sc.kind != "pool" {
		return migrate.Errorf(s.Pos, "range inside %s (ranges belong in a subnet or pool)", sc.kind)
	}
	w := s.Words[1:]
	bootp := false
	if len(w) > 0 && w[0].str() == "dynamic-bootp" {
		bootp = true
		w = w[1:]
	}
	if len(w) < 1 || len(w) > 2 {
		return migrate.Errorf(s.Pos, "want `range [dynamic-bootp] LOW [HIGH];`")
	}
	lo, err := netip.ParseAddr(w[0].str())
	if err != nil || !lo.Is4() {
		return migrate.Errorf(s.Pos, "range: %q is not an IPv4 address", w[0].str())
	}
	hi := lo
	if len(w) == 2 {
		if hi, err = netip.ParseAddr(w[1].str()); err != nil || !hi.Is4() {
			return migrate.Errorf(s.Pos, "range: %q is not an IPv4 address", w[1].str())
		}
	}
	if hi.Less(lo) {
		lo, hi = hi, lo // dhcpd accepts either order
	}
	if sc.sub != nil && (!sc.sub.prefix.Contains(lo) || !sc.sub.prefix.Contains(hi)) {
		return migrate.Errorf(s.Pos, "range %s-%s is not inside subnet %s", lo, hi, sc.sub.prefix)
	}
	if bootp {
		c.rep.Unsupported(s.Pos, s.String(), "a dynamic-bootp range: hadhcpd refuses BOOTP (incompatible with failover); the range is imported for DHCP clients only")
	}
	c.ranges = append(c.ranges, &prange{pos: s.Pos, src: s.String(), lo: lo, hi: hi, sub: sc.sub})
	return nil
}

func (c *conv) host(s *Stmt, sc *scope) error {
	if !s.HasBlock || len(s.Words) != 2 {
		return migrate.Errorf(s.Pos, "want `host NAME { ... }`")
	}
	h := &host{pos: s.Pos, name: s.word(1), options: map[string]any{}}
	in := &scope{kind: "host", host: h, parent: sc}
	if err := c.block(s.Block, in); err != nil {
		return err
	}
	if c.declName && h.res.Hostname == "" {
		h.res.Hostname = h.name
	}
	c.hosts = append(c.hosts, h)
	for e := sc; e != nil; e = e.parent {
		e.hosts = append(e.hosts, h)
	}
	return nil
}

func (c *conv) hostStmt(s *Stmt, sc *scope) error {
	h := sc.host
	switch s.word(0) {
	case "hardware":
		if len(s.Words) != 3 {
			return migrate.Errorf(s.Pos, "want `hardware ethernet MAC;`")
		}
		mac, err := parseHex(s.word(2))
		if err != nil || (s.word(1) == "ethernet" && len(mac) != 6) {
			return migrate.Errorf(s.Pos, "hardware: %q is not a MAC address", s.word(2))
		}
		if s.word(1) != "ethernet" {
			c.rep.Unsupported(s.Pos, s.String(), "only ethernet hardware addresses are supported")
			return nil
		}
		h.res.HWAddress = net.HardwareAddr(mac).String()
		c.rep.Map(s.Pos, s.String(), fmt.Sprintf("reservations[%s].hw_address", h.name))
	case "fixed-address":
		var addrs []string
		for _, t := range s.Words[1:] {
			if !t.is(',') {
				addrs = append(addrs, t.str())
			}
		}
		a, err := netip.ParseAddr(s.word(1))
		if err != nil || !a.Is4() {
			c.rep.Unsupported(s.Pos, s.String(), "fixed-address must be an IPv4 address (hadhcpd does no DNS lookups)")
			return nil
		}
		if len(addrs) > 1 {
			c.rep.Unsupported(s.Pos, s.String(), "a reservation has one address; the first is imported")
		}
		h.fixed = a
		h.res.IP = a.String()
		c.rep.Map(s.Pos, s.String(), fmt.Sprintf("reservations[%s].ip", h.name))
	case "option":
		if s.word(1) == "dhcp-client-identifier" {
			if len(s.Words) != 3 {
				return migrate.Errorf(s.Pos, "option dhcp-client-identifier: want one value")
			}
			id := []byte(s.word(2))
			if s.Words[2].kind != tString {
				b, err := parseHex(s.word(2))
				if err != nil {
					return migrate.Errorf(s.Pos, "dhcp-client-identifier %q is neither a quoted string nor colon hex", s.word(2))
				}
				id = b
			}
			h.res.ClientID = hexColon(id)
			c.rep.Map(s.Pos, s.String(), fmt.Sprintf("reservations[%s].client_id", h.name))
			return nil
		}
		return c.option(s, sc)
	case "uid":
		c.rep.Unsupported(s.Pos, s.String(), "use option dhcp-client-identifier")
	case "ddns-hostname", "ddns-domainname":
		c.rep.Drop(s.Pos, s.String(), "DDNS setting; hadhcpd does no DNS updates")
	case "default-lease-time", "max-lease-time", "min-lease-time":
		c.rep.Unsupported(s.Pos, s.String(), "lease times per reservation are not supported")
	default:
		if why, ok := dropped[s.word(0)]; ok {
			c.rep.Drop(s.Pos, s.String(), why)
			return nil
		}
		if why, ok := unsupported[s.word(0)]; ok {
			c.rep.Unsupported(s.Pos, s.String(), why)
			return nil
		}
		return migrate.Errorf(s.Pos, "unknown statement %q in host %s", s.word(0), h.name)
	}
	return nil
}

// parseHex reads colon-separated hex bytes ("0:1:2a" as dhcpd writes them).
// It takes the token's bytes or a string: a lease file has one or two per
// block, and converting them to strings first cost an allocation each.
func parseHex[T ~string | ~[]byte](s T) ([]byte, error) {
	out := make([]byte, 0, (len(s)+1)/3)
	for start := 0; start <= len(s); {
		end := start
		for end < len(s) && s[end] != ':' {
			end++
		}
		p := s[start:end]
		if len(p) == 0 || len(p) > 2 {
			return nil, fmt.Errorf("bad hex byte %q", p)
		}
		v := 0
		for i := 0; i < len(p); i++ {
			h := hexVal(p[i])
			if h < 0 {
				return nil, fmt.Errorf("bad hex byte %q", p)
			}
			v = v*16 + h
		}
		out = append(out, byte(v))
		start = end + 1
	}
	return out, nil
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func hexColon(b []byte) string {
	var sb strings.Builder
	for i, x := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02x", x)
	}
	return sb.String()
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
