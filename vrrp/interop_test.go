package vrrp_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// keepalivedComplaints are keepalived 2.2's log lines about adverts it
// does not like (bad checksum, wrong version or length, address list or
// interval mismatch, TTL).
var keepalivedComplaints = regexp.MustCompile(`(?i)invalid|checksum|mismatch|not present|wrong|bad |ttl|unknown`)

func TestIntegrationKeepalivedInterop(t *testing.T) {
	testnet.RequireRoot(t)
	testnet.RequireCmd(t, "keepalived")
	const adv = 100 * time.Millisecond
	for _, tc := range []struct {
		name     string
		hadhcpd  int // priorities
		keepaliv int
	}{
		{"hadhcpd master", 200, 100},
		{"keepalived master", 100, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newVRRPLab(t, "hdk")
			h, k := l.a, l.b
			h.startHadhcpd(t, tc.hadhcpd, adv, true)
			k.startKeepalived(t, tc.keepaliv, adv)
			master, backup := h, k
			if tc.keepaliv > tc.hadhcpd {
				master, backup = k, h
			}
			checkOnlyMaster(t, l, master, backup, "election")
			time.Sleep(5 * adv)
			m, err := h.metrics()
			if err != nil {
				t.Fatalf("hadhcpd metrics: %v", err)
			}
			if d := drops(m); len(d) > 0 {
				t.Errorf("hadhcpd dropped keepalived's adverts: %v", d)
			}
			if !strings.Contains(m, "hadhcpd_vrrp_adverts_received_total") && master == k {
				t.Errorf("hadhcpd as backup counted no adverts from keepalived")
			}

			// The master dies hard: the other takes over.
			master.kill9()
			t0 := time.Now()
			if _, ok := l.probe.waitTakeover(backup.mac, t0, 3*time.Second); !ok {
				t.Fatalf("%s did not take over after %s was killed\n%s", backup.kind, master.kind, backup.log)
			}
			// Back again: the higher priority preempts.
			if master == h {
				h.startHadhcpd(t, tc.hadhcpd, adv, true)
			} else {
				// keepalived does not remove a VIP a killed instance left;
				// only the new master matters here.
				k.startKeepalived(t, tc.keepaliv, adv)
			}
			if master == h {
				checkOnlyMaster(t, l, h, k, "hadhcpd back")
			} else if !waitFor(5*time.Second, func() bool { return k.hasVIP(t) && !h.hasVIP(t) }) {
				t.Fatalf("keepalived back: VIP on keepalived=%v hadhcpd=%v\n%s\n--- keepalived:\n%s", k.hasVIP(t), h.hasVIP(t), h.log, k.log)
			}
			// Graceful stop of the master (priority 0) hands over too.
			master.term()
			t0 = time.Now()
			if _, ok := l.probe.waitTakeover(backup.mac, t0, 3*time.Second); !ok {
				t.Fatalf("%s did not take over after %s stopped\n%s", backup.kind, master.kind, backup.log)
			}
			backup.term()

			for _, line := range strings.Split(k.log.String(), "\n") {
				if keepalivedComplaints.MatchString(line) {
					t.Errorf("keepalived complains: %s", line)
				}
			}
			if s := h.log.String(); strings.Contains(s, "level=ERROR") || strings.Contains(s, "level=WARN") {
				t.Errorf("hadhcpd warned:\n%s", s)
			}
			if t.Failed() {
				t.Logf("keepalived log:\n%s\nhadhcpd log:\n%s", k.log, h.log)
			}
		})
	}
}
