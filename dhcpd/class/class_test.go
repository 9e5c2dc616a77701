package class

import (
	"errors"
	"net"
	"sort"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// wire builds a packet with insomniacslk/dhcp and parses it back from its
// bytes, so that tests see what the server sees from the socket.
func wire(t testing.TB, mac string, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	mods = append([]dhcpv4.Modifier{dhcpv4.WithTransactionID(dhcpv4.TransactionID{0xde, 0xad, 0xbe, 0xef})}, mods...)
	p, err := dhcpv4.NewDiscovery(hw, mods...)
	if err != nil {
		t.Fatal(err)
	}
	q, err := dhcpv4.FromBytes(p.ToBytes())
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func opt(code uint8, v []byte) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(code), v))
}

func sopt(code uint8, v string) dhcpv4.Modifier { return opt(code, []byte(v)) }

// tlv builds code/length/value sub-options.
func tlv(kv ...any) []byte {
	var b []byte
	for i := 0; i < len(kv); i += 2 {
		v := kv[i+1]
		var d []byte
		switch v := v.(type) {
		case string:
			d = []byte(v)
		case []byte:
			d = v
		}
		b = append(b, byte(kv[i].(int)), byte(len(d)))
		b = append(b, d...)
	}
	return b
}

// vendorOpt builds an RFC 3925 option 124/125 body for one enterprise.
func vendorOpt(ent uint32, data []byte) []byte {
	return append([]byte{byte(ent >> 24), byte(ent >> 16), byte(ent >> 8), byte(ent), byte(len(data))}, data...)
}

// packets are real clients, by name.
func packets(t testing.TB) map[string]*dhcpv4.DHCPv4 {
	return map[string]*dhcpv4.DHCPv4{
		// PXE ROM of a legacy BIOS (Intel UNDI), arch 0 (RFC 4578 §2.1).
		"pxe-bios": wire(t, "00:1e:67:aa:bb:01",
			sopt(60, "PXEClient:Arch:00000:UNDI:002001"),
			opt(93, []byte{0, 0}),
			opt(94, []byte{1, 2, 1}),
			opt(97, append([]byte{0}, make([]byte, 16)...))),
		// UEFI x64 firmware, arch 7 (IANA "x64 UEFI"; RFC 4578 said EFI BC).
		"pxe-uefi7": wire(t, "3c:ec:ef:00:00:07",
			sopt(60, "PXEClient:Arch:00007:UNDI:003016"),
			opt(93, []byte{0, 7})),
		// UEFI x86-64 as many firmwares send it, arch 9.
		"pxe-uefi9": wire(t, "3c:ec:ef:00:00:09",
			sopt(60, "PXEClient:Arch:00009:UNDI:003016"),
			opt(93, []byte{0, 9})),
		// iPXE chain-loaded from UEFI: user class "iPXE" (option 77).
		"ipxe": wire(t, "3c:ec:ef:00:00:07",
			sopt(60, "PXEClient:Arch:00007:UNDI:003016"),
			opt(93, []byte{0, 7}),
			sopt(77, "iPXE")),
		// Windows 10 client.
		"windows": wire(t, "d4:81:d7:12:34:56",
			sopt(60, "MSFT 5.0"),
			sopt(12, "DESKTOP-1"),
			opt(61, []byte{1, 0xd4, 0x81, 0xd7, 0x12, 0x34, 0x56})),
		// Cisco IP phone (Cisco OUI 00:1b:d4), its vendor class.
		"cisco-phone": wire(t, "00:1b:d4:01:02:03",
			sopt(60, "Cisco Systems, Inc. IP Phone CP-7965G")),
		// Polycom phone (OUI 00:04:f2) with no vendor class.
		"polycom": wire(t, "00:04:f2:aa:bb:cc"),
		// UniFi access point.
		"unifi": wire(t, "24:5a:4c:10:20:30",
			sopt(60, "ubnt")),
		// Relayed through 198.51.100.1: circuit id, remote id, and
		// subscriber id 82.6 (RFC 3993).
		"relayed": wire(t, "00:11:22:33:44:55",
			dhcpv4.WithRelay(net.IPv4(198, 51, 100, 1)),
			opt(82, tlv(1, "eth0/1/3", 2, []byte{0x00, 0x11, 0x22}, 6, "sub-42"))),
		// Cable modem: DOCSIS vendor class 124 (CableLabs 4491) and
		// vendor-specific 125 (Broadband Forum 3561, TR-111 sub-options).
		"modem": wire(t, "00:15:a4:01:02:03",
			sopt(60, "docsis3.0"),
			opt(124, vendorOpt(4491, append([]byte{9}, "docsis3.0"...))),
			opt(125, vendorOpt(3561, tlv(1, "00D09E", 2, "SERIAL123", 3, "HGW")))),
		// A request (msgtype 3) renewing from 192.0.2.150.
		"renew": wire(t, "00:11:22:33:44:66",
			dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
			dhcpv4.WithClientIP(net.IPv4(192, 0, 2, 150))),
	}
}

