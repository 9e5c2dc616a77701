package isc

import (
	"bytes"
	"errors"
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
		ParsePair: func(name string, data []byte, partner string, pdata []byte, fs migrate.FS) (*migrate.Result, error) {
			return ParsePair(name, data, partner, pdata, fs.ReadFile)
		},
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
// includes. It never stops at a statement: every problem of the source is
// in the report, with its file and line (Invalid for what cannot be read,
// Unsupported for what hadhcpd cannot express), and reading goes on.
func ParseConfig(name string, data []byte, load Loader) (*migrate.Result, error) {
	return parseConfig(name, data, load, nil)
}

// parseConfig is ParseConfig, and ParsePair with the partner's file.
func parseConfig(name string, data []byte, load Loader, partner *partnerFile) (*migrate.Result, error) {
	c := &conv{
		partner: partner,
		rep:     &migrate.Report{},
		cfg:     &config.Config{DHCP: &config.DHCPConfig{}},
		defs:    map[string]optDef{},
		spaces:  map[string]*space{},
		classes: map[string]*class{},
		global:  newParams(),
	}
	p := newParser(newLexer(name, bytes.NewReader(data)), load)
	p.tolerant = true
	var top []*Stmt
	for {
		s, err := p.next()
		if err != nil {
			// Only an unreadable file (an unterminated string, a read
			// error) ends it; what was read before is still mapped.
			c.rep.Error(migrate.Pos{File: name}, "(file)", err)
			break
		}
		if s == nil {
			break
		}
		top = append(top, s)
	}
	for _, err := range p.errs {
		c.rep.Error(migrate.Pos{File: name}, "(syntax)", err)
	}
	c.block(top, &scope{kind: "global", par: c.global})
	c.finish()
	migrate.Sanitize(c.cfg, c.rep)
	return &migrate.Result{Config: c.cfg, Report: c.rep}, nil
}

type conv struct {
	rep      *migrate.Report
	cfg      *config.Config
	defs     map[string]optDef // by option name, "space.name" for sub-options
	spaces   map[string]*space
	global   *params
	nets     []*sharedNet
	subnets  []*subnet
	hosts    []*host
	ranges   []*prange
	classes  map[string]*class
	order    []*class // classes in config order (subclasses with parameters before their class)
	ifs      int      // conditional blocks turned into classes
	fo       *config.FailoverConfig
	foName   string
	foPos    migrate.Pos
	poolPeer []*Stmt // `failover peer "x";` in pools, checked at the end
	declName bool    // use-host-decl-names on
	authSeen bool
	bootp    string
	siteSp   string // site-option-space

	foAddr, foPeer     netip.Addr
	foPort, foPeerPort int
	foSplit            *int
	foSrc              [foFields]*Stmt // where mclt, split, ... were read
	partner            *partnerFile    // --partner-conf; nil: none
}

// params are what a scope sets for the clients it covers: options, boot
// fields, lease and renewal times, the vendor option space, sub-options of
// spaces, authoritative, and (pools) permits.
type params struct {
	opts   map[string]any
	next   string
	sname  string
	file   string
	times  [5]*time.Duration // default, max, min lease; renew (T1), rebind (T2)
	vspace string
	sub    map[string]map[string]any // space -> sub-option key -> value
	auth   *bool
	allow  []string
	deny   []string
	pos    migrate.Pos // of the scope's declaration
}

func newParams() *params {
	return &params{opts: map[string]any{}, sub: map[string]map[string]any{}}
}

// inherit fills what p does not set from q (a group's parameters reaching
// the declarations inside it).
func (p *params) inherit(q *params) {
	for k, v := range q.opts {
		if _, ok := p.opts[k]; !ok {
			p.opts[k] = v
		}
	}
	if p.next == "" {
		p.next = q.next
	}
	if p.sname == "" {
		p.sname = q.sname
	}
	if p.file == "" {
		p.file = q.file
	}
	for i, t := range q.times {
		if p.times[i] == nil {
			p.times[i] = t
		}
	}
	if p.vspace == "" {
		p.vspace = q.vspace
	}
	for sp, m := range q.sub {
		if p.sub[sp] == nil {
			p.sub[sp] = map[string]any{}
		}
		for k, v := range m {
			if _, ok := p.sub[sp][k]; !ok {
				p.sub[sp][k] = v
			}
		}
	}
	if p.auth == nil {
		p.auth = q.auth
	}
}

// scope is where a statement stands: global, shared-network, group, subnet,
// pool, host, class, if.
type scope struct {
	kind   string
	name   string
	key    string // the hadhcpd key the scope's settings go to, for the report
	sub    *subnet
	host   *host
	net    *sharedNet
	class  *class
	pool   *pool
	par    *params
	parent *scope
	// What a group (or shared-network) declares, so that its
	// parameters reach them.
	subs    []*subnet
	hosts   []*host
	nets    []*sharedNet
	pools   []*pool
	classes []*class
	// chain is the translated conditions of the if/elsif run being read
	// in this block; cond is the test of the conditional block this
	// scope is (nested conditions add to it).
	chain []string
	cond  string
}

func (sc *scope) reportKey() string {
	if sc.key != "" {
		return sc.key
	}
	if sc.parent != nil {
		return sc.parent.reportKey()
	}
	return "dhcp"
}

// block handles the statements of one scope: parameters (options, lease
// times, ...) first, then declarations (subnets, hosts, pools), because
// ISC applies a scope's parameters to every declaration in it wherever
// they stand in the block. A statement that cannot be read is reported
// and skipped.
func (c *conv) block(stmts []*Stmt, sc *scope) {
	for pass := 0; pass < 2; pass++ {
		for _, s := range stmts {
			if isDecl(s) != (pass == 1) {
				continue
			}
			if err := c.stmt(s, sc); err != nil {
				c.rep.Error(s.Pos, s.String(), err)
			}
		}
	}
}

func isDecl(s *Stmt) bool {
	switch s.word(0) {
	case "subnet", "shared-network", "host", "group", "pool", "range", "class", "subclass", "if", "elsif", "else":
		return true
	}
	return false
}

func (c *conv) stmt(s *Stmt, sc *scope) error {
	w0 := s.word(0)
	switch sc.kind {
	case "failover":
		return c.failoverStmt(s)
	case "host":
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
	case "next-server", "filename", "server-name":
		return c.bootField(s, sc)
	case "vendor-option-space":
		return c.vendorSpace(s, sc)
	case "site-option-space":
		if sc.kind != "global" {
			c.rep.Unsupported(s.Pos, s.String(), "a site option space other than at the top level")
			return nil
		}
		c.siteSp = s.word(1)
		c.rep.MapNote(s.Pos, s.String(), "dhcp.option_definitions", "the site space's options are options of the packet itself (codes 224-254)")
		return nil
	case "subnet":
		return c.subnet(s, sc)
	case "shared-network":
		return c.sharedNetwork(s, sc)
	case "group":
		return c.group(s, sc)
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
	case "class":
		return c.class(s, sc)
	case "subclass":
		return c.subclass(s, sc)
	case "match", "spawn", "lease":
		if sc.kind == "class" {
			return c.classStmt(s, sc)
		}
	case "if", "elsif", "else":
		return c.ifStmt(s, sc)
	case "boot-unknown-clients":
		// dhcpd.conf(5): false means clients without a host declaration
		// get no address at all in this scope: every pool denies them.
		switch s.word(1) {
		case "", "on", "true":
			c.rep.MapNote(s.Pos, s.String(), "(built in)", "hadhcpd serves unknown clients")
		case "off", "false":
			if sc.par == nil {
				c.rep.Unsupported(s.Pos, s.String(), "inside "+sc.kind)
				return nil
			}
			sc.par.deny = append(sc.par.deny, "unknown")
			c.rep.MapNote(s.Pos, s.String(), "pools[].deny", "unknown clients get no address: every pool of "+sc.kind+" "+sc.name+" denies them")
		default:
			return migrate.Errorf(s.Pos, "boot-unknown-clients: want on or off")
		}
		return nil
	case "ignore-client-uids":
		// dhcpd.conf(5): true identifies clients by hardware address
		// alone.
		if s.word(1) == "true" || s.word(1) == "on" || len(s.Words) == 1 {
			c.rep.Unsupported(s.Pos, s.String(), "hadhcpd identifies a client by its client identifier when it sends one (RFC 2132 §9.14)")
		} else {
			c.rep.Drop(s.Pos, s.String(), "hadhcpd's behaviour: clients are identified by their client identifier when they send one")
		}
		return nil
	case "use-host-decl-names":
		c.declName = len(s.Words) == 1 || s.word(1) == "on" || s.word(1) == "true"
		c.rep.Map(s.Pos, s.String(), "dhcp.subnets[].reservations[].hostname")
		return nil
	case "interface":
		// dhcpd.conf(5): `interface` names the link of a shared
		// network; hadhcpd serves the interfaces in dhcp.interfaces.
		name := s.word(1)
		if name != "" && len(s.Words) == 2 {
			c.cfg.DHCP.Interfaces = appendUniq(c.cfg.DHCP.Interfaces, name)
			c.rep.MapNote(s.Pos, s.String(), "dhcp.interfaces", "hadhcpd serves every listed interface; the subnet is found by the interface's address")
			return nil
		}
		return migrate.Errorf(s.Pos, "want `interface NAME;`")
	}
	if strings.HasPrefix(w0, "ddns-") {
		return c.ddns(s)
	}
	if strings.HasPrefix(w0, "log(") || strings.HasPrefix(w0, "execute(") {
		c.rep.Unsupported(s.Pos, s.String(), "log and execute statements are not supported")
		return nil
	}
	if why, ok := dropped[w0]; ok {
		c.rep.Drop(s.Pos, s.String(), why)
		return nil
	}
	if why, ok := unsupported[w0]; ok {
		c.rep.Unsupported(s.Pos, s.String(), why)
		return nil
	}
	c.rep.Unsupported(s.Pos, s.String(), fmt.Sprintf("unknown statement %q (skipped)", w0))
	return nil
}

func appendUniq(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
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
	"remote-port":               "hadhcpd answers relays on port 67 and clients on port 68 (RFC 2131 §4.1)",
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
	"authoring-byte-order":      "only affects dhcpd's lease file",
	"abandon-lease-time":        "hadhcpd keeps a declined address for dhcp.decline_probation",
	"infinite-is-reserved":      "hadhcpd grants no infinite leases",
	"always-reply-rfc1048":      "hadhcpd answers BOOTP with RFC 1048 options",
	"max-ack-delay":             "an ISC lease-write optimisation",
	"max-ack-delay-ms":          "an ISC lease-write optimisation",
	"delayed-ack":               "an ISC lease-write optimisation; hadhcpd group-commits",
	"log-threshold-high":        "pool usage logging; hadhcpd exports pool gauges (metrics)",
	"log-threshold-low":         "pool usage logging; hadhcpd exports pool gauges (metrics)",
	"dhcpv6-lease-file-name":    "DHCPv6 only",
	"persist-eui-64-leases":     "DHCPv6 only",
	"ldap-server":               "hadhcpd reads its YAML file, not LDAP",
	"release-on-roam":           "DHCPv6 only",
	"local-address6":            "DHCPv6 only",
	"bind-local-address6":       "DHCPv6 only",
	"dhcpv6-set-tee-times":      "DHCPv6 only",
	"ping-cltt-secs":            "hadhcpd does not ping before offering",
	"subnet6":                   "DHCPv6: hadhcpd serves DHCPv4",
	"range6":                    "DHCPv6: hadhcpd serves DHCPv4",
	"prefix6":                   "DHCPv6: hadhcpd serves DHCPv4",
	"fixed-address6":            "DHCPv6: hadhcpd serves DHCPv4",
	"fixed-prefix6":             "DHCPv6: hadhcpd serves DHCPv4",
	"preferred-lifetime":        "DHCPv6: hadhcpd serves DHCPv4",
	"dhcpv6-lease-file-name6":   "DHCPv6: hadhcpd serves DHCPv4",
}

// unsupported are statements that change what clients get and that
// hadhcpd cannot express.
var unsupported = map[string]string{
	"on":                               "event hooks (on commit/expiry/release) are not supported",
	"dynamic-bootp-lease-length":       "dynamic BOOTP is refused (incompatible with failover)",
	"dynamic-bootp-lease-cutoff":       "dynamic BOOTP is refused (incompatible with failover)",
	"min-secs":                         "hadhcpd answers at once",
	"use-lease-addr-for-default-route": "hadhcpd sends the configured routers",
	"match":                            "match belongs in a class",
	"spawn":                            "spawn belongs in a class",
	"set":                              "variables and expressions are not supported",
	"unset":                            "variables and expressions are not supported",
	"execute":                          "running programs from the server is not supported",
	"log":                              "log statements in the configuration are not supported",
	"fixed-address":                    "a fixed address outside a host declaration",
	"hardware":                         "a hardware address outside a host declaration",
	"host-identifier":                  "a host identifier outside a host declaration",
	"vendor-class":                     "ISC's built-in vendor-class keyed class: write a class matching option vendor-class-identifier",
	"user-class":                       "ISC's built-in user-class keyed class: write a class matching option user-class",
	"lease":                            "lease limits belong in a class and are not supported",
	"switch":                           "switch statements are not supported: write if/elsif",
	"add":                              "adding a client to a class from a statement is not supported: write the class's match",
	"supersede":                        "supersede: write the option in the scope that should win",
	"prepend":                          "option prepend is not supported",
	"append":                           "option append is not supported",
	"default":                          "`default` option statements are not supported: write the option",
	"filename-static":                  "not supported",
	"ddns-domainname":                  "DDNS",
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

// permit handles allow/deny/ignore (dhcpd.conf(5) "PERMIT LISTS" in pools,
// and the same keywords as server parameters elsewhere).
func (c *conv) permit(s *Stmt, sc *scope) error {
	allow := s.word(0) == "allow"
	rest := strings.Join(wordsText(s.Words[1:]), " ")
	switch rest {
	case "bootp":
		if allow {
			c.bootp = "reserved"
			c.rep.MapNote(s.Pos, s.String(), "dhcp.bootp", "reserved: BOOTP clients with a host declaration are answered; dynamic BOOTP stays refused (it cannot be made safe with failover)")
		} else {
			c.bootp = "off"
			c.rep.Map(s.Pos, s.String(), "dhcp.bootp")
		}
		return nil
	case "dynamic bootp clients":
		if !allow {
			c.rep.MapNote(s.Pos, s.String(), "(built in)", "hadhcpd never leases addresses to BOOTP clients")
			return nil
		}
		c.rep.Unsupported(s.Pos, s.String(), "dynamic BOOTP is refused by hadhcpd (it cannot be made safe with failover); BOOTP clients with a reservation are answered")
		return nil
	case "client-updates":
		if allow {
			c.rep.Unsupported(s.Pos, s.String(), "client DNS updates are a DDNS feature hadhcpd does not have")
		} else {
			c.rep.Drop(s.Pos, s.String(), "DDNS setting; hadhcpd does no DNS updates")
		}
		return nil
	case "declines", "duplicates", "leasequery", "booting":
		if allow {
			c.rep.MapNote(s.Pos, s.String(), "(built in)", "hadhcpd's default behaviour")
		} else {
			c.rep.Unsupported(s.Pos, s.String(), "hadhcpd always handles "+rest)
		}
		return nil
	}
	var who string
	switch {
	case rest == "unknown-clients" || rest == "unknown clients":
		who = "unknown"
	case rest == "known-clients" || rest == "known clients":
		who = "known"
	case rest == "all clients":
		who = "all"
	case strings.HasPrefix(rest, "members of ") && len(s.Words) == 4:
		who = s.word(3)
		cl, ok := c.classes[who]
		if !ok {
			return migrate.Errorf(s.Pos, "class %q is not declared before it is used", who)
		}
		who = cl.name
	default:
		c.rep.Unsupported(s.Pos, s.String(), "a permit hadhcpd has no equivalent for (authenticated clients, after TIME, ...)")
		return nil
	}
	par := sc.par
	if par == nil {
		c.rep.Unsupported(s.Pos, s.String(), "a permit inside "+sc.kind)
		return nil
	}
	switch {
	case who == "all" && allow:
		c.rep.MapNote(s.Pos, s.String(), sc.reportKey(), "every client may use the pool (no restriction)")
		return nil
	case who == "all":
		par.deny = append(par.deny, "known", "unknown")
	case allow:
		par.allow = append(par.allow, who)
	default:
		par.deny = append(par.deny, who)
	}
	list := "deny"
	if allow {
		list = "allow"
	}
	if sc.kind == "pool" {
		c.rep.Map(s.Pos, s.String(), sc.reportKey()+"."+list)
	} else {
		// dhcpd applies a permit outside a pool (deny unknown-clients in a
		// subnet) to every address the scope gives out: every pool.
		c.rep.MapNote(s.Pos, s.String(), "pools[]."+list, "applied to every pool of "+sc.kind+" "+sc.name)
	}
	return nil
}

func wordsText(ts []token) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.str())
	}
	return out
}

