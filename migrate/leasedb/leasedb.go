// Package leasedb writes imported leases into hadhcpd's lease database
// (dhcpd/lease). It is apart from package migrate so the importers build and
// test without the database.
package leasedb

import (
	"errors"
	"fmt"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// ErrNotEmpty is returned when the state directory already holds leases and
// the caller did not ask to merge into them.
var ErrNotEmpty = errors.New("lease database is not empty")

// Committer is the part of *lease.DB the import writes through.
type Committer interface {
	Commit(ls ...lease.Lease) ([]lease.Lease, error)
}

// Batch is how many leases one Commit carries: each Commit is one fsync,
// so 100,000 leases take 100 fsyncs instead of 100,000.
const Batch = 1000

// Convert turns an imported lease into the database's form.
func Convert(l migrate.Lease) lease.Lease {
	var st lease.State
	switch l.State {
	case migrate.LeaseActive:
		st = lease.StateActive
	case migrate.LeaseExpired:
		st = lease.StateExpired
	case migrate.LeaseReleased:
		st = lease.StateReleased
	case migrate.LeaseAbandoned:
		st = lease.StateAbandoned
	}
	stateStart := l.Start
	if l.State != migrate.LeaseActive && !l.Expiry.IsZero() {
		stateStart = l.Expiry
	}
	return lease.Lease{
		Addr:            l.Addr,
		HWAddr:          l.HWAddr,
		ClientID:        l.ClientID,
		Hostname:        l.Hostname,
		State:           st,
		Start:           l.Start,
		Expiry:          l.Expiry,
		PotentialExpiry: l.PotentialExpiry,
		AckedExpiry:     l.AckedExpiry,
		PartnerExpiry:   l.PartnerExpiry,
		CLTT:            l.CLTT,
		StateStart:      stateStart,
	}
}

// Write commits ls in batches and returns how many were written.
func Write(db Committer, ls []migrate.Lease) (int, error) {
	n := 0
	buf := make([]lease.Lease, 0, Batch)
	for len(ls) > 0 {
		b := ls[:min(Batch, len(ls))]
		buf = buf[:0]
		for _, l := range b {
			buf = append(buf, Convert(l))
		}
		if _, err := db.Commit(buf...); err != nil {
			return n, fmt.Errorf("migrate: commit leases %s..%s: %w", b[0].Addr, b[len(b)-1].Addr, err)
		}
		n += len(b)
		ls = ls[len(b):]
	}
	return n, nil
}

// WriteDir opens (creating) the lease database in dir and commits ls. A
// database that already holds leases is refused unless merge is set, so an
// import never mixes into a running box's state by accident.
func WriteDir(dir string, ls []migrate.Lease, merge bool) (int, error) {
	db, rep, err := lease.Open(lease.Options{Dir: dir, CompactBytes: -1})
	if err != nil {
		return 0, fmt.Errorf("migrate: open lease database: %w", err)
	}
	if !merge && rep.SnapshotLeases+rep.Records > 0 {
		_ = db.Close()
		return 0, fmt.Errorf("%s: %w (%d leases; --force merges into it)", dir, ErrNotEmpty, rep.SnapshotLeases+rep.Records)
	}
	n, werr := Write(db, ls)
	if cerr := db.Close(); werr == nil && cerr != nil {
		werr = fmt.Errorf("migrate: close lease database: %w", cerr)
	}
	return n, werr
}
