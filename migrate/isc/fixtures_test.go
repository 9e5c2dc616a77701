package isc

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	dhcpscope "github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/hadhcpd/hadhcpd/migrate"
	"github.com/hadhcpd/hadhcpd/migrate/migratetest"
)

// convert imports a fixture as `hadhcpd import isc` does.
func convert(t *testing.T, conf, root string) *migrate.Result {
	t.Helper()
	return migratetest.Convert(t, Format(), conf, root, migrate.Defaults{Interfaces: []string{"eth0"}})
}

func noProblems(t *testing.T, res *migrate.Result) {
	t.Helper()
	if bad := migratetest.SourceProblems(res.Report); len(bad) > 0 {
		var b strings.Builder
		_ = res.Report.WriteText(&b)
		t.Errorf("unexpected problems %+v\n%s", bad, b.String())
	}
}

// PXE: the BIOS/UEFI split by client architecture (option 93), the PXE
// vendor space in option 43, boot fields on classes and a host, pools
// restricted to classes, T1/T2, a reservation inside a pool.
func TestFixturePXE(t *testing.T) {
	res := convert(t, "testdata/pxe/dhcpd.conf", "")
	noProblems(t, res)
	d := res.Config.DHCP
	pxe := migratetest.Class(d, "pxeclients")
	if pxe == nil || pxe.Test != "substring(option[60].hex,0,9) == 'PXEClient'" || pxe.NextServer != "192.0.2.10" || pxe.ServerName != "tftp1" {
		t.Fatalf("pxeclients = %+v", pxe)
	}
	if got := fmt.Sprint(pxe.Options["vendor_specific"]); got != "map[options:map[discovery_control:3 mtftp_ip:0.0.0.0] space:pxe]" {
		t.Errorf("option 43 = %s", got)
	}
	for name, want := range map[string][2]string{
		"if-1": {"member('pxeclients') and (option[93].hex == 0x0007 or option[93].hex == 0x0009)", "ipxe.efi"},
		"if-2": {"member('pxeclients') and not (option[93].hex == 0x0007 or option[93].hex == 0x0009) and (option[93].hex == 0x0006)", "ipxe32.efi"},
		"if-3": {"member('pxeclients') and not (option[93].hex == 0x0007 or option[93].hex == 0x0009) and not (option[93].hex == 0x0006)", "undionly.kpxe"},
		"ipxe": {"option[77].exists and option[77].hex == 'iPXE'", "http://192.0.2.10/boot.ipxe"},
	} {
		cl := migratetest.Class(d, name)
		if cl == nil || cl.Test != want[0] || cl.BootFile != want[1] {
			t.Errorf("class %s = %+v, want test %q file %q", name, cl, want[0], want[1])
		}
	}
	// The classes a test names come before it (member('x') may name only
	// classes listed before).
	if d.ClientClasses[0].Name != "pxeclients" {
		t.Errorf("class order %+v", d.ClientClasses)
	}
	s := d.Subnets[0]
	if !reflect.DeepEqual(s.Pools[0].Allow, []string{"pxeclients", "ipxe"}) || !reflect.DeepEqual(s.Pools[1].Deny, []string{"pxeclients"}) {
		t.Errorf("pools = %+v", s.Pools)
	}
	if s.RenewTime == nil || *s.RenewTime != 5*time.Minute || s.RebindTime == nil || *s.RebindTime != 525*time.Second {
		t.Errorf("T1/T2 = %v %v", s.RenewTime, s.RebindTime)
	}
	r := s.Reservations[0]
	if r.IP != "192.0.2.120" || r.HWAddress != "52:54:00:12:34:56" || r.BootFile != "pxelinux.0" || r.NextServer != "192.0.2.11" {
		t.Errorf("reservation = %+v", r)
	}
	// ISC's PXE space is hadhcpd's built-in pxe: no definitions for it.
	if !reflect.DeepEqual(d.OptionDefinitions, []dhcpscope.OptionDefinition{{Name: "arch", Code: 93, Type: "uint16"}}) {
		t.Errorf("definitions = %+v", d.OptionDefinitions)
	}
	migratetest.Load(t, res)
}

