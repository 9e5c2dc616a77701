package migrate

import (
	"testing"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
)

// sample is a value of type t as an importer produces it.
func sample(t *testing.T, typ OptType) any {
	t.Helper()
	raw := map[OptType][]string{
		OptIP: {"192.0.2.1"}, OptIPList: {"192.0.2.1", "192.0.2.2"}, OptString: {"x"},
		OptUint8: {"2"}, OptUint16: {"1500"}, OptUint32: {"7"}, OptInt32: {"-3600"}, OptBool: {"on"},
		OptDomainList: {"example.com"}, OptRoutes: {"198.51.100.0/24 192.0.2.1"}, OptHex: {"01", "02"},
	}[typ]
	v, err := OptionValue(typ, raw)
	if err != nil {
		t.Fatalf("OptionValue(%s, %q): %v", typ, raw, err)
	}
	return v
}

// TestStandardOptionsAgreeWithServer runs every option the importers know
// by name through the server's own option parser: the importer's code and
// type must be what the server encodes for that key (or, for a key the
// server does not name, what it accepts under custom). A table here that
// drifts from dhcpd's fails this test.
func TestStandardOptionsAgreeWithServer(t *testing.T) {
	named := 0
	for name, d := range StandardOptions {
		key, v := OptionEntry(int(d.Code), d.Key, d.Type, sample(t, d.Type))
		m := FinishOptions(map[string]any{key: v})
		if IsNamedOption(d.Key) {
			named++
			if key != d.Key {
				t.Errorf("%s: imported under %q, want the server's name %q", name, key, d.Key)
			}
		} else if _, ok := m["custom"]; !ok {
			t.Errorf("%s: %q is not a server option name, but was not put under custom: %v", name, d.Key, m)
		}
		opts, errs := scope.ParseOptions(m)
		if len(errs) > 0 {
			t.Errorf("%s: the server refuses the imported %v: %v", name, m, errs)
			continue
		}
		if _, ok := opts[d.Code]; !ok || len(opts) != 1 {
			t.Errorf("%s: the server encodes %v as codes %v, want only %d", name, m, keys(opts), d.Code)
		}
	}
	if named < 15 {
		t.Errorf("only %d of the importers' options are server option names: is scope.OptionNames empty?", named)
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

func keys(o scope.Options) []uint8 {
	var out []uint8
	for c := range o {
		out = append(out, c)
	}
	return out
}