func names(m map[string]*dhcpv4.DHCPv4) []string {
	var n []string
	for k := range m {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// classIndex is a configuration's class list: pxe (2), uefi (3), phones (4).
func classIndex(name string) (int, bool) {
	switch name {
	case "KNOWN":
		return Known, true
	case "UNKNOWN":
		return Unknown, true
	case "pxe":
		return First, true
	case "uefi":
		return First + 1, true
	case "phones":
		return First + 2, true
	}
	return 0, false
}

func TestMatchRealConfigs(t *testing.T) {
	pk := packets(t)
	// in: the classes the client is already in, per packet.
	in := map[string]*Set{}
	for _, n := range names(pk) {
		s := &Set{}
		s.Add(Unknown)
		if strings.HasPrefix(n, "pxe") || n == "ipxe" {
			s.Add(First)
		}
		if n == "pxe-uefi7" || n == "pxe-uefi9" || n == "ipxe" {
			s.Add(First + 1)
		}
		if n == "windows" {
			s = &Set{}
			s.Add(Known)
		}
		in[n] = s
	}
	tests := []struct {
		expr string
		want string // packets that match, space-separated, sorted
	}{
		// PXE (Kea ARM examples, ISC "option vendor-class-identifier" translations).
		{"substring(option[60].hex,0,9) == 'PXEClient'", "ipxe pxe-bios pxe-uefi7 pxe-uefi9"},
		{"substring(option[60].hex,0,9) == 'PXEClient' and option[93].hex == 0x0007", "ipxe pxe-uefi7"},
		{"option[93].hex == 0x0000", "pxe-bios"},
		{"option[93].hex == 0x0007 or option[93].hex == 0x0009", "ipxe pxe-uefi7 pxe-uefi9"},
		{"option[client-system].hex == 0x0009", "pxe-uefi9"},
		{"substring(option[60].hex,0,20) == 'PXEClient:Arch:00007'", "ipxe pxe-uefi7"},
		{"option[77].hex == 'iPXE'", "ipxe"},
		{"substring(option[60].hex,0,9) == 'PXEClient' and not (option[77].hex == 'iPXE')", "pxe-bios pxe-uefi7 pxe-uefi9"},
		{"option[user-class].exists", "ipxe"},
		{"option[97].exists and option[94].exists", "pxe-bios"},
		// Integer comparisons: 4-byte Kea integers, and numbers.
		{"option[93].hex == 7", "ipxe pxe-uefi7"},
		{"option[93].hex == 0", "pxe-bios"},
		{"pkt4.msgtype == 1", "cisco-phone ipxe modem polycom pxe-bios pxe-uefi7 pxe-uefi9 relayed unifi windows"},
		{"pkt4.msgtype == 3", "renew"},
		{"pkt4.msgtype == 0x03", "renew"},
		{"pkt4.msgtype == 0x00000003", "renew"},
		{"pkt4.htype == 1 and pkt4.hlen == 6", "cisco-phone ipxe modem polycom pxe-bios pxe-uefi7 pxe-uefi9 relayed renew unifi windows"},
		{"pkt4.htype == 6", ""},
		{"pkt4.transid == 0xdeadbeef", "cisco-phone ipxe modem polycom pxe-bios pxe-uefi7 pxe-uefi9 relayed renew unifi windows"},
		{"pkt4.transid == 3735928559", "cisco-phone ipxe modem polycom pxe-bios pxe-uefi7 pxe-uefi9 relayed renew unifi windows"},
		// Windows, UniFi, Cisco phones.
		{"option[60].text == 'MSFT 5.0'", "windows"},
		{"option[vendor-class-identifier].text == 'MSFT 5.0'", "windows"},
		{"substring(option[60].hex,0,4) == 'MSFT'", "windows"},
		{"option[60].text == 'ubnt'", "unifi"},
		{"substring(option[60].hex,0,28) == 'Cisco Systems, Inc. IP Phone'", "cisco-phone"},
		{"lcase(substring(option[60].text,0,5)) == 'cisco'", "cisco-phone"},
		{"ucase(option[60].text) == 'UBNT'", "unifi"},
		{"lcase('AZaz09') == 'azaz09' and ucase('AZaz09') == 'AZAZ09' and option[60].text == 'ubnt'", "unifi"},
		{"0x000000000000000000000007 == 7 and 0x010000000000000007 == 7 and option[60].text == 'ubnt'", ""},
		{"0x000000000000000000000007 == 7 and option[60].text == 'ubnt'", "unifi"},
		// OUI prefixes on the MAC.
		{"substring(pkt4.mac,0,3) == 0x0004f2", "polycom"},
		{"substring(pkt4.mac,0,3) == 0x001bd4 or substring(pkt4.mac,0,3) == 0x0004f2", "cisco-phone polycom"},
		{"substring(hexstring(pkt4.mac,':'),0,8) == '00:04:f2'", "polycom"},
		{"hexstring(pkt4.mac, ':') == '00:11:22:33:44:55'", "relayed"},
		{"hexstring(substring(pkt4.mac,0,3),'') == '245a4c'", "unifi"},
		{"pkt4.mac == 0x3cecef000007", "ipxe pxe-uefi7"},
		// Relay agent information.
		{"relay4[1].hex == 'eth0/1/3'", "relayed"},
		{"option[82].option[1].hex == 'eth0/1/3'", "relayed"},
		{"relay4[2].hex == 0x001122", "relayed"},
		{"option[82].option[6].hex == 'sub-42'", "relayed"},
		{"relay4[6].exists and not relay4[5].exists", "relayed"},
		{"option[82].option[2].exists", "relayed"},
		{"option[82].exists", "relayed"},
		{"concat(relay4[1].hex, relay4[6].hex) == 'eth0/1/3sub-42'", "relayed"},
		{"relay4[1].hex + '|' + relay4[6].hex == 'eth0/1/3|sub-42'", "relayed"},
		{"pkt4.giaddr == 198.51.100.1", "relayed"},
		{"pkt4.giaddr == 0.0.0.0", "cisco-phone ipxe modem polycom pxe-bios pxe-uefi7 pxe-uefi9 renew unifi windows"},
		{"pkt4.ciaddr == 192.0.2.150", "renew"},
		{"pkt4.ciaddr == 0xc0000296", "renew"},
		{"pkt4.yiaddr == 0.0.0.0 and pkt4.siaddr == 0.0.0.0", "cisco-phone ipxe modem polycom pxe-bios pxe-uefi7 pxe-uefi9 relayed renew unifi windows"},
		// Vendor options (RFC 3925).
		{"vendor-class[4491].exists", "modem"},
		{"vendor-class[*].exists", "modem"},
		{"vendor-class[4491].data == 'docsis3.0'", "modem"},
		{"vendor-class[4491].data[0] == 'docsis3.0'", "modem"},
		{"vendor-class.enterprise == 4491", "modem"},
		{"vendor[3561].exists", "modem"},
		{"vendor[4491].exists", ""},
		{"vendor[*].exists", "modem"},
		{"vendor[3561].option[2].hex == 'SERIAL123'", "modem"},
		{"vendor[3561].option[3].exists", "modem"},
		{"vendor[3561].option[4].exists", ""},
		{"vendor.enterprise == 3561", "modem"},
		// Classes.
		{"member('pxe')", "ipxe pxe-bios pxe-uefi7 pxe-uefi9"},
		{"member('pxe') and not member('uefi')", "pxe-bios"},
		{"known", "windows"},
		{"member('KNOWN')", "windows"},
		{"unknown and option[60].exists", "cisco-phone ipxe modem pxe-bios pxe-uefi7 pxe-uefi9 unifi"},
		{"member('UNKNOWN') and not option[60].exists", "polycom relayed renew"},
		{"member('ALL') and option[60].text == 'ubnt'", "unifi"},
		// Functions.
		{"substring(option[60].hex,-4,all) == 'ubnt'", "unifi"},
		{"substring(option[60].hex,-6,'all') == '003016'", "ipxe pxe-uefi7 pxe-uefi9"},
		{"substring(option[60].hex,4,-4) == 'MSFT'", "windows"},
		{"substring(option[60].hex,20,-5) == 'Arch:00007'", ""},
		{"substring(option[60].hex,20,-6) == 'Arch:00007'", ""},
		{"substring(option[60].hex,20,-10) == 'Arch:00007'", "ipxe pxe-uefi7"},
		{"ifelse(option[93].exists, option[93].hex, 0xffff) == 0xffff", "cisco-phone modem polycom relayed renew unifi windows"},
		{"split(option[60].text, ':', 3) == '00007'", "ipxe pxe-uefi7"},
		{"split(option[60].text, ':', 1) == 'PXEClient'", "ipxe pxe-bios pxe-uefi7 pxe-uefi9"},
		{"(option[60].text == 'ubnt' or option[60].text == 'MSFT 5.0') and pkt4.htype == 1", "unifi windows"},
		{"addrtotext(pkt4.giaddr) == '198.51.100.1'", "relayed"},
		{"addrtotext(pkt4.ciaddr) == '192.0.2.150'", "renew"},
		{"uint16totext(option[93].hex) == '7'", "ipxe pxe-uefi7"},
		{"uint8totext(substring(pkt4.mac,5,1)) == '255' or int8totext(substring(pkt4.mac,5,1)) == '-1'", ""},
		{"uint8totext(substring(pkt4.mac,5,1)) == '85' and int8totext(substring(pkt4.mac,5,1)) == '85'", "relayed"},
		{"int8totext(substring(pkt4.mac,2,1)) == '-17' and uint8totext(substring(pkt4.mac,2,1)) == '239'", "ipxe pxe-uefi7 pxe-uefi9"},
		{"int16totext(0xfffe) == '-2' and int32totext(0xfffffffe) == '-2' and uint32totext(pkt4.transid) == '3735928559' and option[60].text == 'ubnt'", "unifi"},
		{"not (uint16totext(option[60].hex) == 'x')", "polycom relayed renew"},
		{"uint8totext(option[1].hex) == ''", "cisco-phone ipxe modem polycom pxe-bios pxe-uefi7 pxe-uefi9 relayed renew unifi windows"},
		{"addrtotext(0x20010db8000000000000000000000001) == '2001:db8::1' and option[60].text == 'ubnt'", "unifi"},
		{"sifelse(option[93].exists, option[93].hex, 0xffff) == 0xffff", "cisco-phone modem polycom relayed renew unifi windows"},
		{"option[vendor_class_identifier].text == 'MSFT 5.0'", "windows"},
		{"not not option[60].text == 'ubnt'", "unifi"},
		{"option[12].text == 'DESKTOP-1' sand option[61].hex == 0x01d481d7123456", "windows"},
	}
	for _, tc := range tests {
		e, err := Compile(tc.expr, classIndex)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.expr, err)
			continue
		}
		big := *e
		big.small = false
		var got []string
		for _, n := range names(pk) {
			m := e.Match(pk[n], in[n])
			if m {
				got = append(got, n)
			}
			// The small scratch path must answer as the big one does.
			if b := big.Match(pk[n], in[n]); b != m {
				t.Errorf("%s on %s: %v with small scratch (need %d), %v with %d bytes", tc.expr, n, m, need(e.root), b, scratchSize)
			}
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%s\n got: %s\nwant: %s", tc.expr, g, tc.want)
		}
	}
}