// authoritative: dhcpd's default is `not authoritative`: it then sends no
// DHCPNAK for an address it knows nothing about (dhcpd.conf(5) "THE
// AUTHORITATIVE STATEMENT"), which is hadhcpd's authoritative: false
// (silence where the server has no record of the client, RFC 2131 §4.3.2;
// a client it has a record of asking for the wrong address still gets a
// NAK, as in dhcpd). The setting may stand in any scope; hadhcpd's is
// global, so the subnets' effective values must agree (finish).
func (c *conv) authoritative(s *Stmt, sc *scope, on bool) error {
	if sc.par == nil || sc.kind == "pool" || sc.kind == "class" {
		c.rep.Unsupported(s.Pos, s.String(), "authoritative inside "+sc.kind)
		return nil
	}
	sc.par.auth = migrate.Ptr(on)
	c.authSeen = true
	note := ""
	if !on {
		note = authNote
	}
	if sc.kind != "global" {
		note = "set per " + sc.kind + " in dhcpd; hadhcpd's is global, taken when every subnet agrees. " + note
	}
	c.rep.MapNote(s.Pos, s.String(), "dhcp.authoritative", note)
	return nil
}

const authNote = "dhcpd's `not authoritative` (its default) sends no DHCPNAK for an address it has no record of; hadhcpd's authoritative: false does the same (RFC 2131 §4.3.2)"

