package config

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// optionsConfig uses dhcp.option_definitions in every options map, with
// names in mixed case (ISC's are case-insensitive; the loader lowercases
// map keys), a vendor space for option 43 and another for option 125, and
// a subnet mask that is not the subnet's prefix.
const optionsConfig = `
node: {name: gw1, state_dir: /var/lib/hadhcpd}
dhcp:
  interfaces: [eth0]
  option_definitions:
    - {name: UniFi_Controller, code: 1, space: UBNT, type: ip}
    - {name: my_record, code: 224, type: record, fields: [uint8, ip, string]}
    - {name: my_ips, code: 225, type: ip, array: true}
    - {name: acme_level, code: 2, space: acme, type: int8}
  options:
    vivso_suboptions: [{enterprise: 41112, space: ubnt, options: {unifi_controller: 192.0.2.10}}]
    my_record: [7, 192.0.2.1, hello]
  subnets:
    - subnet: 192.0.2.0/24
      pools: [{range: 192.0.2.100-192.0.2.200}]
      options:
        subnet_mask: 255.255.0.0
        vendor_specific: {space: PXE, options: {discovery_control: 3, mtftp_ip: 192.0.2.9}}
      reservations:
        - hw_address: "00:11:22:33:44:55"
          ip: 192.0.2.50
          options: {My_IPs: [192.0.2.7, 192.0.2.8], vendor_specific: {space: acme, options: {acme_level: -1}}}
`

func wantOption(t *testing.T, where string, o map[uint8][]byte, code uint8, want string) {
	t.Helper()
	w, _ := hex.DecodeString(strings.ReplaceAll(want, " ", ""))
	if !bytes.Equal(o[code], w) {
		t.Errorf("%s option %d = % x, want % x", where, code, o[code], w)
	}
}

// TestOptionDefinitionsRoundTrip: definitions load from the file, apply to
// every options map, and survive the config sync (the section goes to the
// secondary as JSON and is built again there).
func TestOptionDefinitionsRoundTrip(t *testing.T) {
	cfg, err := Load(writeConfig(t, optionsConfig))
	if err != nil {
		t.Fatal(err)
	}
	check := func(how string, b *Built) {
		s := b.DHCP.Subnets[0]
		wantOption(t, how+" subnet", s.Options, 1, "ffff0000")
		wantOption(t, how+" subnet", s.Options, 43, "01 04 c0000209 06 01 03")
		wantOption(t, how+" subnet", s.Options, 125, "0000a098 06 0104c000020a")
		wantOption(t, how+" subnet", s.Options, 224, "07 c0000201 68656c6c6f")
		r := s.Reservations[0]
		wantOption(t, how+" reservation", r.Options, 225, "c0000207 c0000208")
		wantOption(t, how+" reservation", r.Options, 43, "02 01 ff")
	}
	b, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	check("file:", b)
	sec, err := SectionBytes(cfg.DHCP)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseSection(sec)
	if err != nil {
		t.Fatal(err)
	}
	b, err = cfg.WithSection(d)
	if err != nil {
		t.Fatal(err)
	}
	check("synced:", b)
}

// TestOptionErrorsNameKeys: a bad definition or value is reported by its
// full key, all of them in one run.
func TestOptionErrorsNameKeys(t *testing.T) {
	bad := strings.NewReplacer(
		"type: int8}", "type: float}",
		"discovery_control: 3", "nope: 3",
		"192.0.2.7, 192.0.2.8", "192.0.2.7, x",
	).Replace(optionsConfig)
	_, err := Load(writeConfig(t, bad))
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{
		"dhcp.option_definitions[3].type: \"float\" is not one of",
		"dhcp.subnets[0].options.vendor_specific.options.nope: no option \"nope\" in space PXE",
		"dhcp.subnets[0].reservations[0].options.my_ips: \"x\" is not an IPv4 address",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nwant %q", err, want)
		}
	}
}
