package migrate

import (
	"strings"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
)

// OptType is how an option's value is written.
type OptType uint8

const (
	OptIP          OptType = iota + 1 // one IPv4 address
	OptIPList                         // one or more IPv4 addresses
	OptString                         // text
	OptUint8                          // unsigned integers of 1, 2, 4 bytes
	OptUint16                         //
	OptUint32                         //
	OptInt32                          // signed 4 bytes (time-offset)
	OptBool                           // true/false, on/off
	OptDomainList                     // domain-search: a list of names (RFC 3397)
	OptRoutes                         // classless static routes (RFC 3442): "prefix router" pairs
	OptHex                            // raw bytes as colon hex
	OptInt8                           // signed 1 and 2 bytes
	OptInt16                          //
	OptEmpty                          // no value (the option's presence)
	OptFQDN                           // one domain name
	OptRecord                         // OptDef.Fields one after another
	OptEncapsulate                    // sub-options of OptDef.Encapsulate
	OptVendor                         // option 43: hex, or {space, options} (VendorSpecific)
	OptVIVCO                          // option 124: hex, or [{enterprise, classes}] (RFC 3925 §3)
	OptVIVSO                          // option 125: hex, or [{enterprise, space, options}] (VIVSOEntry)
	OptTuples16                       // strings each after a 2-byte length (option 143)
	OptIPv6                           // an IPv6 address (a record field of option 212 only)
)

var optTypeNames = map[OptType]string{
	OptIP: "ip", OptIPList: "ips", OptString: "string", OptUint8: "uint8", OptUint16: "uint16", OptUint32: "uint32",
	OptInt32: "int32", OptBool: "bool", OptDomainList: "domains", OptRoutes: "routes", OptHex: "hex",
	OptInt8: "int8", OptInt16: "int16", OptEmpty: "empty", OptFQDN: "fqdn", OptRecord: "record",
	OptEncapsulate: "encapsulate", OptVendor: "vendor", OptVIVCO: "vivco", OptVIVSO: "vivso",
	OptTuples16: "tuples16", OptIPv6: "ipv6",
}

// String is the type name hadhcpd's config uses for an option defined by
// code (`{code: 224, type: string, value: ...}`) or in
// dhcp.option_definitions. vendor, vivco, vivso, tuples16 and ipv6 are
// standard options' own forms, not definition types.
func (t OptType) String() string {
	if n, ok := optTypeNames[t]; ok {
		return n
	}
	return "?"
}

// Width is the size in bytes of a fixed-width type (the integers and
// bool), 0 for the others.
func (t OptType) Width() int {
	switch t {
	case OptUint8, OptInt8, OptBool:
		return 1
	case OptUint16, OptInt16:
		return 2
	case OptUint32, OptInt32:
		return 4
	}
	return 0
}

func optTypeOf(name string) OptType {
	for t, n := range optTypeNames {
		if n == name {
			return t
		}
	}
	return 0
}

// OptDef is one option hadhcpd knows by name.
type OptDef struct {
	Code  uint8
	Key   string // the key under `options:` in hadhcpd.yaml (or in a space's options)
	Type  OptType
	Array bool // Type repeats; for a record, its last field repeats (Kea's rule)
	// Fields are a record's field types.
	Fields []OptType
	// Encapsulate is the space of an OptEncapsulate option's sub-options.
	Encapsulate string
	// Space is the option's space ("dhcp4" for the options themselves).
	Space string
}

// optDefOf is a scope.StandardOption as the importers' table holds it.
func optDefOf(o scope.StandardOption) OptDef {
	d := OptDef{Code: o.Code, Key: o.Name, Type: optTypeOf(o.Type), Array: o.Array, Space: o.Space}
	for _, f := range o.Fields {
		d.Fields = append(d.Fields, optTypeOf(f))
	}
	return d
}

