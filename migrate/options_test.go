package migrate

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
)

// sampleRaw is a value of type t as an importer reads it from the source.
var sampleRaw = map[OptType][]string{
	OptIP: {"192.0.2.1"}, OptIPList: {"192.0.2.1", "192.0.2.2"}, OptString: {"x"},
	OptUint8: {"2"}, OptUint16: {"1500"}, OptUint32: {"7"}, OptInt32: {"-3600"}, OptBool: {"on"},
	OptDomainList: {"example.com"}, OptRoutes: {"198.51.100.0/24 192.0.2.1"}, OptHex: {"01", "02"},
	OptInt8: {"-1"}, OptInt16: {"-2"}, OptFQDN: {"example.com"}, OptIPv6: {"2001:db8::1"}, OptEmpty: {},
	OptVendor: {"01", "04", "c0", "00", "02", "0a"}, OptVIVCO: {"00", "00", "00", "01", "00"},
	OptVIVSO: {"00", "00", "00", "01", "00"}, OptTuples16: {"https://a/", "https://b/"},
}

// sampleRawOf is a value of d as an importer reads it from the source.
func sampleRawOf(d OptDef) []string {
	raw := sampleRaw[d.Type]
	switch {
	case d.Type == OptRecord:
		raw = nil
		for _, f := range d.Fields {
			raw = append(raw, sampleRaw[f][0])
		}
	case d.Type == OptIPList && (d.Code == 21 || d.Code == 33):
		raw = []string{"198.51.100.0", "192.0.2.1"}
	case d.Array:
		raw = append(append([]string(nil), raw...), raw...)
	}
	return raw
}

// sample is a value of d as an importer writes it to hadhcpd.yaml.
func sample(t *testing.T, d OptDef) any {
	t.Helper()
	raw := sampleRawOf(d)
	v, err := d.Value(raw)
	if err != nil {
		t.Fatalf("%s: Value(%q): %v", d.Key, raw, err)
	}
	return v
}

// TestStandardOptionsAgreeWithServer runs every option the importers know
// by name through the server's own option parser: the importer's code and
// type must be what the server encodes for that key. A table here that
// drifts from dhcpd's fails this test.
func TestStandardOptionsAgreeWithServer(t *testing.T) {
	for name, d := range StandardOptions {
		// Importers call OptionValue with the table's type, or d.Value.
		if v, err := OptionValue(d.Type, sampleRawOf(d)); err != nil {
			t.Errorf("%s: OptionValue: %v", name, err)
		} else if _, errs := scope.ParseOptions(FinishOptions(map[string]any{d.Key: v})); len(errs) > 0 {
			t.Errorf("%s: the server refuses OptionValue's %v: %v", name, v, errs)
		}
		key, v := OptionEntry(int(d.Code), d.Key, d.Type, sample(t, d))
		if !IsNamedOption(d.Key) || key != d.Key {
			t.Errorf("%s: imported under %q; the server's name is %q", name, key, d.Key)
		}
		m := FinishOptions(map[string]any{key: v})
		opts, errs := scope.ParseOptions(m)
		if len(errs) > 0 {
			t.Errorf("%s: the server refuses the imported %v: %v", name, m, errs)
			continue
		}
		if _, ok := opts[d.Code]; !ok || len(opts) != 1 {
			t.Errorf("%s: the server encodes %v as codes %v, want only %d", name, m, keys(opts), d.Code)
		}
	}
	// The names both servers use for the options of the registry.
	for _, n := range []string{"subnet-mask", "routers", "vendor-encapsulated-options", "boot-file-name", "bootfile-name",
		"vivso-suboptions", "vivso", "classless-static-route", "rfc3442-classless-static-routes", "pxe-system-type",
		"client-system", "default-url", "v4-captive-portal", "netbios-dd-server", "slp-directory-agent", "option-6rd"} {
		if _, ok := StandardOptions[n]; !ok {
			t.Errorf("%s: not in the importers' table", n)
		}
	}
	if len(StandardOptions) < 110 {
		t.Errorf("%d names in the importers' table", len(StandardOptions))
	}
}

