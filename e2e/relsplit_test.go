package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/events"
	"github.com/hadhcpd/hadhcpd/internal/lab"
)

// relLBConfig is a load-balancing pair in the failover.relationships
// form: one relationship, lan1, over the LAN subnet. Its split (%[8]d) is
// the relationship's own key; notify (%[9]s) records each transition.
const relLBConfig = `node:
  name: %[1]s
  state_dir: %[2]s/state
  control_socket: %[2]s/ctl.sock
  log_level: info
vrrp:
  instances:
    - name: lan
      interface: eth0
      vrid: 53
      priority: %[3]d
      advert_interval: 100ms
      virtual_ips: [198.18.0.1/22]
dhcp:
  interfaces: [eth0]
  default_lease_time: 1h
  subnets:
    - subnet: 198.18.0.0/22
      pools: [{range: 198.18.1.0-198.18.3.250}]
      options: {routers: [198.18.0.1]}
failover:
  mode: load-balance
  mclt: 1h
  load_balance_max_seconds: 3
  listen: %[5]s
  max_response_delay: 3s
  auth: {psk_file: %[7]s}
  relationships:
    - name: lan1
      role: %[4]s
      peer: %[6]s
      vrrp_instance: lan
      split: %[8]d
      subnets: [198.18.0.0/22]
      notify: %[9]s
`

// relLan1 is the box's lan1 relationship in its status ("" when the
// status has none yet).
func relLan1(st control.Status) (control.RelationshipStatus, bool) {
	for _, r := range st.Relationships {
		if r.Name == "lan1" {
			return r, true
		}
	}
	return control.RelationshipStatus{}, false
}

// TestIntegrationRelationshipSplitReload: TestLoadBalanceSplitFromPrimary
// for a box in the failover.relationships form. The secondary's file says
// split 64 and it takes its primary's 128; a new split of the relationship
// on the primary alone with a reload (SIGHUP) is in force on both boxes
// without a restart, the secondary's share of the free addresses moving
// to it. Every failover transition on the way names the relationship: in
// `hadhcpd events` and in the notify script's arguments.
func TestIntegrationRelationshipSplitReload(t *testing.T) {
	scriptDir := t.TempDir()
	notify := func(box string) string {
		script := filepath.Join(scriptDir, box+".sh")
		lab.WriteFile(t, script, fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %s\n", filepath.Join(scriptDir, box+".log")))
		if err := os.Chmod(script, 0o755); err != nil {
			t.Fatal(err)
		}
		return script
	}
	p := newPairLab(t, "hrv", netip.MustParsePrefix("198.18.0.0/22"), 60, func(r boxRole, dir, psk string) string {
		split := 128
		if r.role == "secondary" {
			split = 64
		}
		return fmt.Sprintf(relLBConfig, r.name, dir, r.prio, r.role, r.listen, r.peer, psk, split, notify(r.name))
	})
	const pool = 763 // 198.18.1.0 - 198.18.3.250
	// inForce waits until both boxes have lan1 NORMAL with the link up at
	// split, the secondary owning (256-split)/256 of the free addresses.
	inForce := func(split int, d time.Duration) {
		t.Helper()
		share := float64(256-split) / 256
		lab.WaitFor(t, d, fmt.Sprintf("lan1 NORMAL on both at split %d, the secondary holding %.2f of the free addresses", split, share), func() (bool, string) {
			why := ""
			for _, b := range []*pairBox{p.pri, p.sec} {
				st, err := b.TryStatus()
				if err != nil {
					return false, why + err.Error()
				}
				r, ok := relLan1(st)
				if !ok {
					return false, why + b.Name + ": no relationship lan1 in status"
				}
				free, backup := 0, 0
				for _, pl := range st.Pools {
					free, backup = free+pl.Free, backup+pl.Backup
				}
				got := float64(backup) / float64(max(free+backup, 1))
				why += fmt.Sprintf("%s: %s link %v split %d backup share %.3f; ", b.Name, r.State, r.LinkUp, r.Split, got)
				if r.State != "NORMAL" || !r.LinkUp || r.Split != split || r.ParamsRefused != "" || math.Abs(got-share) > 0.03 {
					return false, why
				}
			}
			return true, why
		})
	}
	inForce(128, 40*time.Second)

	cfg, err := os.ReadFile(p.pri.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	lab.WriteFile(t, p.pri.Cfg, strings.Replace(string(cfg), "split: 128", "split: 192", 1))
	if err := p.pri.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.pri.WaitLog(`reload: failover split applied.* relationship=lan1 split=192`, 10*time.Second)
	p.sec.WaitLog(`failover split from the primary.* relationship=lan1.* split=192`, 10*time.Second)
	inForce(192, 20*time.Second)
	t.Logf("lan1's split 128 → 192 by a reload of its primary: in force and balanced on both in %v (pool of %d)", time.Since(start).Round(time.Millisecond), pool)

	// The transitions to NORMAL, as `hadhcpd events` and the notify
	// script saw them, name lan1.
	for _, b := range []*pairBox{p.pri, p.sec} {
		out, err := b.Output(lab.CmdTimeout, "events", "--recent", "1000")
		if err != nil {
			t.Fatal(err)
		}
		normal := 0
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var ev events.Event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("%s: events: %v: %s", b.Name, err, sc.Bytes())
			}
			if ev.Type != events.TypeFailover {
				continue
			}
			if ev.Relationship != "lan1" {
				t.Errorf("%s: a failover event without its relationship: %s", b.Name, sc.Bytes())
			}
			if ev.To == "NORMAL" {
				normal++
			}
		}
		if normal == 0 {
			t.Errorf("%s: no failover event to NORMAL in:\n%s", b.Name, out)
		}
		ran, err := os.ReadFile(filepath.Join(scriptDir, b.Name+".log"))
		if err != nil || !strings.Contains(string(ran), "FAILOVER lan1 NORMAL ") {
			t.Errorf("%s: notify script ran %q (%v), want FAILOVER lan1 NORMAL …", b.Name, ran, err)
		}
	}
}
