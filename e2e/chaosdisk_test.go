package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/lab"
	"golang.org/x/sys/unix"
)

// Disk faults for `make chaos` (TestIntegrationChaosDisk): each box's
// state_dir is a small tmpfs of its own, so one box's disk can fill up
// while the other's does not.
const (
	// chaosDiskFull: the box's state_dir fills up (every write fails with
	// ENOSPC) for hold, then the space is freed: the box must take writes
	// again by itself (no restart).
	chaosDiskFull = "diskfull"
	// chaosJournal: the box is killed, bytes in the middle of its newest
	// journal are flipped, and it starts again: recovery costs the
	// damaged records only, and the box is unfit until its partner's
	// resync has restored them.
	chaosJournal = "journal-damage"
)

// chaosDiskKinds is the disk test's deck.
var chaosDiskKinds = []string{chaosDiskFull, chaosJournal}

// chaosStateSize is each box's state_dir: room for the journal of a long
// run (a record is a few hundred bytes) far below its compaction size.
const chaosStateSize = "32m"

// TestIntegrationChaosDisk: HADHCPD_CHAOS_N disk faults under load (`make
// chaos` runs it after TestIntegrationChaos). After each, the pair is back
// in NORMAL with nothing lost and nothing given twice (the same checks as
// TestIntegrationChaos). A damaged journal keeps its box in RECOVER-WAIT
// for one MCLT after the resync (its own records cannot be proven known to
// the partner), so this pair runs with the shortest MCLT, 1 minute.
func TestIntegrationChaosDisk(t *testing.T) {
	if os.Getenv("HADHCPD_CHAOS_N") == "" {
		t.Skip("disk chaos runs with `make chaos` (HADHCPD_CHAOS_N set): every damaged journal costs a minute of RECOVER-WAIT")
	}
	n, seed, err := chaosEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	spec := crashSpec
	spec.failover = "  mclt: 1m\n"
	p := &chaosPair{newLoadPair(t, "hhard", spec)}
	// Both boxes again on empty tmpfs state dirs (the pair has served
	// nobody yet, so nothing is lost).
	for _, b := range []*pairBox{p.sec, p.pri} {
		b.Kill(syscall.SIGTERM, chaosExitWait)
	}
	for _, b := range []*pairBox{p.sec, p.pri} {
		state := filepath.Join(b.Dir, "state")
		if err := os.MkdirAll(state, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", state, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+chaosStateSize+",mode=0700"); err != nil {
			t.Fatalf("mount a tmpfs on %s: %v", state, err)
		}
		// Lazy: the box's process may still hold the directory when the
		// lab's cleanup (registered earlier, run later) has not killed it.
		t.Cleanup(func() { _ = unix.Unmount(state, unix.MNT_DETACH) })
	}
	p.sec.Start()
	p.pri.Start()
	runChaos(t, p, chaosDiskKinds, n, seed)
}

// diskFull fills b's state_dir until writes fail, holds it full, and
// frees the space again.
func (p *chaosPair) diskFull(t *testing.T, b *pairBox, hold time.Duration) {
	t.Helper()
	filler := filepath.Join(b.Dir, "state", "filler")
	f, err := os.OpenFile(filler, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	full := false
	for range 1024 { // bounded: the tmpfs holds 32 MiB
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", filler, err)
			}
			full = true
			break
		}
	}
	// The last partial chunk's room, page by page.
	for range 256 {
		if _, err := f.Write(chunk[:4096]); err != nil {
			break
		}
	}
	f.Close()
	if !full {
		t.Fatalf("%s: the state dir never filled up", b.Name)
	}
	mark := len(b.Log.String())
	time.Sleep(hold)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// The box says when writes failed and when they work again; under
	// load a commit is due every few milliseconds, so both come soon.
	if strings.Contains(b.Log.String()[mark:], "journal write failed") {
		waitLogAfter(t, b.Box, b.Log.String()[:mark], "journal writable again", 30*time.Second)
	}
}

// waitLogAfter waits, bounded, for want in b's log after the first
// occurrence of marker (a start marker, or the log as it was at some
// point).
func waitLogAfter(t *testing.T, b *lab.Box, marker, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		log := b.Log.String()
		if i := strings.Index(log, marker); i >= 0 && strings.Contains(log[i+len(marker):], want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q in the log within %v", b.Name, want, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// damageJournal flips 8 bytes in the middle of b's newest journal (the box
// is stopped) and reports whether it did (a journal of a few records is
// left alone).
func damageJournal(t *testing.T, b *pairBox) bool {
	t.Helper()
	state := filepath.Join(b.Dir, "state")
	ents, err := os.ReadDir(state)
	if err != nil {
		t.Fatal(err)
	}
	var journals []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "journal-") && strings.HasSuffix(e.Name(), ".hdl") {
			journals = append(journals, e.Name())
		}
	}
	if len(journals) == 0 {
		t.Fatalf("%s: no journal in %s", b.Name, state)
	}
	slices.Sort(journals) // generation in fixed-width hex: the last is the newest
	path := filepath.Join(state, journals[len(journals)-1])
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 4096 {
		t.Logf("%s: %s holds %d bytes: too few records to damage", b.Name, path, len(data))
		return false
	}
	off := len(data) / 2
	for i := range 8 {
		data[off+i] ^= 0xff
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: flipped 8 bytes at offset %d of %s (%d bytes)", b.Name, off, path, len(data))
	return true
}
