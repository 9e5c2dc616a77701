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
