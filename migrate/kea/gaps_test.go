package kea

import (
	"bytes"
	"strings"

	"fmt"
	dhcpscope "github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
	"github.com/hadhcpd/hadhcpd/migrate/migratetest"
)

func parse(t *testing.T, body string) *migrate.Result {
	t.Helper()
	res, err := ParseConfig("k.json", []byte(`{"Dhcp4": {`+body+`}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Kea's min-valid-lifetime and max-valid-lifetime default to the
// valid-lifetime of their own level; a level setting any of the three
// has its own triplet, whole (a requested lease time is then ignored).
func TestLifetimeBounds(t *testing.T) {
	res := parse(t, `"valid-lifetime": 3600, "min-valid-lifetime": 300,
		"client-classes": [ { "name": "printers", "test": "substring(pkt4.mac,0,3) == 0x008077", "valid-lifetime": 86400 },
			{ "name": "max-only", "test": "substring(pkt4.mac,0,3) == 0x001ba9", "max-valid-lifetime": 900 },
			{ "name": "no-times", "test": "substring(pkt4.mac,0,3) == 0x0004f2" } ],
		"shared-networks": [ { "name": "campus", "valid-lifetime": 1800, "max-valid-lifetime": 7200,
			"subnet4": [ { "id": 10, "subnet": "198.51.100.0/25", "pools": [ { "pool": "198.51.100.10 - 198.51.100.59" } ] },
				{ "id": 11, "subnet": "198.51.100.128/25", "min-valid-lifetime": 600, "pools": [ { "pool": "198.51.100.130 - 198.51.100.179" } ] } ] } ],
		"subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.100 - 192.0.2.149" } ] } ]`)
	if p := migratetest.SourceProblems(res.Report); len(p) > 0 {
		t.Fatalf("problems %+v", p)
	}
	d := res.Config.DHCP
	s := func(p *time.Duration) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	tri := func(def, lo, hi *time.Duration) string { return s(def) + "/" + s(lo) + "/" + s(hi) }
	n := d.SharedNetworks[0]
	for _, tc := range []struct{ what, got, want string }{
		// The global min is set; the max is valid-lifetime.
		{"global", tri(&d.DefaultLeaseTime, &d.MinLeaseTime, &d.MaxLeaseTime), "1h0m0s/5m0s/1h0m0s"},
		// Not the global min: the network has its own triplet.
		{"shared network", tri(n.DefaultLeaseTime, n.MinLeaseTime, n.MaxLeaseTime), "30m0s/30m0s/2h0m0s"},
		{"subnet inheriting", tri(n.Subnets[0].DefaultLeaseTime, n.Subnets[0].MinLeaseTime, n.Subnets[0].MaxLeaseTime), "-/-/-"},
		// min only: valid and max are the min.
		{"subnet min only", tri(n.Subnets[1].DefaultLeaseTime, n.Subnets[1].MinLeaseTime, n.Subnets[1].MaxLeaseTime), "10m0s/10m0s/10m0s"},
		{"class", tri(cls(d, "printers")), "24h0m0s/24h0m0s/24h0m0s"},
		// max only: valid and min are the max.
		{"class max only", tri(cls(d, "max-only")), "15m0s/15m0s/15m0s"},
		{"class without times", tri(cls(d, "no-times")), "-/-/-"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: default/min/max %s, want %s", tc.what, tc.got, tc.want)
		}
	}
	migratetest.ReportHas(t, res, "valid-lifetime (as max-valid-lifetime) -> dhcp.max_lease_time",
		"k.json:2: valid-lifetime (as min-valid-lifetime) -> dhcp.client_classes[printers].min_lease_time",
		"max-valid-lifetime (as valid-lifetime) -> dhcp.client_classes[max-only].default_lease_time")

	// Without valid-lifetime: Kea's 7200 s, and the bounds with it.
	d = parse(t, `"subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.100 - 192.0.2.149" } ] } ]`).Config.DHCP
	if got := tri(&d.DefaultLeaseTime, &d.MinLeaseTime, &d.MaxLeaseTime); got != "2h0m0s/2h0m0s/2h0m0s" {
		t.Errorf("global default/min/max %s, want Kea's 7200 s for all three", got)
	}
}

func cls(d *config.DHCPConfig, name string) (def, lo, hi *time.Duration) {
	c := migratetest.Class(d, name)
	return c.DefaultLeaseTime, c.MinLeaseTime, c.MaxLeaseTime
}

// Option data in hex (csv-format false) is sent as Kea sends it: the
// same bytes, as the option's text when hadhcpd encodes that back to
// them (classless routes), else a custom entry of type hex.
func TestHexOptionData(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		code       uint8
		named      string // the key it is written as, "" for custom
	}{
		// RFC 3442 §3: 198.51.100.0/24 via 192.0.2.1, default via 192.0.2.1.
		{`"code": 121`, "18:c6:33:64:c0:00:02:01:00:c0:00:02:01", 121, "classless_static_routes"},
		{`"name": "classless-static-route"`, "18c63364c0000201 00c0000201", 121, "classless_static_routes"},
		// /20 with bits beyond its width in the destination: not what
		// hadhcpd would encode, so the bytes themselves.
		{`"code": 121`, "14:c6:33:6f:c0:00:02:01", 121, ""},
		{`"name": "domain-name"`, "6c:61:62:2e:65:78", 15, ""},
		// 5 bytes are no list of addresses.
		{`"name": "ntp-servers"`, "c0:00:02:7b:01", 42, ""},
		{`"name": "ntp-servers"`, "c0:00:02:7b", 42, "ntp_servers"},
	} {
		res := parse(t, `"option-data": [ { `+tc.name+`, "csv-format": false, "data": "`+tc.data+`" } ],
			"subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.100 - 192.0.2.149" } ] } ]`)
		if p := migratetest.SourceProblems(res.Report); len(p) > 0 {
			t.Errorf("%s %s: problems %+v", tc.name, tc.data, p)
			continue
		}
		opts := res.Config.DHCP.Options
		if _, ok := opts[tc.named]; tc.named != "" && !ok {
			t.Errorf("%s %s: options %v, want %s", tc.name, tc.data, opts, tc.named)
		}
		if _, ok := opts["custom"]; tc.named == "" && !ok {
			t.Errorf("%s %s: options %v, want a custom entry", tc.name, tc.data, opts)
		}
		enc, errs := dhcpscope.ParseOptions(opts)
		want, _ := dhcpscope.ParseHex(hexColons(tc.data))
		if len(errs) > 0 || !bytes.Equal(enc[tc.code], want) {
			t.Errorf("%s %s: %v: option %d is %x, want Kea's %x", tc.name, tc.data, errs, tc.code, enc[tc.code], want)
		}
	}

	// A typed sub-option in hex: a custom entry in the space.
	res := parse(t, `"interfaces-config": { "interfaces": [ "eth0" ] }, "option-def": [ { "name": "discovery-control", "code": 6, "space": "vendor-encapsulated-options-space", "type": "uint8" } ],
		"option-data": [ { "name": "vendor-encapsulated-options" },
			{ "name": "discovery-control", "space": "vendor-encapsulated-options-space", "csv-format": false, "data": "08:09" } ],
		"subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.100 - 192.0.2.149" } ] } ]`)
	if p := migratetest.SourceProblems(res.Report); len(p) > 0 {
		t.Fatalf("problems %+v", p)
	}
	d := res.Config.DHCP
	defs, errs := dhcpscope.NewDefinitions(d.OptionDefinitions)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	enc, errs := defs.Parse(d.Options)
	if len(errs) > 0 || !bytes.Equal(enc[43], []byte{6, 2, 8, 9}) {
		t.Errorf("%v: option 43 is %x, want 06020809 (options %v)", errs, enc[43], d.Options)
	}
	migratetest.Load(t, res)
}

// hexColons writes hex with or without separators as aa:bb.
func hexColons(s string) string {
	h := strings.NewReplacer(" ", "", ":", "").Replace(s)
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// libdhcp_bootp.so: BOOTP clients with a reservation are answered,
// dynamic BOOTP is refused, said in the report but no problem that stops
// the import; without the hook Kea ignores BOOTP.
func TestBOOTPHook(t *testing.T) {
	sub := `"subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.100 - 192.0.2.149" } ],
		"reservations": [ { "hw-address": "02:d1:f0:00:00:22", "ip-address": "192.0.2.30" } ] } ]`
	res := parse(t, `"hooks-libraries": [ { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_bootp.so" } ], `+sub)
	if p := migratetest.SourceProblems(res.Report); len(p) > 0 || res.Report.Err() != nil {
		t.Errorf("problems %+v (%v)", p, res.Report.Err())
	}
	if b := res.Config.DHCP.BOOTP; b != "reserved" {
		t.Errorf("bootp %q, want reserved", b)
	}
	migratetest.ReportHas(t, res, "libdhcp_bootp.so -> dhcp.bootp", "dynamic BOOTP", "is refused")
	if b := parse(t, sub).Config.DHCP.BOOTP; b != "off" {
		t.Errorf("without the hook: bootp %q, want off", b)
	}
}
