package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/class"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
)

// ClientClassConfig is one of dhcp.client_classes: a name and a test (or a
// match value with its members), and what a member gets.
type ClientClassConfig struct {
	Name    string         `mapstructure:"name"`
	Test    string         `mapstructure:"test"`    // boolean expression (README "Client classes")
	Match   string         `mapstructure:"match"`   // value expression: the key of Members
	Members []string       `mapstructure:"members"` // hex (00:04:f2) or 'quoted text'
	Options map[string]any `mapstructure:"options"`

	NextServer string `mapstructure:"next_server"`
	ServerName string `mapstructure:"server_name"`
	BootFile   string `mapstructure:"boot_file"`

	DefaultLeaseTime *time.Duration `mapstructure:"default_lease_time"`
	MinLeaseTime     *time.Duration `mapstructure:"min_lease_time"`
	MaxLeaseTime     *time.Duration `mapstructure:"max_lease_time"`
	RenewTime        *time.Duration `mapstructure:"renew_time"`
	RebindTime       *time.Duration `mapstructure:"rebind_time"`
}

// Lengths of the fixed BOOTP fields a value must fit with its ending NUL
// (RFC 2131 §2: sname 64 octets, file 128).
const (
	maxServerName = 63
	maxBootFile   = 127
)

// classNames resolves class names (as allow, deny and client_classes
// write them) to class indexes.
type classNames map[string]int

func (n classNames) lookup(name string) (int, bool) {
	switch name {
	case "known", "KNOWN":
		return class.Known, true
	case "unknown", "UNKNOWN":
		return class.Unknown, true
	}
	i, ok := n[name]
	return i, ok
}

// classesConfig compiles dhcp.client_classes in order: a test may use
// member() only of the classes before it (a member of a later class is
// not known yet when the test runs, as in Kea).
func classesConfig(v *validator, list []ClientClassConfig) ([]*scope.Class, classNames) {
	names := classNames{}
	var out []*scope.Class
	if len(list) > class.MaxClasses-class.First {
		v.add("dhcp.client_classes", "%d classes, at most %d", len(list), class.MaxClasses-class.First)
		return nil, names
	}
	// option[NAME] in a test reads the names the options maps read: the
	// standard ones and dhcp.option_definitions (v.optDefs).
	compile := class.Names{
		Class:  names.lookup, // only the classes before this one resolve
		Option: func(n string) (uint8, bool) { return v.optDefs.Code(scope.SpaceDHCP4, n) },
	}
	for i, cc := range list {
		k := fmt.Sprintf("dhcp.client_classes[%d]", i)
		c := &scope.Class{Name: cc.Name, Index: class.First + i}
		switch _, builtin := (classNames{}).lookup(cc.Name); {
		case cc.Name == "":
			v.add(k+".name", "must be set")
		case builtin:
			v.add(k+".name", "%q is built in (a client is known when it has a reservation)", cc.Name)
		case strings.ContainsAny(cc.Name, "'\""):
			v.add(k+".name", "%q: quotes are not allowed in a class name", cc.Name)
		default:
			if j, dup := names[cc.Name]; dup {
				v.add(k+".name", "%q is also dhcp.client_classes[%d]", cc.Name, j-class.First)
			}
		}
		switch {
		case cc.Test != "" && cc.Match != "":
			v.add(k, "set test or match, not both")
		case cc.Test != "":
			e, err := compile.Compile(cc.Test)
			if err != nil {
				v.add(k+".test", "%v", err)
			}
			c.Test = e
		case cc.Match != "":
			val, err := compile.CompileValue(cc.Match)
			if err != nil {
				v.add(k+".match", "%v", err)
			}
			c.Match = val
		}
		if len(cc.Members) > 0 && cc.Match == "" {
			v.add(k+".members", "needs match: the members are values of the match expression")
		}
		if len(cc.Members) > 0 {
			c.Members = make(map[string]struct{}, len(cc.Members))
			for j, m := range cc.Members {
				b, err := class.ParseMember(m)
				if err != nil {
					v.add(fmt.Sprintf("%s.members[%d]", k, j), "%v", err)
					continue
				}
				c.Members[string(b)] = struct{}{}
			}
		}
		if len(cc.Options) > 0 {
			c.Options = parseOptions(v, k+".options", cc.Options)
		}
		c.Boot = bootConfig(v, k, cc.NextServer, cc.ServerName, cc.BootFile)
		c.Times = classTimes(v, k, cc)
		if cc.Name != "" {
			if _, dup := names[cc.Name]; !dup {
				names[cc.Name] = c.Index
			}
		}
		out = append(out, c)
	}
	return out, names
}