// UniFi: the vendor space is chosen by a class and its value set in the
// subnet; per-subnet authoritative.
func TestFixtureUniFi(t *testing.T) {
	res := convert(t, "testdata/unifi.conf", "")
	d := res.Config.DHCP
	cl := migratetest.Class(d, "ubnt")
	if cl == nil || cl.Test != "substring(option[60].hex,0,4) == 'ubnt'" ||
		fmt.Sprint(cl.Options["vendor_specific"]) != "map[options:map[unifi_address:198.51.100.5] space:ubnt]" {
		t.Fatalf("ubnt = %+v", cl)
	}
	if d.Authoritative == nil || !*d.Authoritative {
		t.Errorf("authoritative = %v (the only subnet says authoritative)", d.Authoritative)
	}
	if !reflect.DeepEqual(d.OptionDefinitions, []dhcpscope.OptionDefinition{{Name: "unifi_address", Code: 1, Space: "ubnt", Type: "ip"}}) {
		t.Errorf("definitions = %+v", d.OptionDefinitions)
	}
	migratetest.Load(t, res)
}

// Cisco phones: a class keyed by OUI (a lookup table, subclasses with
// one-digit octets), a subclass with its own option, an array and a
// record option definition, pools by class.
func TestFixturePhones(t *testing.T) {
	res := convert(t, "testdata/phones.conf", "")
	noProblems(t, res)
	d := res.Config.DHCP
	ph := migratetest.Class(d, "cisco-phones")
	if ph == nil || ph.Match != "substring(pkt4.mac,0,3)" || !reflect.DeepEqual(ph.Members, []string{"00:04:f2", "00:1b:d4", "00:1e:7a"}) {
		t.Fatalf("cisco-phones = %+v", ph)
	}
	if fmt.Sprint(ph.Options["voice_vlan"]) != "[120 voice]" || fmt.Sprint(ph.Options["cisco_tftp"]) != "[203.0.113.20 203.0.113.21]" || *ph.DefaultLeaseTime != 24*time.Hour {
		t.Errorf("cisco-phones options = %v", ph.Options)
	}
	sub := migratetest.Class(d, "cisco-phones:00:1e:7a")
	if sub == nil || sub.Test != "substring(pkt4.mac,0,3) == 0x001e7a" || fmt.Sprint(sub.Options["cisco_tftp"]) != "[203.0.113.22]" || d.ClientClasses[0].Name != sub.Name {
		t.Errorf("subclass with parameters = %+v (want first, before its class)", d.ClientClasses)
	}
	bm := migratetest.Class(d, "by-mac")
	if bm == nil || bm.Match != "hexstring(substring(pkt4.mac,0,6),':')" || !reflect.DeepEqual(bm.Members, []string{"'00:04:f2:01:02:03'"}) {
		t.Errorf("binary-to-ascii class = %+v (members padded as hexstring writes them)", bm)
	}
	want := []dhcpscope.OptionDefinition{{Name: "cisco_tftp", Code: 150, Type: "ips"}, {Name: "voice_vlan", Code: 242, Type: "record", Fields: []string{"uint16", "string"}}}
	if !reflect.DeepEqual(d.OptionDefinitions, want) {
		t.Errorf("definitions = %+v", d.OptionDefinitions)
	}
	migratetest.Load(t, res)
}

// Campus: a shared network of two subnets, --root for an absolute
// include, known/unknown pools, hosts by circuit id and remote id,
// `interface`, `remote-port`, `max-lease-time -1`, authoritative in the
// shared network while the top says not authoritative.
func TestFixtureCampusRoot(t *testing.T) {
	res := convert(t, "testdata/root/etc/dhcp/dhcpd.conf", "testdata/root")
	noProblems(t, res)
	d := res.Config.DHCP
	if len(d.SharedNetworks) != 1 || len(d.SharedNetworks[0].Subnets) != 2 || len(d.Subnets) != 0 {
		t.Fatalf("shared networks %+v subnets %+v", d.SharedNetworks, d.Subnets)
	}
	n := d.SharedNetworks[0]
	if n.Name != "building-a" || n.Options["domain_name"] != "a.campus.example" || n.RenewTime == nil || *n.RenewTime != 15*time.Minute {
		t.Errorf("shared network = %+v", n)
	}
	a, b := n.Subnets[0], n.Subnets[1]
	if !reflect.DeepEqual(a.Pools[0].Deny, []string{"unknown"}) || !reflect.DeepEqual(b.Pools[0].Allow, []string{"unknown"}) {
		t.Errorf("pools %+v %+v", a.Pools, b.Pools)
	}
	var circuit, remote, ws int
	for _, r := range a.Reservations {
		switch {
		case r.CircuitID == "'Gi1/0/3'" && r.IP == "192.0.2.50":
			circuit++
		case r.RemoteID == "00:11:22:33:44:55" && r.IP == "192.0.2.51":
			remote++
		case r.IP == "" && r.Options["domain_name"] == "staff.campus.example":
			ws++
		}
	}
	if circuit != 1 || remote != 1 || ws != 2 || len(b.Reservations) != 2 {
		t.Errorf("reservations %+v / %+v", a.Reservations, b.Reservations)
	}
	if d.Authoritative == nil || !*d.Authoritative || d.MaxLeaseTime != 365*24*time.Hour || !reflect.DeepEqual(d.Interfaces, []string{"eth1"}) {
		t.Errorf("authoritative %v max lease %v interfaces %v", d.Authoritative, d.MaxLeaseTime, d.Interfaces)
	}
	migratetest.ReportHas(t, res, "/etc/dhcp/campus-hosts.conf:8: host-identifier option agent.circuit-id", "remote-port 67: hadhcpd answers", "max-lease-time -1 -> dhcp.max_lease_time (infinite")
	migratetest.Load(t, res)
}