// StandardOptions maps the option names of ISC dhcpd and Kea (with their
// dashes) to hadhcpd's keys: every option of the DHCP server's registry
// (scope.StandardOptions) under Kea's name, ISC's name and hadhcpd's
// earlier names. Where ISC and Kea give one name two meanings the entry is
// Kea's: ask ISCOption or KeaOption. Options hadhcpd sets itself are in
// DerivedOptions instead.
var StandardOptions = func() map[string]OptDef {
	m := map[string]OptDef{}
	for _, o := range scope.StandardOptions() {
		if o.Space != scope.SpaceDHCP4 {
			continue
		}
		d := optDefOf(o)
		for _, n := range append([]string{o.Name}, o.Aliases...) {
			m[strings.ReplaceAll(n, "_", "-")] = d
		}
	}
	return m
}()

// iscOnly are ISC dhcpd's meanings of names Kea uses otherwise.
var iscOnly = map[string]OptDef{
	// ISC keeps RFC 7710's code; RFC 8910 moved the option to 114, which
	// ISC calls default-url.
	"v4-captive-portal": {Code: 160, Key: "v4_captive_portal_rfc7710", Type: OptString, Space: scope.SpaceDHCP4},
}

// ISCOption is the option ISC dhcpd names name (case-insensitive), in
// space dhcp.
func ISCOption(name string) (OptDef, bool) {
	name = strings.ToLower(name)
	if d, ok := iscOnly[name]; ok {
		return d, true
	}
	d, ok := StandardOptions[name]
	return d, ok
}

// KeaOption is the option Kea names name, in space dhcp4.
func KeaOption(name string) (OptDef, bool) {
	d, ok := StandardOptions[strings.ToLower(name)]
	return d, ok
}

// SubOption is a sub-option of a built-in space (pxe: PXE 2.1's option 43
// sub-options) by its name in the source ("mtftp-ip" or "mtftp_ip").
func SubOption(space, name string) (OptDef, bool) {
	o, ok := scope.LookupOption(SpaceKey(space), OptionKey(name))
	if !ok || o.Space == scope.SpaceDHCP4 {
		return OptDef{}, false
	}
	return optDefOf(o), true
}

// DerivedOptions are options hadhcpd computes itself; an import drops them
// with this reason (and says so when the source's value differs from what
// hadhcpd would send).
var DerivedOptions = map[string]string{
	"dhcp-lease-time":             "hadhcpd sends the granted lease time (default_lease_time, min_lease_time, max_lease_time)",
	"dhcp-renewal-time":           "hadhcpd sends T1 from renew_time (default 0.5 of the lease): map the value to renew_time at the same level",
	"dhcp-rebinding-time":         "hadhcpd sends T2 from rebind_time (default 0.875 of the lease): map the value to rebind_time at the same level",
	"dhcp-server-identifier":      "hadhcpd's server identifier is the VRRP virtual IP so renewals follow the active box",
	"dhcp-message-type":           "protocol field, not configuration",
	"dhcp-parameter-request-list": "sent by clients, not configured",
	"dhcp-max-message-size":       "sent by clients, not configured",
	"dhcp-requested-address":      "sent by clients, not configured",
	"dhcp-option-overload":        "hadhcpd overloads sname and file itself when options do not fit",
	"dhcp-message":                "hadhcpd writes the message of a NAK itself",
	"dhcp-client-identifier":      "sent by clients; a host's client identifier is a reservation's client_id",
	"subnet-selection":            "sent by relays and clients (RFC 3011), not configured",
	"relay-agent-information":     "added by relay agents; hadhcpd echoes it (RFC 3046)",
	"dhcp-agent-options":          "added by relay agents; hadhcpd echoes it (RFC 3046)",
}

// AgentSubOptions are the relay agent information (option 82) sub-options
// by ISC's and Kea's names, for class tests (relay4[CODE] in hadhcpd's
// class language).
var AgentSubOptions = map[string]uint8{
	"circuit-id": 1, "remote-id": 2, "agent-id": 3, "docsis-device-class": 4, "link-selection": 5,
	"subscriber-id": 6, "radius": 7, "auth": 8, "vendor-specific-info": 9, "relay-flags": 10,
	"server-id-override": 11, "relay-id": 12, "access-techno-type": 13, "access-network-name": 14,
	"access-point-name": 15, "access-point-bssid": 16, "operator-id": 17, "operator-realm": 18,
	"relay-port": 19, "virtual-subnet-select": 151, "virtual-subnet-select-ctrl": 152,
}
