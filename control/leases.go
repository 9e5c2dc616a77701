package control

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// LeaseInfo is one lease as `hadhcpd leases` shows it.
type LeaseInfo struct {
	IP       string    `json:"ip"`
	State    string    `json:"state"`
	HWAddr   string    `json:"hw_address,omitempty"`
	ClientID string    `json:"client_id,omitempty"`
	Hostname string    `json:"hostname,omitempty"`
	Start    time.Time `json:"start,omitzero"`
	Expiry   time.Time `json:"expiry,omitzero"`
	Seq      uint64    `json:"seq"`
}

// LeaseFilter selects leases; zero fields match everything.
type LeaseFilter struct {
	Addr   netip.Prefix     // an address (/32) or a network
	HWAddr net.HardwareAddr //
	State  string           // active, free, expired, released, abandoned, reset, backup
}

// ParseLeaseState checks a state name for the filter.
func ParseLeaseState(s string) (string, error) {
	s = strings.ToLower(s)
	for st := lease.StateFree; st <= lease.StateBackup; st++ {
		if strings.ToLower(st.String()) == s {
			return s, nil
		}
	}
	return "", fmt.Errorf("unknown lease state %q (active, free, expired, released, abandoned, reset, backup)", s)
}

// LeaseDamage is one part of the lease database that could not be read
// (lease.Damage), its file named in the state directory.
type LeaseDamage struct {
	File    string `json:"file"`
	Offset  int64  `json:"offset"`  // -1: the file is missing
	Bytes   int64  `json:"bytes"`   // length of the unreadable run
	Records int    `json:"records"` // records lost there; 0: cannot tell
	Reason  string `json:"reason"`
}

func (d LeaseDamage) String() string {
	return lease.Damage{File: d.File, Offset: d.Offset, Bytes: d.Bytes, Records: d.Records, Reason: d.Reason}.String()
}

// ReadLeases lists the leases stored in stateDir without changing it and
// without disturbing a running server: the database files are copied to a
// temporary directory and recovered there (the running server holds the
// database's lock, and recovery may truncate a torn tail, which must not
// happen to the live journal). When part of the database cannot be read,
// the list holds what survived and damage says what was lost: the list is
// then incomplete.
func ReadLeases(stateDir string, f LeaseFilter) ([]LeaseInfo, []LeaseDamage, error) {
	tmp, err := os.MkdirTemp("", "hadhcpd-leases-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	if err := copyDB(stateDir, tmp); err != nil {
		return nil, nil, err
	}
	db, rep, err := lease.Open(lease.Options{Dir: tmp, CompactBytes: -1})
	if err != nil {
		return nil, nil, fmt.Errorf("read lease database %s: %w", stateDir, err)
	}
	var damage []LeaseDamage
	for _, d := range rep.Damage {
		damage = append(damage, LeaseDamage{File: filepath.Join(stateDir, filepath.Base(d.File)),
			Offset: d.Offset, Bytes: d.Bytes, Records: d.Records, Reason: d.Reason})
	}
	var out []LeaseInfo
	db.Range(func(l lease.Lease) bool {
		if f.Addr.IsValid() && !f.Addr.Contains(l.Addr) {
			return true
		}
		if f.HWAddr != nil && l.HWAddr.String() != f.HWAddr.String() {
			return true
		}
		st := strings.ToLower(l.State.String())
		if f.State != "" && st != f.State {
			return true
		}
		out = append(out, leaseInfo(l))
		return true
	})
	if err := db.Close(); err != nil && !errors.Is(err, lease.ErrClosed) {
		return nil, nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := netip.ParseAddr(out[i].IP)
		b, _ := netip.ParseAddr(out[j].IP)
		return a.Less(b)
	})
	return out, damage, nil
}

// copyDB copies the database files of stateDir to dir. A compaction of a
// running server may replace files while they are copied, which would
// look like a missing snapshot or journal: the copy is taken again until
// the directory held the same files before and after it.
func copyDB(stateDir, dir string) error {
	for try := 0; ; try++ {
		before, err := dbFiles(stateDir)
		if err != nil {
			return err
		}
		for _, name := range before {
			if err := copyFile(filepath.Join(stateDir, name), filepath.Join(dir, name)); err != nil && !(errors.Is(err, os.ErrNotExist) && try < 3) {
				return err
			}
		}
		after, err := dbFiles(stateDir)
		if err != nil {
			return err
		}
		if slices.Equal(before, after) || try == 3 {
			return nil
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
}

// dbFiles lists the files of a lease database, sorted: not the lock, and
// not the copies of damaged bytes (for people, never read).
func dbFiles(stateDir string) ([]string, error) {
	ents, err := os.ReadDir(stateDir)
	if err != nil {
		return nil, fmt.Errorf("node.state_dir: %w", err)
	}
	var names []string
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name() == "LOCK" || strings.Contains(e.Name(), ".corrupt-at-") {
			continue
		}
		names = append(names, e.Name())
	}
	return names, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// leaseInfo is l as `hadhcpd leases --json` prints it.
func leaseInfo(l lease.Lease) LeaseInfo {
	li := LeaseInfo{IP: l.Addr.String(), State: strings.ToLower(l.State.String()), Hostname: l.Hostname,
		Start: l.Start, Expiry: l.Expiry, Seq: l.Seq}
	if len(l.HWAddr) > 0 {
		li.HWAddr = l.HWAddr.String()
	}
	if len(l.ClientID) > 0 {
		li.ClientID = strings.ReplaceAll(fmt.Sprintf("% x", l.ClientID), " ", ":")
	}
	return li
}