// Without --root the absolute include is reported, and the rest read.
func TestFixtureCampusNoRoot(t *testing.T) {
	res := convert(t, "testdata/root/etc/dhcp/dhcpd.conf", "")
	migratetest.ReportHas(t, res, "INVALID", "dhcpd.conf:32", "include: open /etc/dhcp/campus-hosts.conf", "with --root")
	if len(res.Config.DHCP.SharedNetworks) != 1 {
		t.Errorf("the file around the include is not mapped: %+v", res.Config.DHCP)
	}
}

// Cluster provisioning: 300 hosts in rack groups, each group's boot
// server, use-host-decl-names, allow bootp.
func TestFixtureCluster(t *testing.T) {
	res := convert(t, "testdata/cluster.conf", "")
	noProblems(t, res)
	d := res.Config.DHCP
	rs := d.Subnets[0].Reservations
	if len(rs) != 300 || d.BOOTP != "reserved" {
		t.Fatalf("%d reservations, bootp %q", len(rs), d.BOOTP)
	}
	r := rs[299]
	if r.Hostname != "node300" || r.NextServer != "198.51.100.16" || r.BootFile != "pxelinux.0" || r.IP != "198.51.101.144" || r.HWAddress != "02:00:00:06:00:32" {
		t.Errorf("last node = %+v", r)
	}
	migratetest.Load(t, res)
}

// Every problem of a file is reported with its line, and the rest is
// still mapped.
func TestFixtureProblems(t *testing.T) {
	res := convert(t, "testdata/problems.conf", "")
	want := map[string]migrate.Kind{
		"problems.conf:3":  migrate.Invalid,     // default-lease-time forever
		"problems.conf:5":  migrate.Invalid,     // sub-option code 0
		"problems.conf:7":  migrate.Unsupported, // ip6-address type
		"problems.conf:8":  migrate.Invalid,     // next-server by DNS name
		"problems.conf:9":  migrate.Unsupported, // unknown statement
		"problems.conf:11": migrate.Invalid,     // bad range address
		"problems.conf:13": migrate.Invalid,     // fixed-address by DNS name
		"problems.conf:14": migrate.Unsupported, // unknown block
		"problems.conf:16": migrate.Unsupported, // regex match
		"problems.conf:17": migrate.Invalid,     // overlapping subnet
	}
	got := map[string]migrate.Kind{}
	for _, it := range migratetest.SourceProblems(res.Report) {
		got[strings.TrimPrefix(it.Pos.String(), "testdata/")] = it.Kind
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems %v, want %v", got, want)
	}
	if p := res.Config.DHCP.Subnets[0].Pools; len(p) != 1 || p[0].Range != "192.0.2.20-192.0.2.30" {
		t.Errorf("the good range after a bad one: %+v", p)
	}
	if len(res.Config.DHCP.OptionDefinitions) != 1 {
		t.Errorf("the good definition after a bad one: %+v", res.Config.DHCP.OptionDefinitions)
	}
	// What is written of a bad source still passes check-config.
	migratetest.Load(t, res)
}

