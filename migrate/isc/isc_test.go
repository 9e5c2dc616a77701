package isc

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	dhcpscope "github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/hadhcpd/hadhcpd/migrate"
	"github.com/hadhcpd/hadhcpd/migrate/migratetest"
)

func importFile(t *testing.T, conf, leases string) *migrate.Result {
	t.Helper()
	res, err := migrate.Convert(migrate.Input{Format: Format(), Conf: conf, Leases: leases, Defaults: migrate.Defaults{Interfaces: []string{"eth0"}, StateDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestImportFailoverPair(t *testing.T) {
	p := importFile(t, "testdata/primary.conf", "testdata/dhcpd.leases")
	s := importFile(t, "testdata/secondary.conf", "")
	pc, sc := p.Config, s.Config

	pd, _ := migrate.MarshalSection(p.Config, "dhcp")
	sd, _ := migrate.MarshalSection(s.Config, "dhcp")
	if !bytes.Equal(pd, sd) {
		t.Errorf("dhcp sections differ:\nprimary:\n%s\nsecondary:\n%s", pd, sd)
	}
	if pc.Failover.Role != "primary" || sc.Failover.Role != "secondary" {
		t.Errorf("roles %q/%q, want primary/secondary", pc.Failover.Role, sc.Failover.Role)
	}
	if pc.Failover.Listen != "198.51.100.1:647" || pc.Failover.Peer != "198.51.100.2:847" ||
		sc.Failover.Listen != pc.Failover.Peer || sc.Failover.Peer != pc.Failover.Listen {
		t.Errorf("listen/peer not swapped: primary %s->%s secondary %s->%s", pc.Failover.Listen, pc.Failover.Peer, sc.Failover.Listen, sc.Failover.Peer)
	}
	f := pc.Failover
	if f.MCLT != 30*time.Minute || f.MaxResponseDelay != 30*time.Second || f.MaxUnackedUpdates != 10 ||
		f.Mode != "load-balance" || f.Split == nil || *f.Split != 128 || f.LoadBalanceMaxSeconds != 3 ||
		f.AutoPartnerDown == nil || *f.AutoPartnerDown != time.Minute {
		t.Errorf("primary failover = %+v", f)
	}

	d := pc.DHCP
	if d.DefaultLeaseTime != time.Hour || d.MaxLeaseTime != 2*time.Hour || d.MinLeaseTime != 5*time.Minute || d.Authoritative == nil || !*d.Authoritative {
		t.Errorf("lease times/authoritative = %v %v %v %v", d.DefaultLeaseTime, d.MaxLeaseTime, d.MinLeaseTime, d.Authoritative)
	}
	if len(d.Subnets) != 0 || len(d.SharedNetworks) != 1 || len(d.SharedNetworks[0].Subnets) != 1 || d.SharedNetworks[0].Subnets[0].Subnet != "192.0.2.0/24" {
		t.Fatalf("subnets = %+v, shared networks %+v", d.Subnets, d.SharedNetworks)
	}
	sub := d.SharedNetworks[0].Subnets[0]
	var pools []string
	for _, p := range sub.Pools {
		pools = append(pools, p.Range)
	}
	if got, want := strings.Join(pools, " "), "192.0.2.100-192.0.2.199 192.0.2.250-192.0.2.250"; got != want {
		t.Errorf("pools %q, want %q", got, want)
	}
	if len(sub.Reservations) != 2 || sub.Reservations[0].HWAddress != "00:11:22:33:44:05" || sub.Reservations[0].Hostname != "printer" ||
		sub.Reservations[1].ClientID != "01:00:11:22:33:44:56" || sub.Reservations[1].IP != "192.0.2.51" {
		t.Errorf("reservations = %+v", sub.Reservations)
	}
	if got := sub.Reservations[1].Options["domain_name"]; got != "lab.example.com" {
		t.Errorf("group option on host = %v", got)
	}
	if got := d.SharedNetworks[0].Options["broadcast_address"]; got != "192.0.2.255" {
		t.Errorf("shared-network option = %v", got)
	}
	if got := d.Options["my_motd"]; got != "say \"hi\"\tthere" {
		t.Errorf("defined option = %#v", got)
	}
	if len(d.OptionDefinitions) != 1 || !reflect.DeepEqual(d.OptionDefinitions[0], dhcpscope.OptionDefinition{Name: "my_motd", Code: 224, Type: "string"}) {
		t.Errorf("option definitions = %+v", d.OptionDefinitions)
	}
	if d.BOOTP != "off" {
		t.Errorf("bootp = %q, want off (deny bootp)", d.BOOTP)
	}
	if got := d.Options["domain_name_servers"]; toString(got) != "[192.0.2.53 192.0.2.54]" {
		t.Errorf("dns = %v", got)
	}
	if bad := migratetest.SourceProblems(p.Report); len(bad) > 0 {
		t.Errorf("unexpected unsupported statements: %+v", bad)
	}

	// Leases: the later block for .100 wins; .102 is free (no record).
	byAddr := map[string]migrate.Lease{}
	for _, l := range p.Leases {
		byAddr[l.Addr.String()] = l
	}
	if len(p.Leases) != 4 {
		t.Errorf("%d leases, want 4: %+v", len(p.Leases), p.Leases)
	}
	a := byAddr["192.0.2.100"]
	if a.State != migrate.LeaseActive || !a.Expiry.Equal(time.Date(2024, 1, 4, 10, 45, 0, 0, time.UTC)) ||
		string(a.ClientID) != "\x01RT\x00\x00\x00\x01" || a.Hostname != "alpha" || a.HWAddr.String() != "52:54:00:00:00:01" {
		t.Errorf(".100 = %+v", a)
	}
	b := byAddr["192.0.2.101"]
	if b.State != migrate.LeaseActive || b.Expiry.Unix() != 1704364200 || string(b.ClientID) != "\x01\x52\x54\x00\x00\x00\x02" {
		t.Errorf(".101 = %+v", b)
	}
	if byAddr["192.0.2.103"].State != migrate.LeaseExpired || byAddr["192.0.2.104"].State != migrate.LeaseAbandoned {
		t.Errorf("expired/abandoned = %v %v", byAddr["192.0.2.103"].State, byAddr["192.0.2.104"].State)
	}
	if _, ok := byAddr["192.0.2.102"]; ok {
		t.Errorf("free lease imported")
	}
	var rep bytes.Buffer
	if err := p.Report.WriteText(&rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"testdata/common/subnets.conf:8: failover peer \"lab-fo\"",
		"testdata/primary.conf:7: default-lease-time 3600 -> dhcp.default_lease_time",
		"testdata/primary.conf:3: ddns-update-style none: hadhcpd does no DNS updates",
		"6 lease blocks",
		"node.state_dir",
		"failover.auth.psk_file",
		"subnet 198.51.100.0/24: no range and no host: left out of shared network lab-lan",
	} {
		if !strings.Contains(rep.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, rep.String())
		}
	}
	migratetest.Load(t, p)
	migratetest.Load(t, s)
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []string:
		return "[" + strings.Join(x, " ") + "]"
	case []any:
		var s []string
		for _, e := range x {
			s = append(s, toString(e))
		}
		return "[" + strings.Join(s, " ") + "]"
	case map[string]any:
		return toString(x["value"])
	}
	return ""
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, conf, want string
	}{
		{"unterminated block", "subnet 192.0.2.0 netmask 255.255.255.0 {\n range 192.0.2.10 192.0.2.20;\n", "x.conf:1: block \"subnet 192.0.2.0 netmask 255.255.255.0 { ... }\" is not closed"},

		{"bad address", "subnet 192.0.2.0 netmask 255.255.255.0 {\n  range 192.0.2.10 192.0.2.300;\n}\n", "x.conf:2: range: \"192.0.2.300\" is not an IPv4 address"},
		{"bad subnet", "subnet 192.0.2.1 netmask 255.255.255.0 { }\n", "x.conf:1: 192.0.2.1 is not the network address"},
		{"missing semicolon", "subnet 192.0.2.0 netmask 255.255.255.0 {\n range 192.0.2.10 192.0.2.20\n}\n", "x.conf:3: missing ';'"},
		{"unterminated string", "option domain-name \"example.com;\n", "x.conf:1: unterminated quoted string"},
		{"stray brace", "authoritative;\n}\n", "x.conf:2: '}' without a block"},
		{"range outside subnet", "subnet 192.0.2.0 netmask 255.255.255.0 {\n range 198.51.100.1 198.51.100.9;\n}\n", "x.conf:2: range 198.51.100.1-198.51.100.9 is not inside subnet"},
		{"include missing", "include \"nope.conf\";\n", "x.conf:1: include:"},
		{"lease time", "default-lease-time forever;\n", "x.conf:1: default-lease-time: \"forever\" is not a number"},
		{"undeclared peer", "subnet 192.0.2.0 netmask 255.255.255.0 {\n pool {\n  failover peer \"x\";\n  range 192.0.2.10 192.0.2.20;\n }\n}\n", "x.conf:3: failover peer \"x\" is not declared"},
		{"failover no role", "failover peer \"x\" {\n address 198.51.100.1;\n peer address 198.51.100.2;\n}\n", "x.conf:1: failover peer \"x\": neither primary nor secondary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := ParseConfig("x.conf", []byte(tc.conf), os.ReadFile)
			if err != nil {
				t.Fatalf("ParseConfig stopped: %v", err)
			}
			// "x.conf:N: message": an Invalid item at x.conf:N saying so.
			at, msg, _ := strings.Cut(tc.want, ": ")
			for _, it := range res.Report.Items {
				if it.Kind == migrate.Invalid && strings.HasPrefix(at+":", it.Pos.String()+":") && strings.Contains(it.Note, msg) {
					return
				}
			}
			t.Fatalf("report %v, want an invalid item at %s saying %q", res.Report.Err(), at, msg)
		})
	}
}