// TestISCAndKeaNames: where the two servers give a name different codes,
// each importer gets its own.
func TestISCAndKeaNames(t *testing.T) {
	if d, _ := ISCOption("v4-captive-portal"); d.Code != 160 {
		t.Errorf("ISC v4-captive-portal: code %d, want 160 (RFC 7710)", d.Code)
	}
	if d, _ := KeaOption("v4-captive-portal"); d.Code != 114 {
		t.Errorf("Kea v4-captive-portal: code %d, want 114 (RFC 8910)", d.Code)
	}
	if d, _ := ISCOption("default-url"); d.Code != 114 || d.Key != "v4_captive_portal" {
		t.Errorf("ISC default-url: %+v", d)
	}
	if d, ok := SubOption("PXE", "mtftp-ip"); !ok || d.Code != 1 || d.Type != OptIP {
		t.Errorf("PXE.mtftp-ip: %+v %v", d, ok)
	}
	if _, ok := DerivedOptions["subnet-mask"]; ok {
		t.Error("subnet-mask is derived: a mask other than the prefix's is a valid option")
	}
}

// TestNamedOptionsFromServer: the set of names comes from dhcpd, so a
// name the server accepts is never written under custom.
func TestNamedOptionsFromServer(t *testing.T) {
	for _, n := range scope.OptionNames() {
		if !IsNamedOption(n) {
			t.Errorf("%s: a server option name the importers do not know", n)
		}
	}
	if IsNamedOption("no_such_option") {
		t.Error("an unknown key counts as named")
	}
}

