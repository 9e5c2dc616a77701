package scope

import (
	"net"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/hadhcpd/hadhcpd/dhcpd/class"
)

// classLacks are the registry's names the class language does not know
// (its table is Kea's option names; 43 is vendor-encapsulated-options
// there, which neither names).
var classLacks = map[string]bool{
	"vendor_specific": true, "classless_static_routes": true, "ipv4_address_andsf": true,
	"tftp_server_address": true, "ms_classless_static_routes": true,
}

// TestClassOptionNamesAgree: the class language's option[NAME] (package
// class keeps its own table: it cannot import this one) names the same
// code as this registry for every DHCPv4 option, with - or _, but for
// the names in classLacks.
func TestClassOptionNamesAgree(t *testing.T) {
	hw := net.HardwareAddr{0, 1, 2, 3, 4, 5}
	for _, o := range StandardOptions() {
		if o.Space != SpaceDHCP4 {
			continue
		}
		for _, name := range []string{o.Name, strings.ReplaceAll(o.Name, "_", "-")} {
			e, err := class.Compile("option["+name+"].exists", nil)
			if lacks := classLacks[o.Name]; lacks != (err != nil) {
				t.Errorf("%s (code %d): error %v; in classLacks %v", name, o.Code, err, lacks)
			}
			if err != nil {
				continue
			}
			with, err := dhcpv4.NewDiscovery(hw, dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(o.Code), []byte{1})))
			if err != nil {
				t.Fatal(err)
			}
			without, err := dhcpv4.NewDiscovery(hw)
			if err != nil {
				t.Fatal(err)
			}
			if !e.Match(with, nil) || e.Match(without, nil) {
				t.Errorf("option[%s] does not test code %d", name, o.Code)
			}
		}
	}
}
