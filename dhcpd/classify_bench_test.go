package dhcpd

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/hadhcpd/hadhcpd/dhcpd/class"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// classesConfig is the classification half of scripts/bench-classes.sh
// in memory: 20 classes (tests on option 60 and on the relay's circuit,
// a lookup table of MAC prefixes, when dhcpd/class compiles them; else
// classes known through reservations only) and 10,000 reservations
// without addresses, none of them the benchmark's clients.
func classesConfig(b *testing.B) func(*scope.Config) {
	return func(c *scope.Config) {
		names := map[string]int{}
		index := func(n string) (int, bool) {
			switch n {
			case "KNOWN":
				return class.Known, true
			case "UNKNOWN":
				return class.Unknown, true
			}
			i, ok := names[n]
			return i, ok
		}
		for i := range 20 {
			k := &scope.Class{Name: fmt.Sprintf("c%d", i), Index: class.First + i, Options: scope.Options{66: []byte(fmt.Sprintf("tftp%d", i))}}
			var src string
			switch {
			case i == 19:
				v, err := class.CompileValue("substring(pkt4.mac,0,3)")
				if err == nil {
					k.Match, k.Members = v, map[string]struct{}{"\x00\x04\xf2": {}, "\x00\x0b\x82": {}}
				}
			case i%2 == 0:
				src = fmt.Sprintf("substring(option[60].hex,0,9) == 'vendor-%02d'", i)
			default:
				src = fmt.Sprintf("member('c%d') or option[77].text == 'user-%d'", i-1, i)
			}
			if src != "" {
				if e, err := class.Compile(src, index); err == nil {
					k.Test = e
				} else if !strings.Contains(err.Error(), "not implemented") {
					b.Fatalf("class %d: %v", i, err)
				}
			}
			names[k.Name] = k.Index
			c.Classes = append(c.Classes, k)
		}
		s := c.Subnets[0]
		s.Prefix = netip.MustParsePrefix("192.0.0.0/16") // room for the reservations
		for i := range 10000 {
			s.Reservations = append(s.Reservations, scope.Reservation{
				HWAddr: net.HardwareAddr{2, 0xee, 0, 0, byte(i >> 8), byte(i)}, Classes: setOf(class.First + i%20)})
		}
		s.PoolRules = []scope.PoolRule{{Deny: setOf(class.First + 5), HasDeny: true}}
	}
}

// BenchmarkEngineDORAClasses is BenchmarkEngineDORA with 20 classes and
// 10,000 reservations: what classifying each request costs.
func BenchmarkEngineDORAClasses(b *testing.B) {
	r := newRig(&testing.T{}, classesConfig(b))
	benchDORA(b, r, dhcpv4.WithOption(dhcpv4.OptClassIdentifier("vendor-07")))
}

// BenchmarkClassify is one request's classification alone: it must not
// allocate.
func BenchmarkClassify(b *testing.B) {
	r := newRig(&testing.T{}, classesConfig(b))
	cfg := r.e.cfg.Load()
	req, _ := dhcpv4.NewDiscovery(net.HardwareAddr{0, 4, 0xf2, 1, 2, 3}, dhcpv4.WithOption(dhcpv4.OptClassIdentifier("vendor-07")))
	c := client{id: nil, hw: req.ClientHWAddr}
	b.ReportAllocs()
	for b.Loop() {
		c.cls = classified{}
		classify(cfg, req, cfg.Subnets[0], &c, nil)
	}
}