// boot-unknown-clients false: no address for clients without a host
// declaration, in every pool of the scope.
func TestBootUnknownClients(t *testing.T) {
	res, err := ParseConfig("x.conf", []byte("boot-unknown-clients false;\nsubnet 192.0.2.0 netmask 255.255.255.0 {\n range 192.0.2.10 192.0.2.20;\n pool { range 192.0.2.30 192.0.2.40; }\n}\nhost a { hardware ethernet 00:11:22:33:44:55; }\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Config.DHCP.Subnets[0]
	for _, p := range s.Pools {
		if !reflect.DeepEqual(p.Deny, []string{"unknown"}) {
			t.Errorf("pool %+v does not deny unknown clients", p)
		}
	}
	// The host without fixed-address now matters: it makes its client known.
	if len(s.Reservations) != 1 || s.Reservations[0].HWAddress != "00:11:22:33:44:55" || s.Reservations[0].IP != "" {
		t.Errorf("reservations %+v", s.Reservations)
	}
}

// A host with hardware ethernet and dhcp-client-identifier is matched by
// either, in dhcpd and in hadhcpd; a relay identifier stands alone.
func TestHostIdentifiers(t *testing.T) {
	res, err := ParseConfig("x.conf", []byte(`subnet 192.0.2.0 netmask 255.255.255.0 { range 192.0.2.10 192.0.2.20; }
host a { hardware ethernet 0:11:22:33:44:55; option dhcp-client-identifier 1:0:11:22:33:44:55; fixed-address 192.0.2.30; }
host b { host-identifier option agent.circuit-id "port7"; hardware ethernet 00:11:22:33:44:66; fixed-address 192.0.2.31; }
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := res.Config.DHCP.Subnets[0].Reservations
	if len(rs) != 2 || rs[0].HWAddress != "00:11:22:33:44:55" || rs[0].ClientID != "01:00:11:22:33:44:55" ||
		rs[1].CircuitID != "'port7'" || rs[1].HWAddress != "" {
		t.Errorf("reservations %+v", rs)
	}
	migratetest.ReportHas(t, res, "x.conf:3: hardware ethernet 00:11:22:33:44:66: host b is matched by its circuit_id")
}

// DOCSIS: ISC's vendor space is option 125, each enterprise carrying a
// space of sub-options.
func TestFixtureDOCSIS(t *testing.T) {
	res := convert(t, "testdata/docsis.conf", "")
	noProblems(t, res)
	got := fmt.Sprint(res.Config.DHCP.Subnets[0].Options["vivso_suboptions"])
	if got != "[map[enterprise:4491 options:map[tftp_servers:[192.0.2.5 192.0.2.6]] space:docsis]]" {
		t.Errorf("option 125 = %s", got)
	}
	migratetest.Load(t, res)
}

// Class names lose their quotes (check-config refuses them); subclass
// classes of text keys read as NAME:KEY.
func TestClassNames(t *testing.T) {
	res, err := ParseConfig("x.conf", []byte(`class "it's" { match option host-name; }
subclass "it's" "ap1" { filename "x"; }
subnet 192.0.2.0 netmask 255.255.255.0 { pool { allow members of "it's"; range 192.0.2.10 192.0.2.20; } }
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Config.DHCP
	if len(d.ClientClasses) != 2 || d.ClientClasses[0].Name != "its:ap1" || d.ClientClasses[1].Name != "its" || !reflect.DeepEqual(d.Subnets[0].Pools[0].Allow, []string{"its"}) {
		t.Errorf("classes %+v pools %+v", d.ClientClasses, d.Subnets[0].Pools)
	}
}

// A class declared in a subnet is a class like any other (dhcpd's
// classes are global).
func TestClassInSubnet(t *testing.T) {
	res, err := ParseConfig("x.conf", []byte("subnet 192.0.2.0 netmask 255.255.255.0 {\n range 192.0.2.10 192.0.2.20;\n class \"Arista\" { match if substring(option vendor-class-identifier, 0, 6) = \"Arista\"; option bootfile-name \"http://192.0.2.5/bootstrap\"; }\n}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := migratetest.Class(res.Config.DHCP, "Arista"); c == nil || c.Test != "substring(option[60].hex,0,6) == 'Arista'" || c.Options["boot_file_name"] != "http://192.0.2.5/bootstrap" {
		t.Errorf("classes %+v", res.Config.DHCP.ClientClasses)
	}
	if bad := migratetest.SourceProblems(res.Report); len(bad) > 0 {
		t.Errorf("problems %+v", bad)
	}
}

// DHCPv6 statements are not carried over, and not refused: hadhcpd
// serves DHCPv4.
func TestDHCPv6Dropped(t *testing.T) {
	res, err := ParseConfig("x.conf", []byte(`option dhcp6.name-servers 2001:db8::1;
subnet6 2001:db8::/64 { range6 2001:db8::100 2001:db8::200; }
host v6 { host-identifier option dhcp6.client-id 00:01:00:01; fixed-address6 2001:db8::5; }
subnet 192.0.2.0 netmask 255.255.255.0 { range 192.0.2.10 192.0.2.20; }
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if bad := migratetest.SourceProblems(res.Report); len(bad) > 0 {
		t.Errorf("problems %+v", bad)
	}
	if res.Report.Count(migrate.Dropped) != 5 { // the four statements and the host
		t.Errorf("report %+v", res.Report.Items)
	}
}
