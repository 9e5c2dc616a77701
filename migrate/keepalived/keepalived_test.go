package keepalived

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/migrate"
	"github.com/hadhcpd/hadhcpd/migrate/migratetest"
)

func TestImport(t *testing.T) {
	res, err := migrate.Convert(migrate.Input{Format: Format(), Conf: "testdata/keepalived.conf", Defaults: migrate.Defaults{NodeName: "gw1", StateDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := migratetest.Load(t, res)
	if len(cfg.VRRP.Instances) != 2 {
		t.Fatalf("instances %+v", cfg.VRRP.Instances)
	}
	lan, wan := cfg.VRRP.Instances[0], cfg.VRRP.Instances[1]
	if lan.Name != "lan" || lan.Interface != "eth0" || lan.VRID != 51 || lan.Priority != 200 ||
		lan.AdvertInterval != 100*time.Millisecond || lan.Preempt == nil || *lan.Preempt || lan.PreemptDelay != 5*time.Second ||
		strings.Join(lan.VirtualIPs, ",") != "192.0.2.1/24,192.0.2.2/32" || strings.Join(lan.TrackInterfaces, ",") != "eth1" ||
		strings.Join(lan.UnicastPeers, ",") != "198.51.100.2" {
		t.Errorf("lan = %+v", lan)
	}
	if wan.Name != "wan" || wan.VRID != 52 || wan.AdvertInterval != time.Second || wan.VirtualIPs[0] != "203.0.113.1/24" {
		t.Errorf("wan = %+v", wan)
	}
	if len(cfg.VRRP.SyncGroups) != 1 || strings.Join(cfg.VRRP.SyncGroups[0].Instances, ",") != "lan,wan" {
		t.Errorf("sync groups = %+v", cfg.VRRP.SyncGroups)
	}
	if err := res.Report.Err(); err != nil {
		t.Errorf("unexpected unsupported: %v", err)
	}
	var b strings.Builder
	_ = res.Report.WriteText(&b)
	for _, want := range []string{
		"testdata/keepalived.conf:34: authentication { ... }: VRRPv2 authentication",
		"testdata/conf.d/wan.conf:4: priority 200 -> vrrp.instances[wan].priority",
		"testdata/keepalived.conf:12: notify_master",
		"testdata/keepalived.conf:30: unicast_src_ip",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"unterminated", "vrrp_instance a {\n interface eth0\n", "k.conf:1: block \"vrrp_instance a { ... }\" is not closed"},
		{"unknown", "vrrp_instance a {\n frobnicate 1\n}\n", "k.conf:2: unknown statement \"frobnicate\""},
		{"bad vip", "vrrp_instance a {\n virtual_ipaddress {\n  192.0.2.300/24\n }\n}\n", "k.conf:3: virtual_ipaddress: \"192.0.2.300/24\""},
		{"bad vrid", "vrrp_instance a {\n virtual_router_id 300\n}\n", "k.conf:2: virtual_router_id"},
		{"stray brace", "}\n", "k.conf:1: '}' without a block"},
		{"unknown top", "frob {\n}\n", "k.conf:1: unknown statement"},
		{"quote", "vrrp_instance \"a {\n", "k.conf:1: unterminated quoted string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("k.conf", []byte(tc.in), Loader{})
			var se *migrate.SyntaxError
			if err == nil || !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestUnsupported(t *testing.T) {
	res, err := ParseConfig("k.conf", []byte("vrrp_script chk { script /bin/true }\nvirtual_server 192.0.2.1 80 {\n}\n"), Loader{})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Report.Err(); !errors.Is(err, migrate.ErrUnsupported) || !strings.Contains(err.Error(), "k.conf:2: virtual_server") {
		t.Fatalf("report error %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	b, err := os.ReadFile("testdata/keepalived.conf")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		load := Loader{ReadFile: func(string) ([]byte, error) { return b, nil }}
		_, _ = ParseConfig("f.conf", b, load)
	})
}