// classTimes checks a class's lease times (each alone: the subnet's fill
// in what the class does not set, and the engine clamps the result).
func classTimes(v *validator, k string, cc ClientClassConfig) scope.ClassTimes {
	var t scope.ClassTimes
	for _, x := range []struct {
		key   string
		d     *time.Duration
		to    *time.Duration
		lo    time.Duration
		lease bool
	}{
		{"default_lease_time", cc.DefaultLeaseTime, &t.Default, minLeaseTime, true},
		{"min_lease_time", cc.MinLeaseTime, &t.Min, minLeaseTime, true},
		{"max_lease_time", cc.MaxLeaseTime, &t.Max, minLeaseTime, true},
		{"renew_time", cc.RenewTime, &t.Renew, time.Second, false},
		{"rebind_time", cc.RebindTime, &t.Rebind, time.Second, false},
	} {
		if x.d == nil {
			continue
		}
		d := *x.d
		switch {
		case outside(d, x.lo, maxLeaseTime):
			bound(v, k+"."+x.key, d, x.lo, maxLeaseTime, "")
		case d%time.Second != 0:
			v.add(k+"."+x.key, "%s is not a whole number of seconds", d)
		default:
			*x.to = d
		}
	}
	if t.Min > 0 && t.Max > 0 && t.Min > t.Max {
		v.add(k+".min_lease_time", "%s is longer than max_lease_time %s", short(t.Min), short(t.Max))
	}
	if t.Renew > 0 && t.Rebind > 0 && t.Renew >= t.Rebind {
		v.add(k+".renew_time", "%s is not shorter than rebind_time %s (RFC 2131 §4.4.5: T1 < T2)", short(t.Renew), short(t.Rebind))
	}
	return t
}

// bootConfig checks the boot fields of one level (k: its key path).
func bootConfig(v *validator, k, next, sname, file string) scope.Boot {
	var b scope.Boot
	if next != "" {
		a, err := netip.ParseAddr(next)
		if err != nil || !a.Is4() || a.IsUnspecified() {
			v.add(k+".next_server", "%q is not an IPv4 address (siaddr)", next)
		} else {
			b.NextServer = a
		}
	}
	b.ServerName = bootField(v, k+".server_name", sname, maxServerName, "sname")
	b.File = bootField(v, k+".boot_file", file, maxBootFile, "file")
	return b
}

// bootField checks s for a fixed-size field of the BOOTP header (RFC 2131
// §2): at most size bytes, no NUL. A refused s is "".
func bootField(v *validator, key, s string, size int, field string) string {
	switch {
	case len(s) > size:
		v.add(key, "%d bytes, at most %d (the %s field, RFC 2131 §2)", len(s), size, field)
	case strings.IndexByte(s, 0) >= 0:
		v.add(key, "contains a NUL byte")
	default:
		return s
	}
	return ""
}

// classSet resolves a list of class names (pool allow/deny, a
// reservation's client_classes) at key k.
func classSet(v *validator, k string, list []string, names classNames, builtins bool) (class.Set, bool) {
	var s class.Set
	for i, n := range list {
		idx, ok := names.lookup(n)
		if ok && !builtins && idx < class.First {
			v.add(fmt.Sprintf("%s[%d]", k, i), "%q is decided by the reservation itself", n)
			continue
		}
		if !ok {
			v.add(fmt.Sprintf("%s[%d]", k, i), "%q is not a class of dhcp.client_classes (nor known, unknown)", n)
			continue
		}
		s.Add(idx)
	}
	return s, len(list) > 0
}