// TestDefinitions converts ISC and Kea definitions, writes values of
// them as an importer does, and checks the bytes the server then sends.
func TestDefinitions(t *testing.T) {
	type use struct {
		vals []string
		want string // hex of the option, or of option 43 for a sub-option
	}
	for _, tc := range []struct {
		src   string
		def   func() (Definition, error)
		entry string // the dhcp.option_definitions entry, "" for none
		use   *use
	}{
		{"ISC option PXE.mtftp-ip code 1 = ip-address", func() (Definition, error) { return ISCDefinition("PXE", "mtftp-ip", 1, "ip-address") },
			"", &use{[]string{"192.0.2.9"}, "01 04 c0000209"}},
		{"ISC rfc3442-classless-static-routes code 121", func() (Definition, error) {
			return ISCDefinition("", "rfc3442-classless-static-routes", 121, "array of integer 8")
		}, "", nil},
		{"ISC ms-classless-static-routes code 249", func() (Definition, error) {
			return ISCDefinition("", "ms-classless-static-routes", 249, "array of unsigned integer 8")
		}, "", nil},
		{"ISC UniFi", func() (Definition, error) { return ISCDefinition("ubnt", "unifi-address", 1, "ip-address") },
			"{unifi_address 1 ubnt ip false [] }", &use{[]string{"192.0.2.10"}, "01 04 c000020a"}},
		{"ISC encapsulate", func() (Definition, error) { return ISCDefinition("", "ubnt-encap", 43, "encapsulate ubnt") },
			"{ubnt_encap 43  encapsulate false [] ubnt}", nil},
		{"ISC record", func() (Definition, error) {
			return ISCDefinition("", "my-rec", 224, "{ unsigned integer 8, ip-address, text }")
		}, "{my_rec 224  record false [uint8 ip string] }", &use{[]string{"7", "192.0.2.1", "a", "b"}, "07 c0000201 612c62"}},
		{"ISC record, last field an array", func() (Definition, error) {
			return ISCDefinition("", "my-rec2", 225, "{ boolean, array of ip-address }")
		}, "{my_rec2 225  record true [bool ip] }", &use{[]string{"true", "192.0.2.1", "192.0.2.2"}, "01 c0000201 c0000202"}},
		{"ISC signed bytes", func() (Definition, error) { return ISCDefinition("", "bytes", 226, "array of integer 8") },
			"{bytes 226  int8 true [] }", &use{[]string{"192", "1", "-1"}, "c0 01 ff"}},
		{"ISC string as text", func() (Definition, error) { return ISCDefinition("", "blob", 227, "string") },
			"{blob 227  hex false [] }", &use{[]string{"PXE"}, "505845"}},
		{"ISC string as hex", func() (Definition, error) { return ISCDefinition("", "blob2", 228, "string") },
			"{blob2 228  hex false [] }", &use{[]string{"01:02:0a"}, "01020a"}},
		{"ISC domain-list", func() (Definition, error) { return ISCDefinition("", "search2", 229, "domain-list compressed") },
			"{search2 229  domains false [] }", &use{[]string{"a.example"}, "0161076578616d706c6500"}},
		{"ISC ip array", func() (Definition, error) { return ISCDefinition("", "tftp-servers", 150, "array of ip-address") },
			"{tftp_servers 150  ips false [] }", &use{[]string{"192.0.2.1", "192.0.2.2"}, "c0000201 c0000202"}},
		{"ISC sub-option code 0", func() (Definition, error) { return ISCDefinition("acme", "zero", 0, "unsigned integer 16") },
			"{zero 0 acme uint16 false [] }", &use{[]string{"513"}, "00 02 0201"}},
		{"Kea record", func() (Definition, error) {
			return KeaDefinition("dhcp4", "my-rec3", 230, "record", false, "uint8, ipv4-address, string", "")
		}, "{my_rec3 230  record false [uint8 ip string] }", &use{[]string{"1", "192.0.2.1", "x"}, "01 c0000201 78"}},
		{"Kea uint16 array", func() (Definition, error) { return KeaDefinition("", "ports", 231, "uint16", true, "", "") },
			"{ports 231  uint16 true [] }", &use{[]string{"80", "443"}, "0050 01bb"}},
		{"Kea int16", func() (Definition, error) { return KeaDefinition("", "offset16", 232, "int16", false, "", "") },
			"{offset16 232  int16 false [] }", &use{[]string{"-2"}, "fffe"}},
		{"Kea fqdn array", func() (Definition, error) { return KeaDefinition("", "names", 233, "fqdn", true, "", "") },
			"{names 233  domains false [] }", &use{[]string{"a.example."}, "0161076578616d706c6500"}},
		{"Kea empty + encapsulate", func() (Definition, error) {
			return KeaDefinition("", "vendor-blob", 43, "empty", false, "", "vendor-encapsulated-options-space")
		}, "{vendor_blob 43  encapsulate false [] vendor_encapsulated_options_space}", nil},
		{"Kea vendor space sub-option", func() (Definition, error) {
			return KeaDefinition("vendor-encapsulated-options-space", "tftp", 1, "ipv4-address", false, "", "")
		}, "{tftp 1 vendor_encapsulated_options_space ip false [] }", &use{[]string{"192.0.2.5"}, "01 04 c0000205"}},
		{"Kea empty", func() (Definition, error) { return KeaDefinition("", "flag", 234, "empty", false, "", "") },
			"{flag 234  empty false [] }", &use{nil, ""}},
	} {
		def, err := tc.def()
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		got := ""
		if def.Entry != nil {
			got = fmt.Sprintf("%v", *def.Entry)
		}
		if got != tc.entry {
			t.Errorf("%s: entry %q, want %q", tc.src, got, tc.entry)
		}
		if tc.use == nil {
			continue
		}
		var list []scope.OptionDefinition
		if def.Entry != nil {
			list = append(list, *def.Entry)
		}
		defs, errs := scope.NewDefinitions(list)
		if len(errs) > 0 {
			t.Errorf("%s: the server refuses the definition: %v", tc.src, errs)
			continue
		}
		v, err := def.Opt.Value(tc.use.vals)
		if err != nil {
			t.Errorf("%s: Value(%q): %v", tc.src, tc.use.vals, err)
			continue
		}
		key, v := def.OptionEntry(v)
		m := map[string]any{key: v}
		code := def.Opt.Code
		if def.Opt.Space != scope.SpaceDHCP4 {
			m = map[string]any{"vendor_specific": VendorSpecific(def.Opt.Space, m)}
			code = 43
		}
		opts, errs := defs.Parse(FinishOptions(m))
		want, _ := hex.DecodeString(strings.ReplaceAll(tc.use.want, " ", ""))
		if _, set := opts[code]; len(errs) > 0 || !set || !bytes.Equal(opts[code], want) {
			t.Errorf("%s: %v gives option %d = % x, %v; want % x", tc.src, m, code, opts[code], errs, want)
		}
	}
}