func TestParseConfigUnsupported(t *testing.T) {
	for _, tc := range []struct {
		name, conf, want string
	}{
		{"unknown statement", "authoritative;\nfrobnicate yes;\n", "x.conf:2: frobnicate yes: unknown statement \"frobnicate\""},
		{"class", "class \"voip\" { match if substring(option vendor-class-identifier, 0, 4) ~= \"SIP/\"; }\n", "x.conf:1: match if"},
		{"dynamic bootp range", "subnet 192.0.2.0 netmask 255.255.255.0 {\n range dynamic-bootp 192.0.2.10 192.0.2.20;\n}\n", "x.conf:2: range dynamic-bootp"},
		{"ddns", "ddns-update-style interim;\n", "dynamic DNS updates are not supported"},
		{"pool next-server", "subnet 192.0.2.0 netmask 255.255.255.0 {\n pool {\n  next-server 192.0.2.1;\n  range 192.0.2.10 192.0.2.20;\n }\n}\n", "x.conf:3: next-server"},
		{"authenticated clients", "subnet 192.0.2.0 netmask 255.255.255.0 {\n pool {\n  deny authenticated clients;\n  range 192.0.2.10 192.0.2.20;\n }\n}\n", "a permit hadhcpd has no equivalent"},
		{"lease limit", "class \"c\" { match if exists agent.circuit-id; lease limit 4; }\n", "x.conf:1: lease limit 4"},
		{"unknown option", "option no-such-option off;\n", "not one hadhcpd knows by name"},
		{"host by name", "host a { hardware ethernet 00:11:22:33:44:55; fixed-address printer.example.com; }\n", "no DNS lookups"},
		{"if in one of two subnets", "subnet 192.0.2.0 netmask 255.255.255.0 {\n range 192.0.2.10 192.0.2.20;\n if exists user-class { filename \"x\"; }\n}\nsubnet 198.51.100.0 netmask 255.255.255.0 { range 198.51.100.10 198.51.100.20; }\n", "x.conf:3: if ... (in subnet 192.0.2.0/24)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := ParseConfig("x.conf", []byte(tc.conf), nil)
			if err != nil {
				t.Fatal(err)
			}
			err = res.Report.Err()
			if !errors.Is(err, migrate.ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("report error %v, want ErrUnsupported mentioning %q", err, tc.want)
			}
		})
	}
}

func TestParseLeasesErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"bad address", "lease 192.0.2.300 {\n binding state active;\n}\n", "l:1: want `lease IPV4-ADDRESS"},
		{"bad time", "lease 192.0.2.3 {\n starts 4 2024/13/04 10:00:00;\n}\n", "l:2: starts:"},
		{"bad state", "lease 192.0.2.3 {\n binding state dancing;\n}\n", "l:1: lease 192.0.2.3: unknown binding state"},
		{"unterminated", "lease 192.0.2.3 {\n binding state active;\n", "l:1: block"},
		{"unknown", "frob;\n", "l:1: unknown statement"},
		{"include", "include \"x\";\n", "includes are not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseLeases("l", strings.NewReader(tc.in), &migrate.Report{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLexer(t *testing.T) {
	in := "a \"b\\\"c\\\\d\\101\\x41\\n\" # comment ; {\n{e};f,=\"multi\nline\" g#c\nh"
	lx := newLexer("f", strings.NewReader(in))
	var got []string
	for {
		tk, err := lx.next()
		if err != nil {
			t.Fatal(err)
		}
		if tk.kind == tEOF {
			break
		}
		got = append(got, tk.str()+"@"+string(rune('0'+tk.line)))
	}
	want := []string{"a@1", "b\"c\\dAA\n@1", "{@2", "e@2", "}@2", ";@2", "f@2", ",@2", "=@2", "multi\nline@2", "g@3", "h@4"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tokens\n got %q\nwant %q", got, want)
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, p := range []string{"testdata/primary.conf", "testdata/common/subnets.conf", "testdata/pxe/dhcpd.conf", "testdata/unifi.conf",
		"testdata/phones.conf", "testdata/root/etc/dhcp/dhcpd.conf", "testdata/problems.conf", "testdata/docsis.conf"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("subnet 192.0.2.0 netmask 255.255.255.0 { range 192.0.2.1; host h { fixed-address 192.0.2.9; } }"))
	f.Fuzz(func(t *testing.T, b []byte) {
		inc := func(string) ([]byte, error) { return b, nil } // includes itself: the depth limit must hold
		res, err := ParseConfig("f.conf", b, inc)
		if err == nil {
			migrate.FinishNode(res.Config, migrate.Defaults{}, res.Report)
			if _, err := migrate.MarshalConfig(res.Config, ""); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzParseLeases(f *testing.F) {
	b, err := os.ReadFile("testdata/dhcpd.leases")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		ls, err := ParseLeases("f", bytes.NewReader(b), &migrate.Report{})
		if err == nil {
			for _, l := range ls {
				if !l.Addr.Is4() || l.Addr == (netip.Addr{}) {
					t.Fatalf("lease with address %v", l.Addr)
				}
			}
		}
	})
}

// The lease file's hand-written parsers must agree with the standard
// library they replace (time.Parse, netip.ParseAddr).
func TestParseDateTimeAndIPv4(t *testing.T) {
	for _, in := range []string{
		"2024/01/04 10:00:00", "2024/02/29 23:59:59", "2023/02/29 10:00:00", "2024/04/31 10:00:00",
		"2024/13/04 10:00:00", "2024/00/04 10:00:00", "2024/01/04 24:00:00", "2024/01/04 10:60:00",
		"2024/01/04 10:00:60", "2024-01-04 10:00:00", "2024/01/04 10:00", "2024/01/04x 10:00:00", "/01/04 10:00:00",
	} {
		d, c, _ := strings.Cut(in, " ")
		got, ok := parseDateTime([]byte(d), []byte(c))
		want, err := time.Parse("2006/01/02 15:04:05", in)
		if ok != (err == nil) || (ok && !got.Equal(want)) {
			t.Errorf("parseDateTime(%q) = %v, %v; time.Parse: %v, %v", in, got, ok, want, err)
		}
	}
	for _, in := range []string{"192.0.2.1", "0.0.0.0", "255.255.255.255", "256.0.0.1", "192.0.2", "192.0.2.1.5",
		"192.0.02.1", "192.0.2.", ".192.0.2", "1.2.3.4a", "", "::1", "192.0.2.0/24"} {
		got, ok := parseIPv4([]byte(in))
		want, err := netip.ParseAddr(in)
		wantOK := err == nil && want.Is4()
		if ok != wantOK || (ok && got != want) {
			t.Errorf("parseIPv4(%q) = %v, %v; netip: %v, %v", in, got, ok, want, err)
		}
	}
}

// TestRoutesFromBytes: ISC's `array of integer 8` form of option 121
// becomes "PREFIX ROUTER" pairs; bits beyond a width are masked off, as
// dhcpd sends them.
func TestRoutesFromBytes(t *testing.T) {
	v, err := routesFromBytes([]string{"24 10 1 2 192 168 1 1", "7 11 192 0 2 1"})
	if want := []string{"10.1.2.0/24 192.168.1.1", "10.0.0.0/7 192.0.2.1"}; err != nil || !reflect.DeepEqual(v, want) {
		t.Errorf("got %v, %v; want %q", v, err, want)
	}
	for _, in := range []string{"33 0 0 0 0 1 2 3 4", "24 10 1 2 192 168", "24 10 1 256 1 1 1 1"} {
		if _, err := routesFromBytes([]string{in}); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}
