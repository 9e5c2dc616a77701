package scope

import (
	"bytes"
	"net/netip"
	"testing"
)

func TestParseOptions(t *testing.T) {
	o, errs := ParseOptions(map[string]any{
		"routers":                 []any{"192.0.2.1"},
		"domain_search":           []any{"example.com"},
		"classless_static_routes": []any{"198.51.100.0/24 192.0.2.254", "0.0.0.0/0 via 192.0.2.1"},
		"custom":                  []any{map[string]any{"code": 252, "type": "string", "value": "x"}, map[string]any{"code": 150, "type": "ips", "value": []any{"192.0.2.5", "192.0.2.6"}}},
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := map[uint8][]byte{
		3:   {192, 0, 2, 1},
		119: append([]byte{7}, append([]byte("example"), append([]byte{3}, append([]byte("com"), 0)...)...)...),
		121: {24, 198, 51, 100, 192, 0, 2, 254, 0, 192, 0, 2, 1}, // RFC 3442 §3
		252: []byte("x"),
		150: {192, 0, 2, 5, 192, 0, 2, 6},
	}
	for c, w := range want {
		if !bytes.Equal(o[c], w) {
			t.Errorf("option %d = %v, want %v", c, o[c], w)
		}
	}
}

func TestParseHex(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
		ok   bool
	}{
		{"01:00:11:22:33:44:55", []byte{1, 0, 0x11, 0x22, 0x33, 0x44, 0x55}, true},
		{"01001122334455", []byte{1, 0, 0x11, 0x22, 0x33, 0x44, 0x55}, true},
		{"01-0a-FF", []byte{1, 0x0a, 0xff}, true},
		{"01 0a ff", []byte{1, 0x0a, 0xff}, true},
		{"", []byte{}, true},
		{"1:2:3", nil, false}, // separators do not delimit bytes: "123" is odd
		{"zz", nil, false},
	} {
		got, err := ParseHex(tc.in)
		if (err == nil) != tc.ok || tc.ok && !bytes.Equal(got, tc.want) {
			t.Errorf("ParseHex(%q) = %x, %v; want %x, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestBroadcast(t *testing.T) {
	for p, want := range map[string]string{
		"192.0.2.0/24":      "192.0.2.255",
		"192.0.2.77/24":     "192.0.2.255",
		"198.18.0.0/15":     "198.19.255.255",
		"203.0.113.8/30":    "203.0.113.11",
		"203.0.113.9/32":    "203.0.113.9",
		"0.0.0.0/0":         "255.255.255.255",
		"198.51.100.128/25": "198.51.100.255",
	} {
		if got := Broadcast(netip.MustParsePrefix(p)); got != netip.MustParseAddr(want) {
			t.Errorf("Broadcast(%s) = %s, want %s", p, got, want)
		}
	}
}
