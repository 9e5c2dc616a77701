package e2e

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/internal/lab"
)

// partner-down on a box of the ring names the relationship: without a
// name it is refused (by the command line, and by the agent when the
// command line is bypassed) with the relationships listed; with the name
// of a relationship whose partner is heard it is refused; with the name
// of the one whose partner is lost, that relationship alone goes to
// PARTNER-DOWN.
func TestIntegrationRingPartnerDown(t *testing.T) {
	m := newMultiLabIn(t, chaosRingPrefix, ringSegments, ringSync, "a", "b", "c")
	a := m.boxes["a"]
	m.waitNormal(60*time.Second, false)

	out, err := a.Run("partner-down", "--yes")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(out, "seg1 (partner 198.51.100.2), seg3 (partner 198.51.100.3)") {
		t.Fatalf("partner-down without --relationship on A: %v, want exit 2 listing the relationships\n%s", err, out)
	}
	sock := filepath.Join(a.Dir, "ctl.sock")
	if _, err := control.PartnerDown(sock, ""); err == nil || !strings.Contains(err.Error(), "seg1 (partner 198.51.100.2)") {
		t.Fatalf("the agent took partner-down without a relationship: %v", err)
	}
	if _, err := control.PartnerDown(sock, "seg2"); err == nil || !strings.Contains(err.Error(), `"seg2": no such failover relationship`) {
		t.Fatalf("the agent took partner-down of a relationship A is not in: %v", err)
	}

	m.lose("c")
	lab.WaitFor(t, 15*time.Second, "A: seg3 out of NORMAL with its link down", func() (bool, string) {
		r := ringRel(a.Status(), "seg3")
		return r != nil && !r.LinkUp && r.State != "NORMAL", fmt.Sprintf("%+v", r)
	})
	out, err = a.Run("partner-down", "--yes", "--relationship", "seg1")
	if err == nil || !strings.Contains(out, "refused") {
		t.Fatalf("partner-down seg1 with B alive: %v, want refused\n%s", err, out)
	}
	out, err = a.Run("partner-down", "--yes", "--relationship", "seg3")
	if err != nil || !strings.Contains(out, "PARTNER-DOWN") {
		t.Fatalf("partner-down seg3 with C lost: %v\n%s", err, out)
	}
	st := a.Status()
	if r := ringRel(st, "seg3"); r == nil || r.State != "PARTNER-DOWN" {
		t.Errorf("A's seg3 after partner-down seg3: %+v, want PARTNER-DOWN", r)
	}
	if r := ringRel(st, "seg1"); r == nil || r.State != "NORMAL" || !r.LinkUp {
		t.Errorf("A's seg1 after partner-down seg3: %+v, want NORMAL with the link up", r)
	}
	if r := ringRel(m.boxes["b"].Status(), "seg1"); r == nil || r.State != "NORMAL" {
		t.Errorf("B's seg1 after A's partner-down seg3: %+v, want NORMAL", r)
	}
	for _, b := range []string{"a", "b"} {
		m.boxes[b].Stop(t)
	}
}