// seconds parses an ISC time value.
func seconds(s *Stmt, i int) (time.Duration, error) {
	if s.word(i) == "infinite" || s.word(i) == "-1" || s.word(i) == "4294967295" {
		return 0, errInfinite
	}
	n, err := strconv.ParseUint(s.word(i), 10, 32)
	if err != nil || len(s.Words) != i+1 {
		return 0, migrate.Errorf(s.Pos, "%s: %q is not a number of seconds", s.word(0), s.word(i))
	}
	return time.Duration(n) * time.Second, nil
}

var errInfinite = errors.New("infinite")

// maxFinite is what an infinite lease time becomes: hadhcpd grants no
// infinite leases (failover needs every lease to end, RFC 2131 §3.3).
const maxFinite = 365 * 24 * time.Hour

func (c *conv) leaseTime(s *Stmt, sc *scope) error {
	d, err := seconds(s, 1)
	if errors.Is(err, errInfinite) {
		d = maxFinite
		c.rep.MapNote(s.Pos, s.String(), sc.reportKey()+"."+strings.ReplaceAll(s.word(0), "-", "_"), "infinite (-1) becomes one year: hadhcpd grants no infinite leases, every lease must end for failover")
	} else if err != nil {
		return err
	}
	i := map[string]int{"default-lease-time": 0, "max-lease-time": 1, "min-lease-time": 2}[s.word(0)]
	return c.setTime(s, sc, i, d, err == nil)
}

