package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const notifyVRRP = `
node: {name: gw1, state_dir: /var/lib/hadhcpd}
vrrp:
  instances:
    - name: lan
      interface: eth0
      vrid: 51
      priority: 200
      virtual_ips: [192.0.2.1/24]
`

func TestNotifyKeys(t *testing.T) {
	cfg, err := Load(writeConfig(t, notifyVRRP+`      notify_master: "/etc/keepalived/master.sh 'two words' x\\ y"
      notify_fault: /usr/local/bin/fault
      notify: /usr/local/bin/notify.sh --verbose
      notify_timeout: 3s
`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := b.VRRP[0].Notify
	if !slices.Equal(n.Master, []string{"/etc/keepalived/master.sh", "two words", "x y"}) ||
		n.Backup != nil || !slices.Equal(n.Fault, []string{"/usr/local/bin/fault"}) ||
		!slices.Equal(n.Any, []string{"/usr/local/bin/notify.sh", "--verbose"}) || n.Timeout != 3*time.Second {
		t.Fatalf("notify = %+v", n)
	}

	cfg, err = Load(writeConfig(t, notifyVRRP))
	if err != nil {
		t.Fatal(err)
	}
	if b, err = Build(cfg); err != nil || b.VRRP[0].Notify.Timeout != DefaultNotifyTimeout || b.VRRP[0].Notify.Any != nil {
		t.Fatalf("defaults: %+v, %v", b.VRRP[0].Notify, err)
	}
}

// TestNotifyRefused: a script that would need a PATH search or a shell's
// parsing is refused with its key path.
func TestNotifyRefused(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`notify_master: master.sh`, `vrrp.instances[0].notify_master: "master.sh" is not an absolute path`},
		{`notify_backup: "./backup.sh MASTER"`, `vrrp.instances[0].notify_backup: "./backup.sh" is not an absolute path`},
		{`notify: "/bin/echo 'open"`, `vrrp.instances[0].notify: "/bin/echo 'open": unterminated ' quote`},
		{`notify_fault: "/bin/fault \\"`, `vrrp.instances[0].notify_fault: "/bin/fault \\": ends with a backslash`},
		{`notify_timeout: -1s`, `vrrp.instances[0].notify_timeout: -1s is negative`},
	} {
		cfg, err := Load(writeConfig(t, notifyVRRP+"      "+tc.line+"\n"))
		if err == nil {
			_, err = Build(cfg)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.line, err, tc.want)
		}
	}
}

func TestSplitCommand(t *testing.T) {
	for in, want := range map[string][]string{
		"/a":                   {"/a"},
		"  /a  b\tc ":          {"/a", "b", "c"},
		`/a "b c" 'd "e"'`:     {"/a", "b c", `d "e"`},
		`/a b"c d"e`:           {"/a", "bc de"},
		`/a \'x\' ''`:          {"/a", "'x'", ""},
		`/a $HOME;ls|wc >out`:  {"/a", "$HOME;ls|wc", ">out"},
		`/path\ with\ space x`: {"/path with space", "x"},
	} {
		got, err := SplitCommand(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := SplitCommand("   "); err == nil {
		t.Error("blank command accepted")
	}
}

// notifyFailover is a single failover: section; notify keys go after it.
const notifyFailover = `
node: {name: gw1, state_dir: /var/lib/hadhcpd}
vrrp:
  instances: [{name: lan, interface: eth0, vrid: 51, priority: 200, virtual_ips: [192.0.2.1/24]}]
dhcp:
  interfaces: [eth0]
  subnets: [{subnet: 192.0.2.0/24, pools: [{range: 192.0.2.100-192.0.2.200}]}]
failover:
  role: primary
  listen: 198.51.100.1:647
  peer: 198.51.100.2:647
  vrrp_instance: lan
  auth: {psk_file: /etc/hadhcpd/peer.key}
`

// TestFailoverNotifyKeys: failover.notify split as the VRRP scripts are,
// its timeout defaulted; in the relationships form the section's keys are
// every relationship's defaults and a relationship's own keys win.
func TestFailoverNotifyKeys(t *testing.T) {
	b := buildText(t, notifyFailover+`  notify: "/etc/hadhcpd/failover.sh 'two words'"
  notify_timeout: 3s
`)
	if n := b.Failover.Notify; !slices.Equal(n.Command, []string{"/etc/hadhcpd/failover.sh", "two words"}) || n.Timeout != 3*time.Second {
		t.Errorf("single: notify = %+v", n)
	}
	if n := buildText(t, notifyFailover).Failover.Notify; n.Command != nil || n.Timeout != DefaultNotifyTimeout {
		t.Errorf("single, none: notify = %+v", n)
	}

	ring := strings.Replace(ringA, "  relationships:\n", "  notify: /etc/hadhcpd/all.sh\n  notify_timeout: 20s\n  relationships:\n", 1)
	ring = strings.Replace(ring, "      subnets: [192.0.2.128/26]\n", "      subnets: [192.0.2.128/26]\n      notify: /etc/hadhcpd/seg3.sh -v\n      notify_timeout: 4s\n", 1)
	b = buildText(t, ring)
	r1, r3 := b.Relationships[0].Notify, b.Relationships[1].Notify
	if !slices.Equal(r1.Command, []string{"/etc/hadhcpd/all.sh"}) || r1.Timeout != 20*time.Second {
		t.Errorf("seg1 (the section's defaults): notify = %+v", r1)
	}
	if !slices.Equal(r3.Command, []string{"/etc/hadhcpd/seg3.sh", "-v"}) || r3.Timeout != 4*time.Second {
		t.Errorf("seg3 (its own): notify = %+v", r3)
	}
}

func buildText(t *testing.T, text string) *Built {
	t.Helper()
	cfg, err := Load(writeConfig(t, text))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFailoverNotifyRefused: the VRRP notify scripts' rules, with the key
// path of the section or of the relationship that wrote the bad value
// (named once, not once per relationship taking it as a default).
func TestFailoverNotifyRefused(t *testing.T) {
	ringOwn := func(line string) string {
		return strings.Replace(ringA, "      subnets: [192.0.2.128/26]\n", "      subnets: [192.0.2.128/26]\n      "+line+"\n", 1)
	}
	ringDefault := func(line string) string {
		return strings.Replace(ringA, "  relationships:\n", "  "+line+"\n  relationships:\n", 1)
	}
	for _, tc := range []struct{ text, want string }{
		{notifyFailover + "  notify: failover.sh\n", `failover.notify: "failover.sh" is not an absolute path`},
		{notifyFailover + "  notify: \"/bin/echo 'open\"\n", `failover.notify: "/bin/echo 'open": unterminated ' quote`},
		{notifyFailover + "  notify: /bin/true\n  notify_timeout: -1s\n", `failover.notify_timeout: -1s is negative`},
		{notifyFailover + "  notify: /bin/true\n  notify_timeout: 2h\n", `failover.notify_timeout: 2h0m0s is longer than 1h0m0s`},
		{ringOwn("notify: ./seg3.sh"), `failover.relationships[1].notify: "./seg3.sh" is not an absolute path`},
		{ringOwn("notify_timeout: -5s"), `failover.relationships[1].notify_timeout: -5s is negative`},
		{ringDefault("notify: all.sh"), `failover.notify: "all.sh" is not an absolute path`},
	} {
		cfg, err := Load(writeConfig(t, tc.text))
		if err == nil {
			_, err = Build(cfg)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
			continue
		}
		if n := strings.Count(err.Error(), "notify"); n != 1 {
			t.Errorf("%q named %d times in %v", tc.want, n, err)
		}
	}
}
