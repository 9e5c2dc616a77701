package class

import (
	"testing"
)

// realistic are tests and keys from real Kea and ISC configurations.
var realistic = []string{
	"substring(option[60].hex,0,9) == 'PXEClient' and option[93].hex == 0x0007",
	"substring(option[60].hex,0,9) == 'PXEClient' and not (option[77].hex == 'iPXE')",
	"option[vendor-class-identifier].text == 'MSFT 5.0'",
	"option[60].text == 'ubnt' or substring(option[60].hex,0,28) == 'Cisco Systems, Inc. IP Phone'",
	"substring(pkt4.mac,0,3) == 0x001bd4 or substring(pkt4.mac,0,3) == 0x0004f2",
	"substring(hexstring(pkt4.mac,':'),0,8) == '00:04:f2'",
	"relay4[1].hex == 'eth0/1/3' and option[82].option[6].hex == 'sub-42'",
	"concat(relay4[1].hex, relay4[2].hex) == 0x657468302f312f33001122",
	"pkt4.msgtype == 1 and pkt4.htype == 1 and pkt4.hlen == 6 and pkt4.giaddr == 198.51.100.1",
	"pkt4.transid == 0xdeadbeef and pkt4.ciaddr == 0.0.0.0 and pkt4.yiaddr == pkt4.siaddr",
	"lcase(substring(option[60].text,0,5)) == 'cisco' or ucase(option[60].text) == 'UBNT'",
	"ifelse(option[93].exists, option[93].hex, 0xffff) == 0x0007",
	"vendor-class[4491].exists or vendor[3561].option[2].hex == 'SERIAL123' or vendor-class[4491].data == 'docsis3.0'",
	"member('pxe') and not member('uefi') or known or unknown",
	"split(option[60].text, ':', 3) == '00007' and substring(option[60].hex,-6,all) == '003016'",
	"vendor.enterprise == 3561 or vendor-class.enterprise == 4491",
	"addrtotext(pkt4.giaddr) == '198.51.100.1' or uint16totext(option[93].hex) == '7' or int8totext(substring(pkt4.mac,5,1)) == '-1'",
}

var realisticValues = []string{
	"substring(pkt4.mac,0,3)",
	"pkt4.mac",
	"hexstring(pkt4.mac,':')",
	"relay4[1].hex",
	"ifelse(relay4[1].exists, concat(relay4[1].hex, relay4[2].hex), pkt4.mac)",
	"lcase(option[60].text)",
	"pkt4.htype",
	"addrtotext(pkt4.giaddr)",
}

func TestMatchDoesNotAllocate(t *testing.T) {
	pk := packets(t)
	in := &Set{}
	in.Add(First)
	for _, src := range realistic {
		e, err := Compile(src, classIndex)
		if err != nil {
			t.Fatalf("Compile(%q): %v", src, err)
		}
		for _, n := range names(pk) {
			p := pk[n]
			if a := testing.AllocsPerRun(50, func() { e.Match(p, in) }); a != 0 {
				t.Errorf("%s on %s: %v allocations per Match", src, n, a)
			}
		}
	}
}

func TestAppendDoesNotAllocate(t *testing.T) {
	pk := packets(t)
	buf := make([]byte, 0, 256)
	for _, src := range realisticValues {
		v, err := CompileValue(src)
		if err != nil {
			t.Fatalf("CompileValue(%q): %v", src, err)
		}
		for _, n := range names(pk) {
			p := pk[n]
			if a := testing.AllocsPerRun(50, func() { v.Append(buf[:0], p) }); a != 0 {
				t.Errorf("%s on %s: %v allocations per Append", src, n, a)
			}
		}
	}
}

// BenchmarkMatch evaluates every realistic test on one relayed PXE packet:
// the per-packet classification cost of a config with len(realistic) classes.
func BenchmarkMatch(b *testing.B) {
	p := wire(b, "3c:ec:ef:00:00:07",
		sopt(60, "PXEClient:Arch:00007:UNDI:003016"),
		opt(93, []byte{0, 7}),
		opt(82, tlv(1, "eth0/1/3", 2, []byte{0x00, 0x11, 0x22}, 6, "sub-42")))
	var exprs []*Expr
	for _, src := range realistic {
		e, err := Compile(src, classIndex)
		if err != nil {
			b.Fatal(err)
		}
		exprs = append(exprs, e)
	}
	in := &Set{}
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range exprs {
			if e.Match(p, in) {
				in.Add(First)
			}
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	p := wire(b, "00:04:f2:aa:bb:cc")
	v, err := CompileValue("substring(pkt4.mac,0,3)")
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = v.Append(buf[:0], p)
	}
}

func TestNeed(t *testing.T) {
	for src, want := range map[string]int{
		"option[60].hex == 'x'":                                 0,
		"pkt4.mac == 0x001122334455":                            0,
		"pkt4.htype == pkt4.hlen":                               8,
		"pkt4.htype == 1 and pkt4.giaddr == pkt4.ciaddr":        8,
		"ifelse(pkt4.hlen == 6, pkt4.ciaddr, pkt4.giaddr) == 0": 4,
		"split(pkt4.ciaddr, pkt4.giaddr, 1) == 0":               8,
		"hexstring(pkt4.mac, ':') == 'x'":                       scratchSize + 1,
		"lcase(option[60].text) == 'x' or known":                scratchSize + 1,
	} {
		e, err := Compile(src, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := need(e.root); got != want {
			t.Errorf("need(%s) = %d, want %d", src, got, want)
		}
	}
}