func TestSubstringKea(t *testing.T) {
	// Kea's own table (src/lib/eval/tests/token_unittest.cc, substring
	// tests) on 'foobar'.
	tests := []struct {
		start, length int
		all           bool
		want          string
	}{
		{0, 6, false, "foobar"}, {0, 4, false, "foob"}, {2, 4, false, "obar"},
		{0, 0, true, "foobar"}, {3, 0, true, "bar"}, {0, 10, false, "foobar"},
		{-1, 0, true, "r"}, {-3, 0, true, "bar"}, {-6, 0, true, "foobar"},
		{-7, 0, true, ""}, {6, 1, false, ""}, {10, 1, false, ""},
		{1, -1, false, "f"}, {3, -2, false, "oo"}, {3, -5, false, "foo"},
		{-1, -1, false, "a"}, {-1, -4, false, "ooba"}, {0, -1, false, ""},
		{0, 0, false, ""}, {2, 0, false, ""},
	}
	for _, tc := range tests {
		if got := string(substring([]byte("foobar"), tc.start, tc.length, tc.all)); got != tc.want {
			t.Errorf("substring('foobar', %d, %d, all=%v) = %q, want %q", tc.start, tc.length, tc.all, got, tc.want)
		}
	}
	if got := substring(nil, 0, 1, false); len(got) != 0 {
		t.Errorf("substring of empty = %q", got)
	}
}

