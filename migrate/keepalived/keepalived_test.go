package keepalived

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
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
		strings.Join(lan.VirtualIPs, ",") != "192.0.2.1/24,192.0.2.2/32" || !slices.Equal(lan.TrackInterfaces, []config.TrackInterface{{Name: "eth1"}}) ||
		strings.Join(lan.UnicastPeers, ",") != "198.51.100.2" {
		t.Errorf("lan = %+v", lan)
	}
	// The scripts, as the agent will run them: the words keepalived
	// would pass to execve (its quoting kept through the import).
	built, err := config.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := built.VRRP[0].Notify
	if !slices.Equal(n.Master, []string{"/etc/keepalived/dhcp-ha.sh", "master", "LAN 192.0.2.1"}) ||
		!slices.Equal(n.Backup, []string{"/etc/keepalived/dhcp-ha.sh"}) ||
		!slices.Equal(n.Fault, []string{"/etc/keepalived/dhcp-ha.sh", "fault"}) ||
		!slices.Equal(n.Any, []string{"/usr/local/bin/keepalived-notify.sh"}) {
		t.Errorf("lan notify = %+v", n)
	}
	if wan.Notify != "" || wan.NotifyMaster != "" {
		t.Errorf("wan got scripts: %+v", wan)
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
		"testdata/keepalived.conf:35: authentication { ... }: VRRPv2 authentication",
		"testdata/conf.d/wan.conf:4: priority 200 -> vrrp.instances[wan].priority",
		"testdata/keepalived.conf:31: unicast_src_ip",
		"testdata/keepalived.conf:39: notify_master /etc/keepalived/dhcp-ha.sh master 'LAN 192.0.2.1' -> vrrp.instances[lan].notify_master\n",
		"testdata/keepalived.conf:41: notify_fault /etc/keepalived/dhcp-ha.sh fault root -> vrrp.instances[lan].notify_fault (runs as hadhcpd's own user, not as root)",
		"testdata/keepalived.conf:42: notify /usr/local/bin/keepalived-notify.sh -> vrrp.instances[lan].notify\n",
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

// TestNotifyUnsupported: notify scripts hadhcpd would not run are
// reported, never silently lost.
func TestNotifyUnsupported(t *testing.T) {
	conf := `vrrp_sync_group gw {
    group {
        lan
    }
    notify_master "/usr/local/bin/start-dhcpd"
}
vrrp_instance lan {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.1/24
    }
    notify_master master.sh
    notify_stop /etc/keepalived/stop.sh
    notify /etc/keepalived/notify.sh
}
`
	res, err := ParseConfig("k.conf", []byte(conf), Loader{})
	if err != nil {
		t.Fatal(err)
	}
	err = res.Report.Err()
	for _, want := range []string{
		"k.conf:5: notify_master /usr/local/bin/start-dhcpd: sync group notify scripts are not supported",
		`k.conf:13: notify_master master.sh: "master.sh" is not an absolute path`,
		"k.conf:14: notify_stop /etc/keepalived/stop.sh: hadhcpd runs",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("report error %v lacks %q", err, want)
		}
	}
	if in := res.Config.VRRP.Instances[0]; in.NotifyMaster != "" || in.Notify != "/etc/keepalived/notify.sh" {
		t.Errorf("instance %+v", in)
	}
	if _, err := ParseConfig("k.conf", []byte("vrrp_instance a {\n notify_backup \"/bin/b 'x\"\n}\n"), Loader{}); err == nil ||
		!strings.Contains(err.Error(), "k.conf:2: notify_backup") {
		t.Errorf("unterminated quote in a script: %v", err)
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
