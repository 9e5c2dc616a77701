package keepalived

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
	"github.com/hadhcpd/hadhcpd/migrate/migratetest"
)

// TestImportTrack imports keepalived configurations with vrrp_script,
// track_script and track_interface as their users write them; each
// result passes check-config (migratetest.Load, then Build) and tracks
// what keepalived would, with the same weights.
func TestImportTrack(t *testing.T) {
	for _, tc := range []struct {
		file        string
		scripts     []config.ScriptSpec // as Build types them
		track       map[string]string
		report      []string
		unsupported []string
	}{
		{
			file: "haproxy.conf",
			scripts: []config.ScriptSpec{{Name: "chk_haproxy", Argv: []string{"killall", "-0", "haproxy"},
				Interval: 2 * time.Second, Timeout: 2 * time.Second, Rise: 1, Fall: 1}},
			track: map[string]string{"VI_1": "eth0:0 | chk_haproxy:2"},
			report: []string{
				`haproxy.conf:11: script killall -0 haproxy -> vrrp.scripts[chk_haproxy].script`,
				`haproxy.conf:13: weight 2 -> vrrp.scripts[chk_haproxy].weight`,
				`haproxy.conf:30: chk_haproxy -> vrrp.instances[VI_1].track_scripts`,
			},
		},
		{
			file: "nginx.conf",
			scripts: []config.ScriptSpec{
				{Name: "chk_nginx", Argv: []string{"/usr/bin/pidof", "nginx"}, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 3},
				{Name: "chk_disk", Argv: []string{"/usr/local/bin/check-disk", "--min-free", "5%"}, Interval: 30 * time.Second, Timeout: 10 * time.Second, Rise: 1, Fall: 1},
			},
			track: map[string]string{"web": "eth0:0 eth1:-10 eth2:0 | chk_nginx:-20 chk_disk:0"},
			report: []string{
				`nginx.conf:16: user nobody: the script runs as hadhcpd's own user`,
				`nginx.conf:30: eth1 weight -10 -> vrrp.instances[web].track_interfaces`,
				`nginx.conf:8: rise 2 -> vrrp.scripts[chk_nginx].rise`,
			},
		},
		{
			file: "apiserver.conf",
			scripts: []config.ScriptSpec{{Name: "check_apiserver", Argv: []string{"/etc/keepalived/check_apiserver.sh"},
				Interval: 3 * time.Second, Timeout: 3 * time.Second, Rise: 2, Fall: 10, InitFail: true}},
			track: map[string]string{"VI_1": "eth0:0 | check_apiserver:-60", "OWNER": "eth1:0 eth2:0 |"},
			report: []string{
				`apiserver.conf:12: init_fail -> vrrp.scripts[check_apiserver].init_fail`,
				`apiserver.conf:28: check_apiserver weight -60 -> vrrp.instances[VI_1].track_scripts`,
				`apiserver.conf:43: check_apiserver: keepalived ignores a weighted track script on an address owner`,
				`vrrp.instances[OWNER].track_interfaces[eth2].weight = 0`,
			},
			unsupported: []string{`apiserver.conf:44: chk_missing: no vrrp_script chk_missing was imported`},
		},
		{
			file: "syncgroup.conf",
			scripts: []config.ScriptSpec{
				{Name: "chk_bird", Argv: []string{"/usr/bin/pidof", "bird"}, Interval: time.Second, Timeout: time.Second, Rise: 2, Fall: 2},
				{Name: "chk_dns", Argv: []string{"/usr/local/bin/check-dns", "192.0.2.53"}, Interval: 5 * time.Second, Timeout: 5 * time.Second, Rise: 1, Fall: 1},
			},
			track: map[string]string{
				// The group's tracking reaches every member; without
				// sync_group_tracking_weight every weight is 0.
				"LAN": "eth0:0 eth3:0 eth2:0 | chk_dns:0 chk_bird:0",
				"WAN": "eth1:0 eth2:0 | chk_bird:0",
				"DMZ": "eth4:0 | chk_dns:-10",
			},
			report: []string{
				`vrrp.instances[LAN].track_interfaces[eth3].weight = 0: keepalived ignores tracking weights in vrrp_sync_group VG_1`,
				`vrrp.instances[LAN].track_scripts[chk_dns].weight = 0`,
				`vrrp.instances[WAN].track_interfaces = eth2: from vrrp_sync_group VG_1's track_interface`,
				`syncgroup.conf:26: chk_bird -> vrrp.instances[WAN].track_scripts`,
			},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res := migratetest.Convert(t, Format(), "testdata/track/"+tc.file, "", migrate.Defaults{NodeName: "gw1"})
			cfg := migratetest.Load(t, res)
			b, err := config.Build(cfg)
			if err != nil {
				t.Fatalf("check-config of the import: %v", err)
			}
			if len(b.Scripts) != len(tc.scripts) {
				t.Fatalf("scripts %+v, want %+v", b.Scripts, tc.scripts)
			}
			for i, want := range tc.scripts {
				got := b.Scripts[i]
				if got.Name != want.Name || !slices.Equal(got.Argv, want.Argv) || got.Interval != want.Interval ||
					got.Timeout != want.Timeout || got.Rise != want.Rise || got.Fall != want.Fall || got.InitFail != want.InitFail {
					t.Errorf("script %d = %+v, want %+v", i, got, want)
				}
			}
			if len(b.VRRP) != len(tc.track) {
				t.Errorf("%d instances, want %d (%v)", len(b.VRRP), len(tc.track), tc.track)
			}
			for _, s := range b.VRRP {
				var parts []string
				for _, l := range s.Track {
					parts = append(parts, l.Name+":"+strconv.Itoa(l.Weight))
				}
				parts = append(parts, "|")
				for _, c := range s.TrackScripts {
					parts = append(parts, c.Name+":"+strconv.Itoa(c.Weight))
				}
				if got := strings.Join(parts, " "); got != tc.track[s.Name] {
					t.Errorf("instance %s tracks %q, want %q", s.Name, got, tc.track[s.Name])
				}
			}
			migratetest.ReportHas(t, res, append(tc.report, tc.unsupported...)...)
			err = res.Report.Err()
			if len(tc.unsupported) == 0 && err != nil {
				t.Errorf("unexpected unsupported: %v", err)
			}
			if len(tc.unsupported) > 0 && !errors.Is(err, migrate.ErrUnsupported) {
				t.Errorf("report error %v, want unsupported", err)
			}
		})
	}
}