func TestLiterals(t *testing.T) {
	p := wire(t, "00:11:22:33:44:55", sopt(60, "it's"), sopt(12, `C:\dir`), opt(43, []byte{0x07}))
	for _, expr := range []string{
		`option[60].hex == 'it\'s'`,
		`option[12].hex == 'C:\dir'`,
		`option[43].hex == 0x7`,
		`option[43].hex == 0X07`,
		`option[60].hex == 0x69742773`,
		"option[60].hex ==\n\t'it\\'s'",
	} {
		e, err := Compile(expr, nil)
		if err != nil {
			t.Errorf("Compile(%q): %v", expr, err)
			continue
		}
		if !e.Match(p, nil) {
			t.Errorf("%s: no match", expr)
		}
	}
}

func TestValue(t *testing.T) {
	pk := packets(t)
	tests := []struct {
		expr, pkt string
		want      string // hex; "" = absent
	}{
		{"substring(pkt4.mac,0,3)", "polycom", "0004f2"},
		{"pkt4.mac", "relayed", "001122334455"},
		{"hexstring(pkt4.mac,':')", "relayed", "30303a31313a32323a33333a34343a3535"},
		{"option[60].hex", "unifi", "75626e74"},
		{"option[60].hex", "polycom", ""},
		{"relay4[1].hex", "relayed", "657468302f312f33"},
		{"relay4[1].hex", "windows", ""},
		{"ifelse(relay4[1].exists, relay4[1].hex, pkt4.mac)", "windows", "d481d7123456"},
		{"concat(relay4[2].hex, relay4[6].hex)", "relayed", "0011227375622d3432"},
		{"pkt4.htype", "relayed", "00000001"},
		{"substring(option[60].hex, 100, 2)", "windows", ""},
	}
	for _, tc := range tests {
		v, err := CompileValue(tc.expr)
		if err != nil {
			t.Errorf("CompileValue(%q): %v", tc.expr, err)
			continue
		}
		buf := []byte("key:")
		out, ok := v.Append(buf, pk[tc.pkt])
		if tc.want == "" {
			if ok || string(out) != "key:" {
				t.Errorf("%s on %s = %x, %v; want absent", tc.expr, tc.pkt, out, ok)
			}
			continue
		}
		if !ok || !strings.HasPrefix(string(out), "key:") || hexOf(out[4:]) != tc.want {
			t.Errorf("%s on %s = %q, %v; want key:%s", tc.expr, tc.pkt, out, ok, tc.want)
		}
	}
}

