package class

import (
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzCompile compiles arbitrary source; what compiles is evaluated on a
// relayed PXE packet with vendor options. Neither may panic.
func FuzzCompile(f *testing.F) {
	for _, s := range realistic {
		f.Add(s)
	}
	for _, s := range realisticValues {
		f.Add(s)
	}
	for _, s := range []string{
		"substring(option[60].hex,-7,-3) == 'x'",
		"hexstring(concat(pkt4.mac, pkt4.mac), concat(':', ':')) == ''",
		"option[82].option[1].exists and relay4[255].hex == 0x0",
		"vendor[*].option[0].hex == vendor-class[0].data[255]",
		"'it\\'s' == 'it''s'",
		"not (1 == 1) or 0x1 == 4294967295",
		"split('a::b', ':', -1) == split(pkt4.mac, '', 0)",
		"addrtotext(pkt4.mac) == int8totext(0x80) or uint32totext(substring(option[60].hex,0,4)) == sifelse(known, addrtotext(0x00000000000000000000000000000001), '')",
	} {
		f.Add(s)
	}
	hw, _ := net.ParseMAC("3c:ec:ef:00:00:07")
	p, err := dhcpv4.NewDiscovery(hw,
		dhcpv4.WithRelay(net.IPv4(198, 51, 100, 1)),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(60), []byte("PXEClient:Arch:00007:UNDI:003016"))),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(93), []byte{0, 7})),
		// A truncated last sub-option: the walk must stop, not panic.
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(82), []byte{1, 3, 'a', 'b', 'c', 2, 9, 1})),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(124), []byte{0, 0, 0x11, 0x8b, 4, 3, 'a', 'b', 'c', 0, 0})),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(125), []byte{0, 0, 0x0d, 0xe9, 6, 1, 1, 'x', 2, 9, 'y'})),
	)
	if err != nil {
		f.Fatal(err)
	}
	in := &Set{}
	in.Add(Unknown)
	f.Fuzz(func(t *testing.T, src string) {
		if e, err := Compile(src, classIndex); err == nil {
			m := e.Match(p, in)
			// The bound of the scratch a test needs must hold: with the
			// full scratch it answers the same.
			big := *e
			big.small = false
			if big.Match(p, in) != m {
				t.Errorf("%q: small scratch (need %d) and full scratch disagree", src, need(e.root))
			}
			if e.String() != src {
				t.Errorf("String() = %q, want the source", e.String())
			}
		} else if _, ok := err.(*SyntaxError); !ok {
			t.Errorf("Compile(%q) error %T is not a *SyntaxError", src, err)
		} else if se := err.(*SyntaxError); se.Offset < 0 || se.Offset > len(src) {
			t.Errorf("Compile(%q): offset %d outside the source", src, se.Offset)
		}
		if v, err := CompileValue(src); err == nil {
			v.Append(nil, p)
		}
	})
}
