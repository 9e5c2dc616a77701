package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// trackConfig is a VRRP-only box whose instance tracks a check script
// with a negative weight, as keepalived users write it (vrrp_script
// chk_service { weight -60 rise 2 fall 2 }): %[1]s name, %[2]s dir,
// %[3]d priority.
const trackConfig = `
node: {name: %[1]s, state_dir: %[2]s/state, control_socket: %[2]s/ctl.sock, log_level: debug}
vrrp:
  scripts:
    - name: chk_service
      script: %[2]s/check.sh
      interval: 200ms
      timeout: 1s
      rise: 2
      fall: 2
      weight: -60
    - name: chk_link
      script: /bin/sh -c "! test -e %[2]s/link-down"
      interval: 200ms
  instances:
    - name: lan
      interface: eth0
      vrid: 61
      priority: %[3]d
      advert_interval: 100ms
      virtual_ips: [192.0.2.1/24]
      track_scripts: [chk_service, chk_link]
`

// TestIntegrationTrackScript: two boxes, the master's check script fails
// (the test creates the file it looks for): its priority drops by the
// weight below the backup's, which preempts and takes the VIP (RFC 5798
// §6.4.3); the check passes again and the first box, preempting, takes it
// back. A failing check of weight 0 puts the master in Fault instead.
func TestIntegrationTrackScript(t *testing.T) {
	testnet.RequireRoot(t)
	n := testnet.New(t, "htrk")
	br := n.Switch("lan")
	type box struct {
		*lab.Box
		down string // the file whose presence fails the check
	}
	mk := func(name, addr string, prio int) box {
		h := n.Host(name)
		h.Connect(br, "eth0", addr)
		dir := t.TempDir()
		down := filepath.Join(dir, "service-down")
		check := fmt.Sprintf("#!/bin/sh\n# fails while %s exists, as pidof fails while the service is down\n[ ! -e %s ]\n", down, down)
		if err := os.WriteFile(filepath.Join(dir, "check.sh"), []byte(check), 0o755); err != nil {
			t.Fatal(err)
		}
		b := box{lab.NewBox(t, h, name, dir, fmt.Sprintf(trackConfig, name, dir, prio)), down}
		b.Start()
		t.Cleanup(func() { b.Stop(t) })
		return b
	}
	a := mk("a", "192.0.2.11/24", 150)
	b := mk("b", "192.0.2.12/24", 120)
	hasVIP := func(x box) bool { return lab.HasAddr(x.Host, "eth0", "192.0.2.1") }
	// vipOn waits for the VIP on x alone and x's status to say so.
	vipOn := func(x, other box, d time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		lab.WaitFor(t, d, "VIP on "+x.Name+" alone", func() (bool, string) {
			return hasVIP(x) && !hasVIP(other), fmt.Sprintf("%s %v, %s %v", x.Name, hasVIP(x), other.Name, hasVIP(other))
		})
		took := time.Since(start)
		if st := x.Status(); len(st.VRRP) != 1 || st.VRRP[0].State != "MASTER" {
			t.Errorf("%s: %+v, want MASTER", x.Name, st.VRRP)
		}
		return took
	}
	prioOf := func(x box) int {
		st := x.Status()
		if len(st.VRRP) != 1 {
			t.Fatalf("%s: %+v", x.Name, st.VRRP)
		}
		return st.VRRP[0].Priority
	}
	vipOn(a, b, 10*time.Second)

	// The service on a goes down: two failures (fall 2, 200ms apart),
	// then a advertises 90 and b (120) preempts.
	lab.WriteFile(t, a.down, "")
	took := vipOn(b, a, 5*time.Second)
	if p := prioOf(a); p != 90 {
		t.Errorf("a's priority with its check failing: %d, want 150-60 = 90", p)
	}
	a.WaitLog(`track script.*chk_service.*status=down`, 5*time.Second)
	t.Logf("check failing on the master: VIP on the backup %v after the file appeared", took.Round(time.Millisecond))

	// Back up (rise 2): a returns to 150 and preempts b.
	if err := os.Remove(a.down); err != nil {
		t.Fatal(err)
	}
	took = vipOn(a, b, 5*time.Second)
	if p := prioOf(a); p != 150 {
		t.Errorf("a's priority with its check passing again: %d, want 150", p)
	}
	t.Logf("check passing again: VIP back on a %v after the file went", took.Round(time.Millisecond))
	// b's own check passed all along: its priority never moved.
	if p := prioOf(b); p != 120 {
		t.Errorf("b's priority %d, want 120", p)
	}

	// A weight-0 check failing (rise and fall 1): Fault, the VIP goes.
	linkDown := filepath.Join(a.Dir, "link-down")
	lab.WriteFile(t, linkDown, "")
	took = vipOn(b, a, 5*time.Second)
	if st := a.Status(); st.VRRP[0].State != "FAULT" {
		t.Errorf("a with its weight-0 check failing: %s, want FAULT", st.VRRP[0].State)
	}
	t.Logf("weight-0 check failing on the master: FAULT, VIP on the backup %v later", took.Round(time.Millisecond))
	if err := os.Remove(linkDown); err != nil {
		t.Fatal(err)
	}
	vipOn(a, b, 5*time.Second)
}