func hexOf(b []byte) string {
	const d = "0123456789abcdef"
	var s []byte
	for _, c := range b {
		s = append(s, d[c>>4], d[c&15])
	}
	return string(s)
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		expr   string
		offset int
		msg    string
	}{
		{"option[60].hexx == 'a'", 11, "unknown field 'hexx' (want hex, text, exists, option)"},
		{"pkt4.macc == 0x00", 5, "unknown field 'macc' (want mac, hlen, htype, ciaddr, giaddr, yiaddr, siaddr, msgtype, transid)"},
		{"relay4[1].exist", 10, "unknown field 'exist' (want hex, text, exists)"},
		{"option[60].hex", 0, "option[60].hex is a value, not a test"},
		{"option[60].hex and option[61].exists", 0, "'and' needs a test, but option[60].hex is a value"},
		{"option[61].exists or 'x'", 21, "'or' needs a test, but 'x' is a value"},
		{"not option[60].hex", 4, "'not' needs a test"},
		{"option[60].exists == 'true'", 0, "'==' needs a value, but option[60].exists is a test"},
		{"substr(option[60].hex,0,3) == 'abc'", 0, "unknown function 'substr'"},
		{"foo == 'a'", 0, "unknown name 'foo'"},
		{"member('later')", 7, "class 'later' is not defined before this one"},
		{"option[300].hex == 'a'", 7, "option code 300 out of range"},
		{"option[no-such-option].hex == 'a'", 7, "unknown option name 'no-such-option'"},
		{"option[60].hex == 'abc", 18, "unterminated string"},
		{"option[60].hex = 'a'", 15, "'=' is not an operator"},
		{"option[60].hex != 'a'", 15, "'!=' is not an operator"},
		{"option[60].hex == \"a\"", 18, "strings are single-quoted"},
		{"(option[60].exists", 18, "expected ')' to close the '(' at offset 0"},
		{"option[60].exists option[61].exists", 18, "unexpected \"option\" after a complete expression"},
		{"option[60].exists AND option[61].exists", 18, "operators are lower case"},
		{"substring(option[60].hex, 0) == 'a'", 27, "expected ','"},
		{"substring(option[60].hex, 'x', 2) == 'a'", 26, "substring() wants an integer start here"},
		{"option[43].option[1].hex == 'a'", 11, "sub-options are readable only in option[82]"},
		{"", 0, "empty expression"},
		{"option[60].hex == ", 18, "expression ends too early"},
		{"pkt4.msgtype == 4294967296", 16, "out of range 0..4294967295"},
		{"0x == 'a'", 0, "has no digits"},
		{"0x12g == 'a'", 4, "invalid hex digit"},
		{"match('^a', option[60].text)", 0, "'match' (regular expressions) is not supported"},
		{"pkt.iface == 'eth0'", 0, "'pkt' is not supported"},
		{"option[60].hex == 'a' == 'b'", 22, "'==' does not chain"},
		{"ifelse(option[60].hex, 'a', 'b') == 'a'", 7, "ifelse() needs a test"},
		{"vendor[x].exists", 7, "expected an enterprise number or *"},
		{"hexstring(pkt4.mac) == 'x'", 18, "wrong number of arguments: hexstring(value, 'separator')"},
		{"member(pxe)", 7, "member() takes a quoted class name: member('name')"},
		{"option[60].hex == 'a')", 21, "unmatched ')'"},
		{"option[60].hex == PXEClient", 18, "unknown name 'PXEClient' (a string is quoted: 'PXEClient'"},
		{"option[60] == 'x'", 11, "expected '.' after option[60] (want .hex, .text, .exists, .option)"},
		{"pkt4.giaddr == 192.0.2", 15, "malformed number \"192.0.2\""},
		{strings.Repeat("(", 65) + "known" + strings.Repeat(")", 65), 64, "nested more than 64 levels"},
	}
	for _, tc := range tests {
		_, err := Compile(tc.expr, classIndex)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q) = %v, want a *SyntaxError", tc.expr, err)
			continue
		}
		if se.Offset != tc.offset || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("Compile(%q) = offset %d %q\nwant offset %d containing %q", tc.expr, se.Offset, se.Msg, tc.offset, tc.msg)
		}
	}
	for _, src := range []string{"option[60].exists", "member('KNOWN')", "known"} {
		_, err := CompileValue(src)
		if err == nil {
			t.Errorf("CompileValue(%q) = nil error, want one", src)
		}
	}
}