// poolRule builds a pool's allow/deny sets and options (pk: the pool's
// key path).
func poolRule(v *validator, pk string, pc PoolConfig, names classNames) scope.PoolRule {
	var r scope.PoolRule
	r.Allow, r.HasAllow = classSet(v, pk+".allow", pc.Allow, names, true)
	r.Deny, r.HasDeny = classSet(v, pk+".deny", pc.Deny, names, true)
	if len(pc.Options) > 0 {
		r.Options = parseOptions(v, pk+".options", pc.Options)
	}
	return r
}

// dhcpGlobals reads the dhcp section's network boot, BOOTP and
// reservation lookup keys into out.
func dhcpGlobals(v *validator, d *DHCPConfig, out *scope.Config) {
	out.Boot = bootConfig(v, "dhcp", d.NextServer, d.ServerName, d.BootFile)
	switch d.BOOTP {
	case "", "reserved":
		out.BOOTP = true
	case "off":
	default:
		v.add("dhcp.bootp", "%q is not reserved or off", d.BOOTP)
	}
	if d.ReservationIdentifiers != nil {
		if len(d.ReservationIdentifiers) == 0 {
			v.add("dhcp.reservation_identifiers", "needs at least one of client_id, hw_address, circuit_id, remote_id")
		}
		out.Identifiers = []scope.Identifier{}
		seen := map[scope.Identifier]bool{}
		for i, s := range d.ReservationIdentifiers {
			k := fmt.Sprintf("dhcp.reservation_identifiers[%d]", i)
			id, ok := scope.ParseIdentifier(s)
			switch {
			case !ok:
				v.add(k, "%q is not client_id, hw_address, circuit_id or remote_id", s)
			case seen[id]:
				v.add(k, "%q is listed twice", s)
			default:
				seen[id] = true
				out.Identifiers = append(out.Identifiers, id)
			}
		}
	}
}

// reservationIdents checks that a reservation has one identifier (or
// hw_address and client_id together: ISC dhcpd's hosts have both, either
// matching, and hadhcpd always took them so) and reads the relay agent
// ones (the others are read by dhcpConfig); circuits and remotes catch
// duplicates within the subnet.
func reservationIdents(v *validator, rk string, rc ReservationConfig, r *scope.Reservation, circuits, remotes map[string]int, j int) {
	n := 0
	for _, s := range []string{rc.HWAddress, rc.ClientID, rc.CircuitID, rc.RemoteID} {
		if s != "" {
			n++
		}
	}
	switch {
	case n == 0:
		v.add(rk, "needs exactly one of hw_address, client_id, circuit_id, remote_id")
	case n > 1 && (rc.CircuitID != "" || rc.RemoteID != ""):
		v.add(rk, "needs exactly one of hw_address, client_id, circuit_id, remote_id (has %d; only hw_address and client_id may go together)", n)
	}
	for _, x := range []struct {
		key, val string
		seen     map[string]int
		to       *[]byte
	}{{"circuit_id", rc.CircuitID, circuits, &r.CircuitID}, {"remote_id", rc.RemoteID, remotes, &r.RemoteID}} {
		if x.val == "" {
			continue
		}
		// Hex (01:02:0a) or 'quoted text', as class members are written.
		b, err := class.ParseMember(x.val)
		switch {
		case err != nil:
			v.add(rk+"."+x.key, "%v", err)
		case len(b) > 255:
			v.add(rk+"."+x.key, "%d bytes, at most 255 (an option 82 sub-option)", len(b))
		default:
			if o, dup := x.seen[string(b)]; dup {
				v.add(rk+"."+x.key, "%s is also reserved by reservations[%d]", x.val, o)
				continue
			}
			x.seen[string(b)] = j
			*x.to = b
		}
	}
}
