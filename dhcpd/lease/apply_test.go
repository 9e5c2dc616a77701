package lease

import (
	"errors"
	"testing"
	"time"
)

// partner is l as the partner's record with the partner's seq.
func partner(l Lease, seq uint64) Lease {
	l.Seq, l.Peer = seq, false // from the partner's point of view it is its own
	return l
}

func TestApplyOrderAndReopen(t *testing.T) {
	dir := t.TempDir()
	db, _ := openT(t, dir, nil)
	a := ip("192.0.2.7")
	first := active(a, 1, t0, time.Hour)
	second := first
	second.State, second.Expiry = StateReleased, t0.Add(time.Minute)
	second.CLTT, second.StateStart = t0.Add(time.Minute), t0.Add(time.Minute)
	other := active(ip("192.0.2.8"), 2, t0, time.Hour)
	fsyncs := db.Fsyncs()
	if err := db.Apply(partner(first, 10), partner(other, 11), partner(second, 12)); err != nil {
		t.Fatal(err)
	}
	if n := db.Fsyncs() - fsyncs; n != 1 {
		t.Errorf("Apply of 3 records took %d fsyncs, want 1 (one group commit)", n)
	}
	if got, _ := db.Get(a); got.State != StateReleased || got.Seq != 12 || !got.Peer {
		t.Fatalf("after batch: %v seq %d peer %v, want the last record (RELEASED, 12, peer)", got.State, got.Seq, got.Peer)
	}
	if db.PartnerSeq() != 12 {
		t.Errorf("PartnerSeq %d, want 12", db.PartnerSeq())
	}
	// An invalid lease anywhere stores nothing of the batch.
	good := partner(active(ip("192.0.2.9"), 3, t0, time.Hour), 13)
	bad := partner(active(ip("192.0.2.10"), 4, t0, time.Hour), 14)
	bad.Expiry = time.Unix(1<<33, 0) // past 2106
	if err := db.Apply(good, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid lease: %v, want ErrInvalid", err)
	}
	if _, ok := db.Get(ip("192.0.2.9")); ok {
		t.Fatal("a batch with an invalid lease stored its good records")
	}
	db.Close()
	db2, _ := openT(t, dir, nil)
	if got, _ := db2.Get(a); got.State != StateReleased || db2.PartnerSeq() != 12 {
		t.Fatalf("after reopen: %v, PartnerSeq %d", got.State, db2.PartnerSeq())
	}
}

// TestApplyKeepsOurLongerBinding: a partner record must not replace an
// ACTIVE, unexpired binding of ours that ends later (invariant 1), except
// the same client's later transaction; the partner's own stream and our
// expired bindings are replaced as usual.
func TestApplyKeepsOurLongerBinding(t *testing.T) {
	now := t0                                                                  // the test DB's clock
	ours := active(ip("192.0.2.20"), 1, now.Add(-10*time.Minute), 2*time.Hour) // renewed alone: ends now+110m
	expired := ours
	expired.State, expired.Expiry, expired.StateStart = StateExpired, time.Time{}, now.Add(-time.Minute)
	shorter := active(ours.Addr, 1, now.Add(-time.Hour), 70*time.Minute) // the partner's older binding
	longer := active(ours.Addr, 1, now.Add(-time.Minute), 3*time.Hour)
	otherClient := active(ours.Addr, 2, now.Add(-time.Minute), time.Hour)
	release := ours
	release.State, release.Expiry, release.CLTT, release.StateStart = StateReleased, now, now, now
	staleRelease := release
	staleRelease.CLTT = now.Add(-time.Hour)

	for _, tc := range []struct {
		name     string
		local    Lease
		fromPeer bool // local came from the partner's stream
		in       Lease
		kept     bool
	}{
		{"partner's EXPIRED vs our live renewal: kept", ours, false, expired, true},
		{"partner's shorter binding: kept", ours, false, shorter, true},
		{"another client's shorter binding: kept", ours, false, otherClient, true},
		{"partner's stale RELEASE (older CLTT): kept", ours, false, staleRelease, true},
		{"partner's longer binding: replaced", ours, false, longer, false},
		{"same client's later RELEASE at the partner: replaced", ours, false, release, false},
		{"our binding already ended: replaced", active(ours.Addr, 1, now.Add(-3*time.Hour), time.Hour), false, expired, false},
		{"the partner's own record: its stream wins", ours, true, expired, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := openT(t, t.TempDir(), nil)
			defer db.Close()
			if tc.fromPeer {
				if err := db.Apply(partner(tc.local, 5)); err != nil {
					t.Fatal(err)
				}
			} else {
				mustCommit(t, db, tc.local)
			}
			if err := db.Apply(partner(tc.in, 9)); err != nil {
				t.Fatal(err)
			}
			got, _ := db.Get(tc.local.Addr)
			if kept := got.Peer == tc.fromPeer && got.State == tc.local.State && got.Expiry.Equal(tc.local.Expiry.Truncate(time.Second)); kept != tc.kept {
				t.Fatalf("kept local = %v, want %v (stored %v until %v, peer %v)", kept, tc.kept, got.State, got.Expiry, got.Peer)
			}
			if db.PartnerSeq() != 9 {
				t.Errorf("PartnerSeq %d, want 9: a kept-local record still counts as held", db.PartnerSeq())
			}
		})
	}
}
