package scope

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// testDefs are definitions as dhcp.option_definitions gives them: a UniFi
// controller space, a record, an array, and an option that encapsulates.
func testDefs(t *testing.T) *Definitions {
	t.Helper()
	d, errs := NewDefinitions([]OptionDefinition{
		{Name: "unifi_controller", Code: 1, Space: "ubnt", Type: "ip"},
		{Name: "pxe_discovery_control", Code: 6, Space: "pxe", Type: "uint8"},
		{Name: "my_record", Code: 224, Type: "record", Fields: []string{"uint8", "ip", "string"}},
		{Name: "my_ips", Code: 225, Type: "ip", Array: true},
		{Name: "my_int16s", Code: 226, Type: "int16", Array: true},
		{Name: "my_flag", Code: 227, Type: "empty"},
		{Name: "vendor_blob", Code: 43, Type: "encapsulate", Encapsulate: "pxe"},
		{Name: "acme_server", Code: 1, Space: "acme", Type: "fqdn"},
		{Name: "acme_ports", Code: 2, Space: "acme", Type: "uint16", Array: true},
		{Name: "acme_nested", Code: 3, Space: "acme", Type: "encapsulate", Encapsulate: "ubnt"},
		{Name: "rfc3442_routes_bytes", Code: 121, Type: "uint8", Array: true},
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return d
}

// TestOptionEncoding checks every type's wire bytes against the RFCs'
// formats.
func TestOptionEncoding(t *testing.T) {
	d := testDefs(t)
	for _, tc := range []struct {
		name string
		val  any
		code uint8
		want string
	}{
		// RFC 2132 §3.3..§9: one option of each standard type.
		{"subnet_mask", "255.255.255.0", 1, "ffffff00"},
		{"time_offset", -3600, 2, "fffff1f0"}, // §3.4: two's complement
		{"routers", []any{"192.0.2.1", "192.0.2.2"}, 3, "c0000201 c0000202"},
		{"host_name", "printer", 12, hex.EncodeToString([]byte("printer"))},
		{"boot_size", 4, 13, "0004"},
		{"ip_forwarding", true, 19, "01"},
		{"non_local_source_routing", "off", 20, "00"},
		{"policy_filter", []any{"198.51.100.0", "255.255.255.0"}, 21, "c6336400 ffffff00"},
		{"default_ip_ttl", 64, 23, "40"},
		{"path_mtu_aging_timeout", 600, 24, "00000258"},
		{"path_mtu_plateau_table", []any{68, 296, 1500}, 25, "0044 0128 05dc"},
		{"interface_mtu", 1500, 26, "05dc"},
		{"static_routes", []any{"203.0.113.0", "192.0.2.1"}, 33, "cb007100 c0000201"},
		{"netbios_node_type", 8, 46, "08"},
		{"vendor_specific", "01:04:c0:00:02:0a", 43, "0104c000020a"},
		{"vendor_encapsulated_options", "0104c000020a", 43, "0104c000020a"},
		{"vendor_class_identifier", "PXEClient", 60, hex.EncodeToString([]byte("PXEClient"))},
		{"bootfile_name", "pxelinux.0", 67, hex.EncodeToString([]byte("pxelinux.0"))},
		{"boot_file_name", "pxelinux.0", 67, hex.EncodeToString([]byte("pxelinux.0"))},
		{"user_class", "05:69:50:58:45:21", 77, "056950584521"}, // RFC 3004 §2: length, then the class
		// RFC 2610 §3: flag, then the directory agents.
		{"slp_directory_agent", []any{true, "192.0.2.7", "192.0.2.8"}, 78, "01 c0000207 c0000208"},
		{"slp_service_scope", []any{false, ""}, 79, "00"},
		{"slp_service_scope", "1, a,b", 79, "01 612c62"}, // Kea's text form: the last string keeps its commas
		{"fqdn", []any{1, 0, 0, "host.example.com"}, 81, "01 00 00 04686f7374 076578616d706c65 03636f6d 00"},
		{"bcms_controller_names", []any{"a.example", "b.example"}, 88, "0161076578616d706c6500 0162076578616d706c6500"},
		{"client_system", []any{0, 7}, 93, "0000 0007"}, // RFC 4578 §2.1
		{"pxe_system_type", 9, 93, "0009"},
		{"client_ndi", "1, 3, 16", 94, "010310"}, // RFC 4578 §2.2
		{"uuid_guid", []any{0, "00112233445566778899aabbccddeeff"}, 97, "00 00112233445566778899aabbccddeeff"},
		{"v6_only_preferred", 1800, 108, "00000708"}, // RFC 8925 §3.1
		{"v4_captive_portal", "https://portal.example/", 114, hex.EncodeToString([]byte("https://portal.example/"))},
		{"name_service_search", []any{6, 41}, 117, "0006 0029"},
		// RFC 3397 §2 (uncompressed) and RFC 3442 §3.
		{"domain_search", []any{"eng.example.com", "example.com"}, 119, "03656e67 076578616d706c65 03636f6d 00 076578616d706c65 03636f6d 00"},
		{"classless_static_routes", []any{"0.0.0.0/0 192.0.2.1", "198.51.100.0/25 via 192.0.2.2"}, 121, "00 c0000201 19 c6336400 c0000202"},
		{"rfc3442_classless_static_routes", "10.0.0.0/8 192.0.2.1", 121, "08 0a c0000201"},
		{"v4_lost", "lost.example", 137, "046c6f7374 076578616d706c65 00"},
		{"v4_sztp_redirect", []any{"https://a/", "https://bb/"}, 143, "000a" + hex.EncodeToString([]byte("https://a/")) + "000b" + hex.EncodeToString([]byte("https://bb/"))},
		{"rdnss_selection", []any{1, "192.0.2.53", "192.0.2.54", "example.com", "example.net"}, 146, "01 c0000235 c0000236 076578616d706c6503636f6d00 076578616d706c65036e657400"},
		{"status_code", []any{0, "ok"}, 151, "00 6f6b"},
		{"v4_portparams", "0, 8, 52", 159, "00 08 0034"},
		{"option_6rd", []any{16, 32, "2001:db8::", "192.0.2.1"}, 212, "10 20 20010db8000000000000000000000000 c0000201"},
		{"ms_classless_static_routes", "0.0.0.0/0 192.0.2.1", 249, "00 c0000201"},
		// Definitions: records, arrays, signed integers, empty, encapsulation.
		{"my_record", []any{7, "192.0.2.1", "hello"}, 224, "07 c0000201 68656c6c6f"},
		{"my_record", "7, 192.0.2.1, hello, world", 224, "07 c0000201 68656c6c6f2c20776f726c64"},
		{"my_ips", []any{"192.0.2.1", "192.0.2.2"}, 225, "c0000201 c0000202"},
		{"my_ips", "192.0.2.1", 225, "c0000201"},
		{"my_int16s", []any{-2, 300}, 226, "fffe 012c"},
		{"my_flag", true, 227, ""},
		{"vendor_blob", map[string]any{"discovery_control": 3}, 43, "06 01 03"},
		{"rfc3442_routes_bytes", []any{24, 192, 0, 2, 192, 0, 2, 1}, 121, "18 c00002 c0000201"},
		// PXE 2.1 §2.4: option 43 sub-options; UniFi: sub-option 1, the
		// controller's address.
		{"vendor_specific", map[string]any{"space": "pxe", "options": map[string]any{
			"discovery_control": 3, "menu_prompt": []any{0, "PXE"}, "boot_item": "0, 0"}}, 43, "06 01 03 0a 04 00 505845 47 04 0000 0000"},
		{"vendor_specific", map[string]any{"space": "pxe", "options": map[string]any{"pxe_discovery_control": 8, "mtftp_ip": "192.0.2.9"}}, 43, "01 04 c0000209 06 01 08"},
		{"vendor_specific", map[string]any{"space": "ubnt", "options": map[string]any{"unifi_controller": "192.0.2.10"}}, 43, "01 04 c000020a"},
		{"vendor_specific", map[string]any{"space": "acme", "options": map[string]any{
			"acme_server": "a.example", "acme_ports": []any{80, 443},
			"acme_nested": map[string]any{"unifi_controller": "192.0.2.10"},
			"custom":      []any{map[string]any{"code": 0, "type": "uint8", "value": 1}}}}, 43,
			"00 01 01 01 0b 0161076578616d706c6500 02 04 0050 01bb 03 06 0104c000020a"},
		// RFC 3925 §4: enterprise, length, sub-options; §3: enterprise,
		// length, classes each after their length.
		{"vivso_suboptions", []any{
			map[string]any{"enterprise": 4491, "space": "ubnt", "options": map[string]any{"unifi_controller": "192.0.2.10"}},
			map[string]any{"enterprise": 3561, "data": "01:02:03"},
		}, 125, "0000118b 06 0104c000020a 00000de9 03 010203"},
		{"vivso", "0000118b00", 125, "0000118b00"},
		{"vivco_suboptions", []any{map[string]any{"enterprise": 4491, "classes": []any{"docsis3.0"}}}, 124, "0000118b 0a 09" + hex.EncodeToString([]byte("docsis3.0"))},
	} {
		o, errs := d.Parse(map[string]any{tc.name: tc.val})
		if len(errs) > 0 {
			t.Errorf("%s = %v: %v", tc.name, tc.val, errs)
			continue
		}
		if got, want := o[tc.code], h(tc.want); !bytes.Equal(got, want) || len(o) != 1 {
			t.Errorf("%s = %v: option %d = % x (%d options), want % x", tc.name, tc.val, tc.code, got, len(o), want)
		}
	}
}

// TestOptionLong: a value longer than 255 bytes is accepted (the wire
// encoder splits it, RFC 3396); one that cannot fit a reply is not, nor a
// sub-option over 255.
func TestOptionLong(t *testing.T) {
	long := strings.Repeat("a", 600)
	o, errs := ParseOptions(map[string]any{"root_path": long})
	if len(errs) > 0 || len(o[17]) != 600 {
		t.Errorf("a 600-byte root_path: %v, %d bytes", errs, len(o[17]))
	}
	_, errs = ParseOptions(map[string]any{"root_path": strings.Repeat("a", 1300)})
	if len(errs) != 1 || errs[0].Key != "root_path" {
		t.Errorf("a 1300-byte root_path: %v, want an error on root_path", errs)
	}
	d := testDefs(t)
	ports := func(n int) map[string]any {
		l := make([]any, n)
		for i := range l {
			l[i] = 80
		}
		return map[string]any{"vendor_specific": map[string]any{"space": "acme", "options": map[string]any{"acme_ports": l}}}
	}
	if _, errs = d.Parse(ports(127)); len(errs) > 0 {
		t.Errorf("a 254-byte sub-option: %v", errs)
	}
	_, errs = d.Parse(ports(128))
	if len(errs) != 1 || errs[0].Key != "vendor_specific.options.acme_ports" || !strings.Contains(errs[0].Reason, "at most 255") {
		t.Errorf("a 256-byte sub-option: %v, want one error on vendor_specific.options.acme_ports", errs)
	}
}

// TestOptionErrors: each bad value is reported under its own key.
func TestOptionErrors(t *testing.T) {
	d := testDefs(t)
	for _, tc := range []struct {
		opts map[string]any
		key  string
		why  string
	}{
		{map[string]any{"no_such": 1}, "no_such", "unknown option"},
		{map[string]any{"routers": "192.0.2.300"}, "routers", "not an IPv4"},
		{map[string]any{"time_offset": 1 << 31}, "time_offset", "outside"},
		{map[string]any{"static_routes": []any{"192.0.2.1"}}, "static_routes", "pairs"},
		{map[string]any{"my_int16s": []any{40000}}, "my_int16s", "outside -32768..32767"},
		{map[string]any{"my_record": []any{1, "192.0.2.1"}}, "my_record", "2 values for a record of 3"},
		{map[string]any{"my_flag": "x"}, "my_flag", "no value"},
		{map[string]any{"vendor_specific": map[string]any{"space": "pxe", "options": map[string]any{"nope": 1}}}, "vendor_specific.options.nope", "no option \"nope\" in space pxe"},
		{map[string]any{"vendor_specific": map[string]any{"space": "pxe", "options": map[string]any{"mtftp_ip": "x"}}}, "vendor_specific.options.mtftp_ip", "not an IPv4"},
		{map[string]any{"vendor_specific": map[string]any{"space": "nowhere", "options": map[string]any{}}}, "vendor_specific.options", "no option space \"nowhere\""},
		{map[string]any{"vendor_specific": map[string]any{"options": map[string]any{}}}, "vendor_specific.space", "must name"},
		{map[string]any{"vendor_specific": 7}, "vendor_specific", "must be hex"},
		{map[string]any{"vivso_suboptions": []any{map[string]any{"data": "01"}}}, "vivso_suboptions[0].enterprise", "enterprise number"},
		{map[string]any{"vivso_suboptions": []any{map[string]any{"enterprise": 1, "data": "01"}, map[string]any{"enterprise": 1, "data": "02"}}}, "vivso_suboptions[1].enterprise", "also vivso_suboptions[0]"},
		{map[string]any{"vivso_suboptions": []any{map[string]any{"enterprise": 1, "space": "ubnt", "options": map[string]any{"unifi_controller": "no"}}}}, "vivso_suboptions[0].options.unifi_controller", "not an IPv4"},
		{map[string]any{"vivco_suboptions": []any{map[string]any{"enterprise": 1}}}, "vivco_suboptions[0].classes", "list of vendor classes"},
		{map[string]any{"custom": []any{map[string]any{"code": 51, "type": "uint32", "value": 1}}}, "custom[0].code", "set by the server"},
		{map[string]any{"custom": []any{map[string]any{"code": 230, "type": "string", "array": true, "value": "x"}}}, "custom[0].array", "cannot be an array"},
		{map[string]any{"custom": []any{map[string]any{"code": 3, "type": "ip", "value": "192.0.2.1"}}, "routers": "192.0.2.1"}, "routers", "also set as custom[0].code"},
		{map[string]any{"bootfile_name": "a", "boot_file_name": "b"}, "bootfile_name", "also set as boot_file_name"},
	} {
		_, errs := d.Parse(tc.opts)
		found := false
		for _, e := range errs {
			found = found || e.Key == tc.key && strings.Contains(e.Reason, tc.why)
		}
		if !found {
			t.Errorf("%v: errors %v, want %s: …%s…", tc.opts, errs, tc.key, tc.why)
		}
	}
}

// TestDefinitionErrors: each bad definition is reported under its index
// and field.
func TestDefinitionErrors(t *testing.T) {
	for _, tc := range []struct {
		def OptionDefinition
		key string
		why string
	}{
		{OptionDefinition{Name: "x", Code: 224, Type: "text"}, "[0].type", "not one of"},
		{OptionDefinition{Name: "x", Code: 0, Type: "uint8"}, "[0].code", "outside 1..254"},
		{OptionDefinition{Name: "x", Code: 255, Space: "s", Type: "uint8"}, "[0].code", "outside 0..254"},
		{OptionDefinition{Name: "x", Code: 53, Type: "uint8"}, "[0].code", "set by the server"},
		{OptionDefinition{Name: "routers", Code: 224, Type: "ip"}, "[0].name", "already an option"},
		{OptionDefinition{Code: 224, Type: "ip"}, "[0].name", "must be set"},
		{OptionDefinition{Name: "a b", Code: 224, Type: "ip"}, "[0].name", "not an option name"},
		{OptionDefinition{Name: "x", Code: 224, Type: "record"}, "[0].fields", "needs its fields"},
		{OptionDefinition{Name: "x", Code: 224, Type: "record", Fields: []string{"string", "ip"}}, "[0].fields[0]", "only the last field"},
		{OptionDefinition{Name: "x", Code: 224, Type: "record", Fields: []string{"ip", "float"}}, "[0].fields[1]", "not a field type"},
		{OptionDefinition{Name: "x", Code: 224, Type: "ip", Fields: []string{"ip"}}, "[0].fields", "only a record"},
		{OptionDefinition{Name: "x", Code: 224, Type: "hex", Array: true}, "[0].array", "cannot be an array"},
		{OptionDefinition{Name: "x", Code: 224, Type: "ips", Array: true}, "[0].array", "a list already"},
		{OptionDefinition{Name: "x", Code: 224, Type: "encapsulate"}, "[0].encapsulate", "needs the space"},
		{OptionDefinition{Name: "x", Code: 224, Type: "encapsulate", Encapsulate: "nowhere"}, "[0].encapsulate", "no space"},
		{OptionDefinition{Name: "x", Code: 224, Type: "ip", Encapsulate: "pxe"}, "[0].encapsulate", "only type encapsulate"},
		{OptionDefinition{Name: "x", Code: 1, Space: "loop", Type: "encapsulate", Encapsulate: "loop"}, "[0].encapsulate", "encapsulates back"},
		{OptionDefinition{Name: "x", Code: 1, Space: "bad space", Type: "ip"}, "[0].space", "not a space name"},
	} {
		_, errs := NewDefinitions([]OptionDefinition{tc.def})
		found := false
		for _, e := range errs {
			found = found || e.Key == tc.key && strings.Contains(e.Reason, tc.why)
		}
		if !found {
			t.Errorf("%+v: errors %v, want %s: …%s…", tc.def, errs, tc.key, tc.why)
		}
	}
}

// TestDefinitionsAreSeparate: a config's definitions never leak into
// another config's (or the standard) names.
func TestDefinitionsAreSeparate(t *testing.T) {
	testDefs(t)
	if _, errs := ParseOptions(map[string]any{"my_ips": "192.0.2.1"}); len(errs) == 0 {
		t.Error("a definition of one config is known without it")
	}
	if _, errs := NewDefinitions([]OptionDefinition{{Name: "unifi_controller", Code: 1, Space: "ubnt", Type: "ip"}}); len(errs) > 0 {
		t.Errorf("the same definition again: %v", errs)
	}
}

// TestStandardNames: every name of the registry is accepted, with the
// type the registry gives, and the old names stay valid.
func TestStandardNames(t *testing.T) {
	for _, old := range []string{"subnet_mask", "time_offset", "routers", "time_servers", "domain_name_servers",
		"log_servers", "host_name", "domain_name", "root_path", "interface_mtu", "broadcast_address",
		"ntp_servers", "vendor_specific", "netbios_name_servers", "netbios_node_type", "tftp_server_name",
		"bootfile_name", "domain_search", "classless_static_routes"} {
		if standardDefs.spaces[SpaceDHCP4].byName[old] == nil {
			t.Errorf("%s: a name of the earlier releases is gone", old)
		}
	}
	codes := map[uint8]string{}
	for _, o := range StandardOptions() {
		if o.Space != SpaceDHCP4 {
			continue
		}
		if _, own := serverOwned[o.Code]; own {
			t.Errorf("%s: option %d is the server's", o.Name, o.Code)
		}
		if other, dup := codes[o.Code]; dup {
			t.Errorf("%s: code %d is also %s", o.Name, o.Code, other)
		}
		codes[o.Code] = o.Name
	}
	if len(codes) < 100 {
		t.Errorf("%d standard options; the registry names over 100", len(codes))
	}
}
