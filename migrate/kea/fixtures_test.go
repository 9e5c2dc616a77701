package kea

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

func convert(t *testing.T, conf, root string, d migrate.Defaults) *migrate.Result {
	t.Helper()
	return migratetest.Convert(t, Format(), conf, root, d)
}

func problems(res *migrate.Result) map[string]string {
	out := map[string]string{}
	for _, it := range migratetest.SourceProblems(res.Report) {
		out[strings.TrimPrefix(it.Pos.String(), "testdata/")] = it.Source
	}
	return out
}

// PXE: classes by vendor class and architecture with boot fields, the PXE
// menu (a record) in option 43, a pool for PXE clients, a reservation in
// a pool with its own boot fields, T1/T2, decline probation, and Kea's
// default authoritative false.
func TestFixturePXE(t *testing.T) {
	res := convert(t, "testdata/pxe.json", "", migrate.Defaults{})
	if p := problems(res); len(p) > 0 {
		t.Errorf("problems %v", p)
	}
	d := res.Config.DHCP
	pxe := migratetest.Class(d, "pxe")
	if pxe == nil || pxe.NextServer != "192.0.2.10" || pxe.ServerName != "tftp1" ||
		fmt.Sprint(pxe.Options["vendor_specific"]) != "map[options:map[pxe_boot_menu:[32768 4 Boot] pxe_discovery_control:3] space:vendor_encapsulated_options_space]" {
		t.Fatalf("pxe = %+v", pxe)
	}
	if u := migratetest.Class(d, "pxe-uefi"); u == nil || u.BootFile != "ipxe.efi" || u.Test != "member('pxe') and (option[93].hex == 0x0007 or option[93].hex == 0x0009)" {
		t.Errorf("pxe-uefi = %+v", u)
	}
	s := d.Subnets[0]
	if !reflect.DeepEqual(s.Pools[0].Allow, []string{"pxe"}) || len(s.Pools[1].Allow) != 0 {
		t.Errorf("pools %+v", s.Pools)
	}
	if r := s.Reservations[0]; r.HWAddress != "52:54:00:12:34:56" || r.BootFile != "pxelinux.0" || r.NextServer != "192.0.2.11" || r.IP != "192.0.2.120" {
		t.Errorf("reservation %+v", r)
	}
	if d.RenewTime != 5*time.Minute || d.RebindTime != 525*time.Second || d.DeclineProbation != time.Hour || d.Authoritative == nil || *d.Authoritative {
		t.Errorf("T1 %v T2 %v probation %v authoritative %v", d.RenewTime, d.RebindTime, d.DeclineProbation, d.Authoritative)
	}
	want := []dhcpscope.OptionDefinition{
		{Name: "pxe_discovery_control", Code: 6, Space: migrate.SpaceKey(vendorSpace), Type: "uint8"},
		{Name: "pxe_boot_menu", Code: 9, Space: migrate.SpaceKey(vendorSpace), Type: "record", Fields: []string{"uint16", "uint8", "string"}},
	}
	if !reflect.DeepEqual(d.OptionDefinitions, want) {
		t.Errorf("definitions %+v", d.OptionDefinitions)
	}
	migratetest.Load(t, res)
}

// UniFi: option 43 redefined in the class to carry space ubnt. The one
// pool covers the whole subnet, so no free address is left for an
// invented VIP: the report asks for --vip, and --vip is taken.
func TestFixtureUniFi(t *testing.T) {
	res := convert(t, "testdata/unifi.json", "", migrate.Defaults{})
	cl := migratetest.Class(res.Config.DHCP, "ubnt")
	if cl == nil || fmt.Sprint(cl.Options["vendor_specific"]) != "map[options:map[unifi_address:198.51.100.5] space:ubnt]" {
		t.Fatalf("ubnt = %+v", cl)
	}
	if p := res.Config.DHCP.Subnets[0].Pools[0].Range; p != "198.51.100.1-198.51.100.254" {
		t.Errorf("pool %s (the CIDR pool without network and broadcast)", p)
	}
	migratetest.ReportHas(t, res, "no address the source leaves unused for the virtual IP: pass --vip")
	if len(res.Config.VRRP.Instances) != 0 {
		t.Errorf("a VIP was invented: %+v", res.Config.VRRP.Instances)
	}
	migratetest.Load(t, res)
	res = convert(t, "testdata/unifi.json", "", migrate.Defaults{VIP: "198.51.100.1"})
	if v := res.Config.VRRP.Instances[0].VirtualIPs; !reflect.DeepEqual(v, []string{"198.51.100.1/24"}) {
		t.Errorf("vip %v", v)
	}
	// The router is in the pool: the operator's choice is written, and
	// the report says check-config refuses it.
	migratetest.ReportHas(t, res, "from --vip; note: the source also uses this address", "check-config refuses the written configuration", "would lease its own virtual IP")
}

