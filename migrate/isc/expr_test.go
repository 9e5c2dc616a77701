package isc

import (
	"bytes"
	"strings"
	"testing"

	classlang "github.com/hadhcpd/hadhcpd/dhcpd/class"
)

// words lexes an expression the way the parser hands it over.
func words(t *testing.T, src string) []token {
	t.Helper()
	lx := newLexer("x", bytes.NewReader([]byte(src)))
	var out []token
	for {
		tk, err := lx.next()
		if err != nil {
			t.Fatal(err)
		}
		if tk.kind == tEOF {
			return out
		}
		out = append(out, tk)
	}
}

// ISC expressions and their translation, each compiled by the server's
// class language.
func TestTranslate(t *testing.T) {
	c := &conv{defs: map[string]optDef{}}
	for _, tc := range []struct{ isc, want string }{
		{`substring (option vendor-class-identifier, 0, 9) = "PXEClient"`, `substring(option[60].hex,0,9) == 'PXEClient'`},
		{`substring(hardware, 1, 3) = 00:11:22`, `substring(pkt4.mac,0,3) == 0x001122`},
		{`substring(hardware, 1, 3) = 0:4:f2`, `substring(pkt4.mac,0,3) == 0x0004f2`},
		{`hardware = 1:0:11:22:33:44:55`, `concat(substring(pkt4.htype,3,1),pkt4.mac) == 0x01001122334455`},
		{`option agent.circuit-id = "eth0/1"`, `relay4[1].hex == 'eth0/1'`},
		{`exists agent.remote-id and not exists user-class`, `relay4[2].exists and not option[77].exists`},
		{`option dhcp-message-type = 3`, `option[53].hex == 0x03`},
		{`suffix(option host-name, 3) = "-ap"`, `substring(option[12].hex,-3,'all') == '-ap'`},
		{`option host-name != "x" or known`, `not (option[12].hex == 'x') or known`},
		{`(lcase(option host-name) = "ap1") and unknown`, `(lcase(option[12].hex) == 'ap1') and unknown`},
		{`binary-to-ascii(16, 8, ":", substring(hardware, 1, 3)) = "0:4:f2"`, `hexstring(substring(pkt4.mac,0,3),':') == '00:04:f2'`},
		{`concat(option vendor-class-identifier, "x", "y") = "abc"`, `concat(concat(option[60].hex,'x'),'y') == 'abc'`},
		{`pick-first-value(option dhcp-client-identifier, hardware) = 1:2:3`, `ifelse(option[61].exists,option[61].hex,concat(substring(pkt4.htype,3,1),pkt4.mac)) == 0x010203`},
	} {
		got, err := c.translateBool(words(t, tc.isc))
		if err != nil || got != tc.want {
			t.Errorf("%s\n got %q, %v\nwant %q", tc.isc, got, err, tc.want)
			continue
		}
		if _, err := classlang.Compile(got, nil); err != nil {
			t.Errorf("%s: %q does not compile: %v", tc.isc, got, err)
		}
	}
	for _, bad := range []string{`option vendor-class-identifier ~~ "^MSFT"`, `packet(0, 1) = 01`, `substring(option host-name, 0, 2)`, `option nonesuch = 1`, `static`, `leased-address = 192.0.2.1`} {
		if got, err := c.translateBool(words(t, bad)); err == nil {
			t.Errorf("%s translated to %q, want an error", bad, got)
		} else if strings.TrimSpace(err.Error()) == "" {
			t.Errorf("%s: empty error", bad)
		}
	}
}
