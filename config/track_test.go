package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

const trackVRRP = `
node: {name: gw1, state_dir: /var/lib/hadhcpd}
vrrp:
  scripts:
    - name: chk_haproxy
      script: killall -0 haproxy
      interval: 2s
      rise: 2
      fall: 3
      weight: -20
    - name: chk_local
      script: /usr/local/bin/check --fast
      init_fail: true
  instances:
    - name: lan
      interface: eth0
      vrid: 51
      priority: %d
      virtual_ips: [192.0.2.1/24]
`

// TestTrackKeys: both forms of track_interfaces and track_scripts, the
// weights that apply, and the scripts' defaults.
func TestTrackKeys(t *testing.T) {
	cfg, err := Load(writeConfig(t, fmt.Sprintf(trackVRRP, 150)+`      track_interfaces:
        - eth1
        - {name: eth2, weight: -10}
        - eth0
      track_scripts:
        - chk_haproxy
        - {name: chk_local, weight: 5}
`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := b.VRRP[0]
	if want := []TrackSpec{{"eth0", 0}, {"eth1", 0}, {"eth2", -10}}; !slices.Equal(s.Track, want) {
		t.Errorf("Track = %v, want %v", s.Track, want)
	}
	if want := []TrackSpec{{"chk_haproxy", -20}, {"chk_local", 5}}; !slices.Equal(s.TrackScripts, want) {
		t.Errorf("TrackScripts = %v, want %v", s.TrackScripts, want)
	}
	if len(b.Scripts) != 2 {
		t.Fatalf("Scripts = %+v", b.Scripts)
	}
	h, l := b.Scripts[0], b.Scripts[1]
	if !slices.Equal(h.Argv, []string{"killall", "-0", "haproxy"}) || h.Interval != 2*time.Second || h.Timeout != 2*time.Second ||
		h.Rise != 2 || h.Fall != 3 || h.InitFail {
		t.Errorf("chk_haproxy = %+v", h)
	}
	if !slices.Equal(l.Argv, []string{"/usr/local/bin/check", "--fast"}) || l.Interval != time.Second || l.Timeout != time.Second ||
		l.Rise != 1 || l.Fall != 1 || !l.InitFail {
		t.Errorf("chk_local (defaults) = %+v", l)
	}
}

// TestTrackRefused: every bad value names its key.
func TestTrackRefused(t *testing.T) {
	for _, tc := range []struct {
		prio       int
		add, want  string
		scriptLine string
	}{
		{150, "track_scripts: [chk_nothing]", `vrrp.instances[0].track_scripts[0].name: "chk_nothing" is not in vrrp.scripts`, ""},
		{150, "track_scripts: [chk_haproxy, chk_haproxy]", `vrrp.instances[0].track_scripts[1].name: "chk_haproxy" is tracked twice`, ""},
		{150, "track_scripts: [{name: chk_local, weight: 254}]", `vrrp.instances[0].track_scripts[0].weight: 254 is outside -253..253`, ""},
		{150, "track_interfaces: [{name: eth1, weight: -300}]", `vrrp.instances[0].track_interfaces[0].weight: -300 is outside -253..253`, ""},
		{150, "track_interfaces: [{name: eth0, weight: -30}]", `vrrp.instances[0].track_interfaces[0].weight: -30: the instance's own interface eth0 always puts it in Fault`, ""},
		{150, "track_interfaces: [eth1, eth1]", `vrrp.instances[0].track_interfaces[1].name: "eth1" is tracked twice`, ""},
		{150, "track_interfaces: [{weight: 3}]", `vrrp.instances[0].track_interfaces[0].name: must be set`, ""},
		{255, "track_scripts: [chk_haproxy]", `vrrp.instances[0].track_scripts[0].name: script "chk_haproxy" has weight -20: an address owner (priority 255) never changes its priority`, ""},
		{255, "track_interfaces: [{name: eth1, weight: 10}]", `vrrp.instances[0].track_interfaces[0].weight: 10: an address owner (priority 255)`, ""},
		{150, "", `vrrp.scripts[2].script: "./check" is a relative path`, "    - {name: x, script: ./check}\n"},
		{150, "", `vrrp.scripts[2].script: must be set`, "    - {name: x}\n"},
		{150, "", `vrrp.scripts[2].name: "chk_local" is used by another script`, "    - {name: chk_local, script: /bin/true}\n"},
		{150, "", `vrrp.scripts[2].interval: 10ms is outside 100ms..1h`, "    - {name: x, script: /bin/true, interval: 10ms}\n"},
		{150, "", `vrrp.scripts[2].timeout: 2h is outside 10ms..1h`, "    - {name: x, script: /bin/true, timeout: 2h}\n"},
		{150, "", `vrrp.scripts[2].rise: -1 is outside 1..1000`, "    - {name: x, script: /bin/true, rise: -1}\n"},
		{150, "", `vrrp.scripts[2].fall: 1001 is outside 1..1000`, "    - {name: x, script: /bin/true, fall: 1001}\n"},
		{150, "", `vrrp.scripts[2].weight: -254 is outside -253..253`, "    - {name: x, script: /bin/true, weight: -254}\n"},
		{150, "", `vrrp.scripts[2].script: "/bin/x 'a": unterminated ' quote`, "    - {name: x, script: \"/bin/x 'a\"}\n"},
	} {
		text := fmt.Sprintf(trackVRRP, tc.prio)
		if tc.scriptLine != "" {
			text = strings.Replace(text, "  instances:\n", tc.scriptLine+"  instances:\n", 1)
		}
		if tc.add != "" {
			text += "      " + tc.add + "\n"
		}
		cfg, err := Load(writeConfig(t, text))
		if err == nil {
			_, err = Build(cfg)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s%s: error %v, want %q", tc.add, tc.scriptLine, err, tc.want)
		}
	}
	// An address owner may track with weight 0: Fault, no priority change.
	cfg, err := Load(writeConfig(t, fmt.Sprintf(trackVRRP, 255)+"      track_scripts: [{name: chk_haproxy, weight: 0}]\n      track_interfaces: [eth1]\n"))
	if err == nil {
		_, err = Build(cfg)
	}
	if err != nil {
		t.Errorf("owner with weight-0 tracking: %v", err)
	}
}