// Cisco phones: a class by OUI with an array and a record option, a
// pool for them, and the subnet setting the same option: Kea's answer
// (subnet before class) differs from hadhcpd's, which is reported.
func TestFixturePhones(t *testing.T) {
	res := convert(t, "testdata/phones.json", "", migrate.Defaults{})
	d := res.Config.DHCP
	cl := migratetest.Class(d, "cisco-phones")
	if cl == nil || fmt.Sprint(cl.Options["cisco_tftp"]) != "[203.0.113.20 203.0.113.21]" || fmt.Sprint(cl.Options["voice_vlan"]) != "[120 voice]" || *cl.DefaultLeaseTime != 24*time.Hour {
		t.Fatalf("cisco-phones = %+v", cl)
	}
	if got := fmt.Sprint(d.Subnets[0].Options["cisco_tftp"]); got != "[203.0.113.99]" {
		t.Errorf("option by code at the subnet = %s", got)
	}
	migratetest.ReportHas(t, res, "client class cisco-phones option cisco_tftp: also set in dhcp.subnets[203.0.113.0/24]: Kea gives that one")
	migratetest.Load(t, res)
}

// Campus: a shared network behind a relay, read with --root (an absolute
// <?include?>), reservations by circuit id, remote id, hw-address with
// one-digit octets and classes, a flex-id one reported, global
// reservations placed, KNOWN and class-restricted subnets, identifiers'
// order, control-sockets and server-hostname.
func TestFixtureCampusRoot(t *testing.T) {
	res := convert(t, "testdata/root/etc/kea/kea-dhcp4.conf", "testdata/root", migrate.Defaults{})
	if p := problems(res); !reflect.DeepEqual(p, map[string]string{"root/etc/kea/kea-dhcp4.conf:26": "flex-id 'xyz'"}) {
		t.Errorf("problems %v", p)
	}
	d := res.Config.DHCP
	if !reflect.DeepEqual(d.ReservationIdentifiers, []string{"circuit_id", "hw_address", "client_id"}) {
		t.Errorf("identifiers %v", d.ReservationIdentifiers)
	}
	n := d.SharedNetworks[0]
	if n.Name != "building-a" || !reflect.DeepEqual(n.Relays, []string{"198.51.100.1"}) || *n.RenewTime != 15*time.Minute || len(n.Subnets) != 2 {
		t.Fatalf("shared network %+v", n)
	}
	a, b := n.Subnets[0], n.Subnets[1]
	if a.ServerName != "boot-a" || !reflect.DeepEqual(a.Pools[0].Allow, []string{"known"}) || !reflect.DeepEqual(b.Pools[0].Allow, []string{"guests"}) {
		t.Errorf("subnets %+v %+v", a, b)
	}
	got := map[string]bool{}
	for _, r := range a.Reservations {
		got[fmt.Sprintf("%s|%s|%s|%s|%s|%v", r.CircuitID, r.RemoteID, r.HWAddress, r.ClientID, r.IP, r.ClientClasses)] = true
	}
	for _, w := range []string{"'Gi1/0/3'||||192.0.2.50|[]", "|00:11:22:33:44:55|||192.0.2.51|[]", "||00:16:3e:00:00:01|||[staff]", "||00:16:3e:00:00:09||192.0.2.60|[]", "|||01:00:16:3e:00:00:0a||[]"} {
		if !got[w] {
			t.Errorf("no reservation %s in %v", w, got)
		}
	}
	if len(b.Reservations) != 1 || b.Reservations[0].ClientID != "01:00:16:3e:00:00:0a" {
		t.Errorf("the global reservation without address is not in the second subnet: %+v", b.Reservations)
	}
	if g := migratetest.Class(d, "guests"); g == nil || g.Test != "not known" {
		t.Errorf("guests = %+v", g)
	}
	migratetest.ReportHas(t, res, "kea-dhcp4.conf:6: control-sockets", "/etc/kea/global-hosts.json:3: reservation")
	migratetest.Load(t, res)
}

func TestFixtureCampusNoRoot(t *testing.T) {
	_, err := migrate.Convert(migrate.Input{Format: Format(), Conf: "testdata/root/etc/kea/kea-dhcp4.conf"})
	if err == nil || !strings.Contains(err.Error(), "kea-dhcp4.conf:9: include: open /etc/kea/global-hosts.json") || !strings.Contains(err.Error(), "--root") {
		t.Errorf("error %v", err)
	}
}

// Kea HA load balancing: the pools of HA_server1 and HA_server2 become
// one pool of the pair, failover mode load-balance.
func TestFixtureHALoadBalance(t *testing.T) {
	res := convert(t, "testdata/ha-lb1.json", "", migrate.Defaults{})
	if p := problems(res); len(p) > 0 {
		t.Errorf("problems %v", p)
	}
	if f := res.Config.Failover; f == nil || f.Mode != "load-balance" || f.Role != "primary" {
		t.Fatalf("failover %+v", f)
	}
	if p := res.Config.DHCP.Subnets[0].Pools; len(p) != 1 || p[0].Range != "192.0.2.100-192.0.2.199" || len(p[0].Allow) != 0 {
		t.Errorf("pools %+v", p)
	}
	migratetest.Load(t, res)
}

