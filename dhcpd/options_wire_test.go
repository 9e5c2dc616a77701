package dhcpd

import (
	"bytes"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
)

// TestLongOptionSplit: an option value longer than 255 bytes (the config
// accepts them) goes on the wire as several instances of the option, each
// of at most 255 bytes, which a client concatenates (RFC 3396 §5); the
// reply's size estimate (encodedLen) counts them.
func TestLongOptionSplit(t *testing.T) {
	long := bytes.Repeat([]byte("a"), 600)
	o, errs := scope.ParseOptions(map[string]any{"root_path": string(long)})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	m, err := dhcpv4.New()
	if err != nil {
		t.Fatal(err)
	}
	m.Options = dhcpv4.Options{17: o[17]}
	wire := m.ToBytes()
	opts := wire[240:] // after the fixed fields and the magic cookie
	var lens []int
	for i := 0; i < len(opts) && opts[i] != 255; i += 2 + int(opts[i+1]) {
		if opts[i] == 17 {
			lens = append(lens, int(opts[i+1]))
		}
	}
	if len(lens) != 3 || lens[0] != 255 || lens[1] != 255 || lens[2] != 90 {
		t.Errorf("option 17 on the wire in pieces of %v, want [255 255 90]", lens)
	}
	if got := encodedLen(600); got != 606 {
		t.Errorf("encodedLen(600) = %d, want 606", got)
	}
	back, err := dhcpv4.FromBytes(wire)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Options.Get(dhcpv4.OptionRootPath), long) {
		t.Error("the pieces do not concatenate back to the value")
	}
}
