package agent

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/agent/hooks"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/config/configtest"
	"github.com/hadhcpd/hadhcpd/vrrp"
	"github.com/hadhcpd/hadhcpd/vrrp/vrrptest"
)

// TestNotifyScriptsOnTransitions: keepalived-style notify scripts from a
// config file run, as real /bin/sh processes, on the transitions of a
// running instance (startup as backup, takeover, fault, stop), each with
// the arguments keepalived would pass, in the order of the transitions.
func TestNotifyScriptsOnTransitions(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "argv.log")
	// Each script appends its own name and its arguments, one line a run.
	body := fmt.Sprintf("#!/bin/sh\n{ printf '%%s' \"${0##*/}\"; for a in \"$@\"; do printf ' <%%s>' \"$a\"; done; echo; } >> %s\n", log)
	for _, n := range []string{"master.sh", "backup.sh", "fault.sh", "notify.sh"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := configtest.Load(t, fmt.Sprintf(`
node: {name: gw1, state_dir: %[1]s}
vrrp:
  instances:
    - name: lan
      interface: lan0
      vrid: 51
      priority: 200
      advert_interval: 50ms
      virtual_ips: [192.0.2.1/24]
      notify_master: "%[1]s/master.sh 'vip 192.0.2.1'"
      notify_backup: %[1]s/backup.sh
      notify_fault: %[1]s/fault.sh
      notify: %[1]s/notify.sh
`, dir))
	b, err := config.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	specs, err := vrrpSpecs(b.VRRP)
	if err != nil {
		t.Fatal(err)
	}
	s := specs[0]

	seg := &vrrptest.Net{}
	partnerAddr := netip.MustParseAddr("192.0.2.12")
	partner, err := vrrp.NewInstance(vrrp.Config{Name: "partner", Interface: "lan0", VRID: 51, Priority: 100,
		AdvertInterval: s.cfg.AdvertInterval, VIPs: s.cfg.VIPs}, vrrp.Deps{Conn: seg.Conn(partnerAddr), Owner: nopOwner{}, Primary: partnerAddr})
	if err != nil {
		t.Fatal(err)
	}
	r := hooks.New(s.cfg.Name, s.notify, hooks.Deps{})
	var ours *vrrp.Instance
	var seen []vrrp.State // what the pair's observer would get
	var mu sync.Mutex
	src := netip.MustParseAddr("192.0.2.11")
	ours, err = vrrp.NewInstance(s.cfg, vrrp.Deps{Conn: seg.Conn(src), Owner: nopOwner{}, Primary: src,
		OnTransition: notifyTransitions(r, func() vrrp.Status { return ours.Status() }, func(t vrrp.Transition) {
			mu.Lock()
			seen = append(seen, t.To)
			mu.Unlock()
		})})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pctx, pcancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { _ = ours.Run(ctx); close(done) })
	wg.Go(func() { _ = partner.Run(pctx) })
	t.Cleanup(func() { cancel(); pcancel(); wg.Wait() })

	waitFor(t, func() bool { return ours.Status().State == vrrp.Master && partner.Status().State == vrrp.Backup })
	ours.SetTrack(false) // carrier lost
	waitFor(t, func() bool { return ours.Status().State == vrrp.Fault })
	cancel()
	<-done
	r.Close(time.Minute)

	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"backup.sh",
		"notify.sh <INSTANCE> <lan> <BACKUP> <200>",
		"master.sh <vip 192.0.2.1>",
		"notify.sh <INSTANCE> <lan> <MASTER> <200>",
		"fault.sh",
		"notify.sh <INSTANCE> <lan> <FAULT> <200>",
		"notify.sh <INSTANCE> <lan> <STOP> <200>",
	}, "\n") + "\n"
	if string(got) != want {
		t.Errorf("scripts ran\n%s\nwant\n%s", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != fmt.Sprint([]vrrp.State{vrrp.Backup, vrrp.Master, vrrp.Fault, vrrp.Initialize}) {
		t.Errorf("the pair's observer saw %v", seen)
	}
}

// TestInstanceOnTransition: an instance's OnTransition, as Run builds it,
// gives each transition to the event stream's observer, the pair's hook
// and the notify scripts alike; instance scripts must not cost the event
// stream its VRRP events.
func TestInstanceOnTransition(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	note := func(s string) { mu.Lock(); seen = append(seen, s); mu.Unlock() }
	exec := func(_ context.Context, argv []string) ([]byte, error) {
		note("script " + strings.Join(argv, " "))
		return nil, nil
	}
	p := &vrrpPart{observe: func(instance string, t vrrp.Transition) { note("event " + instance + " " + t.To.String()) }}
	h := instHooks{onTransition: func(t vrrp.Transition) { note("hook " + t.To.String()) }}
	for _, scripts := range []bool{false, true} {
		seen = nil
		var r *hooks.Runner
		if scripts {
			r = hooks.New("lan", hooks.Scripts{Master: []string{"/m.sh"}}, hooks.Deps{Exec: exec})
		}
		on := p.onTransition("lan", h, r, func() vrrp.Status { return vrrp.Status{Priority: 200} })
		on(vrrp.Transition{From: vrrp.Backup, To: vrrp.Master})
		want := []string{"event lan " + vrrp.Master.String(), "hook " + vrrp.Master.String()}
		if scripts {
			r.Close(time.Minute)
			want = append(want, "script /m.sh")
		}
		mu.Lock()
		if fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Errorf("scripts %v: saw %q, want %q", scripts, seen, want)
		}
		mu.Unlock()
	}
}