// TestDefinitionErrors: what hadhcpd cannot write is an error naming the
// option, for the importer's report.
func TestDefinitionErrors(t *testing.T) {
	for _, tc := range []struct {
		src string
		err error
	}{
		{"ISC array of records", func() error {
			_, err := ISCDefinition("", "x", 224, "array of { ip-address, ip-address }")
			return err
		}()},
		{"ISC ip6", func() error { _, err := ISCDefinition("", "x", 224, "ip6-address"); return err }()},
		{"ISC server-owned code", func() error { _, err := ISCDefinition("", "x", 51, "unsigned integer 32"); return err }()},
		{"ISC standard name, other code", func() error { _, err := ISCDefinition("", "routers", 224, "ip-address"); return err }()},
		{"Kea ipv6", func() error { _, err := KeaDefinition("", "x", 224, "ipv6-address", false, "", ""); return err }()},
		{"Kea tuple", func() error { _, err := KeaDefinition("", "x", 224, "tuple", false, "", ""); return err }()},
		{"Kea uint8 + encapsulate", func() error { _, err := KeaDefinition("", "x", 224, "uint8", false, "", "s"); return err }()},
		{"Kea string array", func() error { _, err := KeaDefinition("", "x", 224, "string", true, "", ""); return err }()},
		{"Kea record with a string first", func() error {
			_, err := KeaDefinition("", "x", 224, "record", false, "string, uint8", "")
			return err
		}()},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), "option x") && !strings.Contains(tc.err.Error(), "option routers") {
			t.Errorf("%s: error %v, want one naming the option", tc.src, tc.err)
		}
	}
}

// TestVendorValues: option 125 with a Kea vendor-N space and raw data.
func TestVendorValues(t *testing.T) {
	def, err := KeaDefinition("vendor-4491", "tftp", 2, "ipv4-address", false, "", "")
	if err != nil {
		t.Fatal(err)
	}
	ent, ok := KeaVendorSpace("vendor-4491")
	if !ok || ent != 4491 {
		t.Fatalf("KeaVendorSpace: %d %v", ent, ok)
	}
	defs, errs := scope.NewDefinitions([]scope.OptionDefinition{*def.Entry})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	m := map[string]any{"vivso_suboptions": []any{
		VIVSOEntry(ent, "vendor-4491", map[string]any{"tftp": "192.0.2.1"}, ""),
		VIVSOEntry(9, "", nil, "01:02"),
	}}
	opts, errs := defs.Parse(m)
	want := []byte{0, 0, 0x11, 0x8b, 6, 2, 4, 192, 0, 2, 1, 0, 0, 0, 9, 2, 1, 2}
	if len(errs) > 0 || !bytes.Equal(opts[125], want) {
		t.Errorf("option 125 = % x, %v; want % x", opts[125], errs, want)
	}
}

func keys(o scope.Options) []uint8 {
	var out []uint8
	for c := range o {
		out = append(out, c)
	}
	return out
}

// TestDecodeRoutes: RFC 3442 §3 bytes as "PREFIX ROUTER" text, a
// destination with bits beyond its width reported masked, and the errors.
func TestDecodeRoutes(t *testing.T) {
	routes, masked, err := DecodeRoutes([]byte{24, 10, 1, 2, 192, 168, 1, 1, 0, 192, 168, 1, 254, 32, 10, 0, 0, 9, 10, 0, 0, 1})
	if want := []string{"10.1.2.0/24 192.168.1.1", "0.0.0.0/0 192.168.1.254", "10.0.0.9/32 10.0.0.1"}; err != nil || masked || !slices.Equal(routes, want) {
		t.Errorf("got %q masked %v err %v, want %q", routes, masked, err, want)
	}
	routes, masked, err = DecodeRoutes([]byte{8, 10, 192, 0, 2, 1, 0, 192, 0, 2, 2})
	if want := []string{"10.0.0.0/8 192.0.2.1", "0.0.0.0/0 192.0.2.2"}; err != nil || masked || !slices.Equal(routes, want) {
		t.Errorf("got %q masked %v err %v, want %q", routes, masked, err, want)
	}
	if routes, masked, err = DecodeRoutes([]byte{7, 11, 192, 0, 2, 1}); err != nil || !masked || !slices.Equal(routes, []string{"10.0.0.0/7 192.0.2.1"}) {
		t.Errorf("11/7: got %q masked %v err %v, want 10.0.0.0/7 masked", routes, masked, err)
	}
	for _, b := range [][]byte{{33, 0, 0, 0, 0, 1, 2, 3, 4}, {24, 10, 1, 2, 192, 168}} {
		if _, _, err := DecodeRoutes(b); err == nil {
			t.Errorf("%v: no error", b)
		}
	}
}