// Cluster provisioning: 300 reservations with boot fields.
func TestFixtureCluster(t *testing.T) {
	res := convert(t, "testdata/cluster.json", "", migrate.Defaults{})
	if p := problems(res); len(p) > 0 {
		t.Errorf("problems %v", p)
	}
	rs := res.Config.DHCP.Subnets[0].Reservations
	if len(rs) != 300 || rs[299].Hostname != "node300" || rs[299].NextServer != "198.51.100.16" || rs[299].BootFile != "pxelinux.0" || rs[299].IP != "198.51.101.144" {
		t.Fatalf("%d reservations, last %+v", len(rs), rs[len(rs)-1])
	}
	migratetest.Load(t, res)
}

// Every problem of the file in one report, each with its line.
func TestFixtureProblems(t *testing.T) {
	res := convert(t, "testdata/problems.json", "", migrate.Defaults{})
	want := map[string]string{
		"problems.json:4":  "valid-lifetime",
		"problems.json:5":  "frobnicate",
		"problems.json:6":  "next-server tftp.example.com",
		"problems.json:8":  "option-def pad",
		"problems.json:9":  "option-def v6",
		"problems.json:13": "pool 192.0.2.1 - 192.0.2.300",
		"problems.json:14": "hw-address zz:11",
		"problems.json:15": "wibble",
	}
	if p := problems(res); !reflect.DeepEqual(p, want) {
		t.Errorf("problems\n got %v\nwant %v", p, want)
	}
	if p := res.Config.DHCP.Subnets[0].Pools; len(p) != 1 || p[0].Range != "192.0.2.10-192.0.2.20" {
		t.Errorf("the good pool after a bad one: %+v", p)
	}
	// What is written of a bad source still passes check-config.
	migratetest.Load(t, res)
}

// authoritative per subnet: hadhcpd's is global, taken when they agree.
func TestAuthoritativePerSubnet(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
		bad  bool
	}{
		{`"subnet4": [{"subnet": "192.0.2.0/24", "authoritative": true, "pools": [{"pool": "192.0.2.10-192.0.2.20"}]}]`, true, false},
		{`"authoritative": true, "subnet4": [{"subnet": "192.0.2.0/24", "authoritative": false, "pools": [{"pool": "192.0.2.10-192.0.2.20"}]}]`, false, false},
		{`"subnet4": [{"subnet": "192.0.2.0/24", "authoritative": true, "pools": [{"pool": "192.0.2.10-192.0.2.20"}]}, {"subnet": "198.51.100.0/24", "pools": [{"pool": "198.51.100.10-198.51.100.20"}]}]`, false, true},
	} {
		res, err := ParseConfig("k.json", []byte(`{"Dhcp4": {`+tc.in+`}}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		if a := res.Config.DHCP.Authoritative; a == nil || *a != tc.want || (res.Report.Err() != nil) != tc.bad {
			t.Errorf("%s: authoritative %v, report %v", tc.in, a, res.Report.Err())
		}
	}
}

// Kea's vendor-N space is option 125's sub-options of enterprise N.
func TestFixtureVIVSO(t *testing.T) {
	res := convert(t, "testdata/vivso.json", "", migrate.Defaults{})
	if p := problems(res); len(p) > 0 {
		t.Errorf("problems %v", p)
	}
	cl := migratetest.Class(res.Config.DHCP, "phones-1234")
	if cl == nil || cl.Test != "vendor-class[1234].exists" ||
		fmt.Sprint(cl.Options["vivso_suboptions"]) != "[map[enterprise:1234 options:map[provisioning_url:https://192.0.2.11/prov vlan:120] space:vendor_1234]]" {
		t.Fatalf("phones-1234 = %+v", cl)
	}
	migratetest.Load(t, res)
}

// Kea HA load balancing with classes per server: member('HA_s1') is every
// client (the pair splits them itself), the HA_ pools merge.
func TestFixtureHALoadBalanceClasses(t *testing.T) {
	res := convert(t, "testdata/ha-lb2.json", "", migrate.Defaults{})
	if p := problems(res); len(p) > 0 {
		t.Errorf("problems %v", p)
	}
	d := res.Config.DHCP
	if c := migratetest.Class(d, "phones_s2"); c == nil || c.Test != "member('phones') and member('ALL')" {
		t.Errorf("phones_s2 = %+v", c)
	}
	var got []string
	for _, p := range d.Subnets[0].Pools {
		got = append(got, fmt.Sprint(p.Range, p.Allow))
	}
	if want := "192.0.2.100-192.0.2.124[phones_s1] 192.0.2.125-192.0.2.149[phones_s2] 192.0.2.150-192.0.2.199[]"; strings.Join(got, " ") != want {
		t.Errorf("pools %v, want %s", got, want)
	}
	if f := res.Config.Failover; f == nil || f.Mode != "load-balance" || f.Role != "secondary" {
		t.Errorf("failover %+v", f)
	}
	migratetest.Load(t, res)
}