func TestConcurrentMatch(t *testing.T) {
	pk := packets(t)
	e, err := Compile("hexstring(pkt4.mac,':') == '00:11:22:33:44:55' and concat(relay4[1].hex, 'x') == 'eth0/1/3x'", nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			ok := true
			for i := 0; i < 500; i++ {
				ok = ok && e.Match(pk["relayed"], nil) && !e.Match(pk["windows"], nil)
			}
			done <- ok
		}()
	}
	for g := 0; g < 4; g++ {
		if !<-done {
			t.Error("concurrent Match gave a wrong answer")
		}
	}
}

func TestScratchOverflowDoesNotMatch(t *testing.T) {
	// Each hexstring of 255 bytes with a 16-byte separator is ~4.5 KiB:
	// more than the scratch space. The test fails to evaluate, and a test
	// that cannot be evaluated does not match (not even under not).
	big := make([]byte, 255)
	p := wire(t, "00:11:22:33:44:55", opt(224, big))
	e, err := Compile("not (hexstring(option[224].hex, '----------------') == 'x')", nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.Match(p, nil) {
		t.Error("an overflowing test matched")
	}
	e, err = Compile("not (hexstring(option[224].hex, ':') == 'x')", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Match(p, nil) {
		t.Error("a test within the scratch space did not match")
	}
}

func TestParseMember(t *testing.T) {
	good := []struct{ in, want string }{
		{"00:04:f2", "0004f2"},
		{"00-04-F2", "0004f2"},
		{"0004f2", "0004f2"},
		{"0x0004f2", "0004f2"},
		{"1:0:4:f2", "010004f2"},
		{"'eth0/1/3'", "657468302f312f33"},
		{`'it\'s'`, "69742773"},
		{`'C:\'`, "433a5c"},
	}
	for _, tc := range good {
		b, err := ParseMember(tc.in)
		if err != nil || hexOf(b) != tc.want {
			t.Errorf("ParseMember(%q) = %x, %v; want %s", tc.in, b, err, tc.want)
		}
	}
	for _, in := range []string{"", "''", "'abc", "'a'b'", "004f2", "00::04", "00:004:f2", "zz", "0x", "phones"} {
		if b, err := ParseMember(in); err == nil {
			t.Errorf("ParseMember(%q) = %x, want an error", in, b)
		}
	}
}

func TestNestingBounded(t *testing.T) {
	ok := strings.Repeat("(", 30) + "known" + strings.Repeat(")", 30)
	if _, err := Compile(ok, nil); err != nil {
		t.Errorf("30 levels: %v", err)
	}
	for _, src := range []string{
		strings.Repeat("(", 100) + "known" + strings.Repeat(")", 100),
		strings.Repeat("not ", 100) + "known",
		strings.Repeat("lcase(", 100) + "'a'" + strings.Repeat(")", 100) + " == 'a'",
	} {
		_, err := Compile(src, nil)
		if err == nil || !strings.Contains(err.Error(), "nested more than") {
			t.Errorf("Compile(%.20q...) = %v, want a nesting error", src, err)
		}
	}
}

func TestTextDropsTrailingNUL(t *testing.T) {
	p := wire(t, "00:11:22:33:44:55", sopt(60, "MSFT 5.0\x00"))
	for expr, want := range map[string]bool{
		"option[60].text == 'MSFT 5.0'":          true,
		"option[60].hex == 'MSFT 5.0'":           false,
		"option[60].hex == 0x4d53465420352e3000": true,
	} {
		e, err := Compile(expr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Match(p, nil); got != want {
			t.Errorf("%s = %v, want %v", expr, got, want)
		}
	}
}

func TestMalformedSubOptions(t *testing.T) {
	// Truncated relay and vendor options: nothing past the damage is read.
	p := wire(t, "00:11:22:33:44:55",
		opt(82, []byte{1, 2, 'a', 'b', 2, 9, 'x'}),
		opt(124, []byte{0, 0, 0x11, 0x8b, 9, 1}),
		opt(125, []byte{0, 0, 0x0d, 0xe9, 3, 1, 5, 'x'}))
	for expr, want := range map[string]bool{
		"relay4[1].hex == 'ab'":           true,
		"relay4[2].exists":                false,
		"vendor-class[4491].exists":       false,
		"vendor[3561].exists":             true,
		"vendor[3561].option[1].exists":   false,
		"option[82].option[2].hex == ''":  true,
		"vendor-class[*].data == ''":      true,
		"vendor.enterprise == 3561":       true,
		"vendor-class.enterprise == 4491": true,
	} {
		e, err := Compile(expr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Match(p, nil); got != want {
			t.Errorf("%s = %v, want %v", expr, got, want)
		}
	}
}

func TestScratchReusedAcrossComparisons(t *testing.T) {
	// Ten hexstrings of a 255-byte option are ~7.6 KiB in all, more than
	// the scratch space: each comparison gives its bytes back.
	p := wire(t, "00:11:22:33:44:55", opt(224, make([]byte, 255)))
	src := "option[224].exists"
	for i := 0; i < 10; i++ {
		src += " and not (hexstring(option[224].hex, ':') == 'x')"
	}
	e, err := Compile(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Match(p, nil) {
		t.Error("a chain of comparisons ran out of scratch space")
	}
}

func TestUnsetHeaderAddresses(t *testing.T) {
	// A packet built in memory may leave header addresses nil: they read
	// as 0.0.0.0 (Kea), even where scratch bytes were used before.
	hw, _ := net.ParseMAC("00:11:22:33:44:55")
	p := &dhcpv4.DHCPv4{HWType: 1, ClientHWAddr: hw, Options: dhcpv4.Options{}}
	e, err := Compile("hexstring(pkt4.mac, 'ff') == 'x' or pkt4.ciaddr == 0.0.0.0 and pkt4.yiaddr == 0x00000000", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Match(p, nil) {
		t.Error("nil ciaddr/yiaddr did not read as 0.0.0.0")
	}
}

func TestNamesOption(t *testing.T) {
	p := wire(t, "00:11:22:33:44:55", sopt(224, "site-a"))
	ns := Names{Option: func(name string) (uint8, bool) {
		if name == "site_tag" {
			return 224, true
		}
		return 0, false
	}}
	e, err := ns.Compile("option[site_tag].text == 'site-a'")
	if err != nil {
		t.Fatal(err)
	}
	if !e.Match(p, nil) {
		t.Error("option[site_tag] did not resolve to the defined code")
	}
	v, err := ns.CompileValue("option[site_tag].hex")
	if err != nil {
		t.Fatal(err)
	}
	if out, ok := v.Append(nil, p); !ok || string(out) != "site-a" {
		t.Errorf("Append = %q, %v", out, ok)
	}
	if _, err := Compile("option[site_tag].text == 'x'", nil); err == nil {
		t.Error("option[site_tag] compiled without a definition")
	}
}

func TestClassIndexOutOfRange(t *testing.T) {
	bad := func(string) (int, bool) { return MaxClasses, true }
	for _, src := range []string{"member('x')", "known"} {
		if _, err := Compile(src, bad); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("Compile(%q) with index %d = %v, want an out of range error", src, MaxClasses, err)
		}
	}
}