// TestImportTrackRefused: what keepalived accepts but hadhcpd cannot run
// the same way is reported, never silently changed.
func TestImportTrackRefused(t *testing.T) {
	conf := `vrrp_script rel {
    script "scripts/check.sh"
}
vrrp_script rev {
    script /bin/true
    weight 10 reverse
}
vrrp_instance a {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress {
        192.0.2.1/24
    }
    track_interface {
        eth1 weight 5 reverse
    }
    track_script {
        rel
    }
}
`
	res, err := ParseConfig("k.conf", []byte(conf), Loader{})
	if err != nil {
		t.Fatal(err)
	}
	err = res.Report.Err()
	for _, want := range []string{
		`k.conf:2: script scripts/check.sh: "scripts/check.sh" is a relative path`,
		`k.conf:6: weight 10 reverse: reverse weights are not supported`,
		`k.conf:15: eth1 weight 5 reverse: reverse weights are not supported`,
		`k.conf:18: rel: no vrrp_script rel was imported`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("report error %v lacks %q", err, want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"vrrp_script x {\n script /bin/true\n weight 300\n}\n", `k.conf:3: weight: "300" is not a number in -253..253`},
		{"vrrp_script x {\n script /bin/true\n rise 0\n}\n", `k.conf:3: rise: "0" is not a positive number`},
		{"vrrp_script x {\n interval 2\n}\n", `k.conf:1: vrrp_script x has no script`},
		{"vrrp_script x {\n script /bin/true\n frob\n}\n", `k.conf:3: unknown statement "frob" in vrrp_script x`},
		{"vrrp_instance a {\n track_script {\n  x wieght 3\n }\n}\n", "k.conf:3: track_script: want `NAME [weight W]`"},
	} {
		if _, err := ParseConfig("k.conf", []byte(tc.in), Loader{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
}