// setTime sets times[i] of the scope.
func (c *conv) setTime(s *Stmt, sc *scope, i int, d time.Duration, report bool) error {
	key := []string{"default_lease_time", "max_lease_time", "min_lease_time", "renew_time", "rebind_time"}[i]
	if sc.par == nil || sc.kind == "pool" {
		c.rep.Unsupported(s.Pos, s.String(), key+" can be set globally, per shared network, subnet, class or host, not per "+sc.kind)
		return nil
	}
	if sc.kind == "host" {
		c.rep.Unsupported(s.Pos, s.String(), "lease times per reservation are not supported: put the host in a class")
		return nil
	}
	sc.par.times[i] = &d
	if report {
		c.rep.Map(s.Pos, s.String(), sc.reportKey()+"."+key)
	}
	return nil
}

// bootField: next-server, filename, server-name (the BOOTP siaddr, file
// and sname fields, RFC 2131 §2).
func (c *conv) bootField(s *Stmt, sc *scope) error {
	if len(s.Words) != 2 {
		return migrate.Errorf(s.Pos, "want `%s VALUE;`", s.word(0))
	}
	v := s.word(1)
	key := map[string]string{"next-server": "next_server", "filename": "boot_file", "server-name": "server_name"}[s.word(0)]
	switch s.word(0) {
	case "next-server":
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return migrate.Errorf(s.Pos, "next-server: %q is not an IPv4 address (hadhcpd does no DNS lookups: write the address)", v)
		}
		v = a.String()
	case "filename":
		if len(v) > 127 {
			return migrate.Errorf(s.Pos, "filename: %d bytes do not fit the 128-byte file field", len(v))
		}
	case "server-name":
		if len(v) > 63 {
			return migrate.Errorf(s.Pos, "server-name: %d bytes do not fit the 64-byte sname field", len(v))
		}
	}
	if sc.par == nil || sc.kind == "pool" {
		c.rep.Unsupported(s.Pos, s.String(), key+" per "+sc.kind+" is not supported (global, shared network, subnet, class, host)")
		return nil
	}
	switch s.word(0) {
	case "next-server":
		sc.par.next = v
	case "filename":
		sc.par.file = v
	default:
		sc.par.sname = v
	}
	c.rep.Map(s.Pos, s.String(), sc.reportKey()+"."+key)
	return nil
}

// vendorSpace: `vendor-option-space NAME;` makes option 43 carry the
// space's options set for the client.
func (c *conv) vendorSpace(s *Stmt, sc *scope) error {
	name := migrate.SpaceKey(s.word(1))
	if _, ok := c.spaces[name]; !ok && name != "pxe" {
		return migrate.Errorf(s.Pos, "vendor-option-space %q: no `option space %s;` before it", s.word(1), s.word(1))
	}
	if c.spaces[name] == nil {
		c.spaces[name] = &space{name: s.word(1), pos: s.Pos}
	}
	if sc.par == nil || sc.kind == "pool" {
		c.rep.Unsupported(s.Pos, s.String(), "a vendor option space per "+sc.kind)
		return nil
	}
	sc.par.vspace = name
	c.rep.MapNote(s.Pos, s.String(), sc.reportKey()+".options.vendor_specific", "option 43 carries the options of space "+name)
	return nil
}
