package lease

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// journalBytes is the whole current journal of a database in dir.
func journalBytes(t *testing.T, dir string) []byte {
	t.Helper()
	ms, err := filepath.Glob(filepath.Join(dir, journalPrefix+"*"))
	if err != nil || len(ms) == 0 {
		t.Fatalf("no journal in %s: %v", dir, err)
	}
	var all []byte
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// A record's payload is the record the journal holds and the bytes
// MarshalBinary makes of its lease, so the replication stream can send it
// without encoding again and the wire and the disk stay one format.
func TestRecordsAreTheJournalRecords(t *testing.T) {
	dir := t.TempDir()
	db, _ := openT(t, dir, nil)
	ls := []Lease{active(ip("192.0.2.1"), 1, t0, time.Hour), active(ip("192.0.2.2"), 2, t0, 2*time.Hour)}
	ls[1].ClientID, ls[1].Peer, ls[1].Seq = []byte("cid"), true, 99 // Commit clears both
	committed, err := db.CommitRecords(ls...)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := db.ExpireRecords(t0.Add(90*time.Minute), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(committed) != 2 || len(expired) != 1 {
		t.Fatalf("got %d committed and %d expired records, want 2 and 1", len(committed), len(expired))
	}
	j := journalBytes(t, dir)
	for i, r := range append(committed, expired...) {
		l := r.Lease()
		if l.Seq != uint64(i+1) || l.Peer {
			t.Errorf("record %d: seq %d peer %v, want %d false", i, l.Seq, l.Peer, i+1)
		}
		want, err := l.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.Payload(), want) {
			t.Errorf("record %d: payload\n%x\nMarshalBinary of its lease\n%x", i, r.Payload(), want)
		}
		if !bytes.Contains(j, appendPayloadFrame(nil, r.Payload())) {
			t.Errorf("record %d (seq %d) is not framed as such in the journal", i, l.Seq)
		}
	}
	if e := expired[0].Lease(); e.State != StateExpired || e.Addr != ip("192.0.2.1") {
		t.Errorf("expired record: %v %v", e.Addr, e.State)
	}
	if l, got := committed[1].Lease(), mustGet(t, db, ip("192.0.2.2")); !equalLease(got, l) {
		t.Errorf("record's lease %+v, the database holds %+v", l, got)
	}
	// Commit and Expire return the same states without the payloads.
	plain, err := db.Commit(ls[0])
	if err != nil {
		t.Fatal(err)
	}
	if plain[0].Seq != 4 {
		t.Errorf("Commit after the records: seq %d, want 4", plain[0].Seq)
	}
}

func mustGet(t *testing.T, db *DB, a netip.Addr) Lease {
	t.Helper()
	l, ok := db.Get(a)
	if !ok {
		t.Fatalf("no lease for %v", a)
	}
	return l
}

func equalLease(a, b Lease) bool {
	pa, _ := a.MarshalBinary()
	pb, _ := b.MarshalBinary()
	return bytes.Equal(pa, pb)
}

func TestNewRecordAndValidate(t *testing.T) {
	l := active(ip("192.0.2.3"), 3, t0.Add(time.Millisecond), time.Hour)
	l.Seq = 5
	r, err := NewRecord(l)
	if err != nil {
		t.Fatal(err)
	}
	var back Lease
	if err := back.UnmarshalBinary(r.Payload()); err != nil {
		t.Fatal(err)
	}
	if !equalLease(back, r.Lease()) || !r.Lease().Start.Equal(t0) {
		t.Errorf("NewRecord: lease %+v, payload decodes to %+v", r.Lease(), back)
	}
	if (Record{}).Payload() != nil {
		t.Error("the zero Record has a payload")
	}
	if err := l.Validate(); err != nil {
		t.Errorf("Validate(valid) = %v", err)
	}
	for name, bad := range map[string]func(*Lease){
		"IPv6":       func(l *Lease) { l.Addr = ip("2001:db8::1") },
		"state":      func(l *Lease) { l.State = 0 },
		"hw":         func(l *Lease) { l.HWAddr = make([]byte, 17) },
		"hostname":   func(l *Lease) { l.Hostname = string(make([]byte, 256)) },
		"after 2106": func(l *Lease) { l.AckedExpiry = time.Unix(1<<33, 0) },
	} {
		b := l
		bad(&b)
		if err := b.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
		if _, err := NewRecord(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: NewRecord = %v, want ErrInvalid", name, err)
		}
	}
}
