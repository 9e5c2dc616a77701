package lease

import (
	"errors"
	"net/netip"
	"testing"
)

// TestReservedNeverAllocated: a reserved address inside a pool is neither
// FREE nor BACKUP for anyone (invariant 1): Allocate never returns it,
// from FREE or BACKUP, as a hint or not, whatever state its record is in,
// and the stats that drive pool balancing do not count it as free.
func TestReservedNeverAllocated(t *testing.T) {
	db, _ := openT(t, t.TempDir(), nil)
	res := ip("192.0.2.12")
	pool := Pool{Name: "p", First: ip("192.0.2.10"), Last: ip("192.0.2.19"), Reserved: []netip.Addr{res}}
	if err := db.SetPools([]Pool{pool}); err != nil {
		t.Fatal(err)
	}
	st := db.Stats()[0]
	if st.Free != 9 || st.Reserved != 1 {
		t.Fatalf("stats %+v: want 9 free, 1 reserved", st)
	}
	if a, err := db.Allocate("p", res, StateFree); err == nil && a == res {
		t.Fatal("the reserved address was allocated as a hint")
	} else if err == nil {
		db.Unhold(a)
	}
	// The reserved client binds it, releases it; a BACKUP record of it
	// (from a config where it was not reserved) stays out too.
	l := active(res, 1, t0, 3600e9)
	mustCommit(t, db, l)
	l.State = StateReleased
	mustCommit(t, db, l)
	mustCommit(t, db, Lease{Addr: ip("192.0.2.13"), State: StateBackup, StateStart: t0})
	st = db.Stats()[0]
	if st.Free != 8 || st.Backup != 1 {
		t.Fatalf("stats %+v: want 8 free, 1 backup", st)
	}
	mustCommit(t, db, Lease{Addr: res, State: StateBackup, StateStart: t0})
	if st = db.Stats()[0]; st.Backup != 1 || st.Free != 8 {
		t.Fatalf("stats with a BACKUP record of the reserved address %+v: want 8 free, 1 backup", st)
	}
	got := map[netip.Addr]bool{}
	for _, from := range []State{StateFree, StateBackup} {
		for {
			a, err := db.Allocate("p", netip.Addr{}, from)
			if errors.Is(err, ErrPoolExhausted) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got[a] = true
		}
	}
	if got[res] {
		t.Fatal("Allocate gave the reserved address")
	}
	if len(got) != 9 {
		t.Fatalf("allocated %d addresses, want the 9 unreserved", len(got))
	}
	// The same after a rebuild (reload) with the records in place.
	for a := range got {
		db.Unhold(a)
	}
	mustCommit(t, db, Lease{Addr: res, State: StateFree, StateStart: t0})
	if err := db.SetPools([]Pool{pool}); err != nil {
		t.Fatal(err)
	}
	if st = db.Stats()[0]; st.Free != 8 || st.Backup != 1 {
		t.Fatalf("stats after SetPools %+v: want 8 free, 1 backup", st)
	}
	for {
		a, err := db.Allocate("p", res, StateFree)
		if err != nil {
			break
		}
		if a == res {
			t.Fatal("Allocate gave the reserved address after SetPools")
		}
	}
}
