package lease

// This file is the contract between the lease database and its users (the
// DHCP engine in dhcpd/, the replication stream in sync/peer, the failover
// logic in sync/failover, the importers). Change it only with all of them in
// mind.
//
// The contract of each method is its doc comment on *DB (db.go). Each user
// declares the methods it calls as an interface of its own, which the
// compiler checks against *DB where the user is wired; a list of the
// methods kept here as well would only fall behind.

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"
)

// State is a binding state of the DHCP failover protocol
// (draft-ietf-dhc-failover-12 §5.2.1). OFFERED lives in the engine's memory,
// never here.
type State uint8

const (
	StateFree      State = 1 // may be allocated by the box that owns FREE (the primary, or a single server)
	StateActive    State = 2 // bound to a client until Expiry
	StateExpired   State = 3 // lease ran out; reclaimable
	StateReleased  State = 4 // client released it; reclaimable
	StateAbandoned State = 5 // declined or found in use; not allocatable until its probation ends
	StateReset     State = 6 // operator reset; reclaimable
	StateBackup    State = 7 // owned by the secondary for use while the primary is unreachable
)

// Lease is the full state of one address. It is a value: the database hands
// out copies and takes new states whole.
type Lease struct {
	Addr     netip.Addr
	HWAddr   net.HardwareAddr // chaddr (up to 16 bytes)
	ClientID []byte           // option 61 when the client sent one
	Hostname string
	State    State
	Start    time.Time // when the current binding began
	Expiry   time.Time // what the client was told (ACTIVE); zero when not bound

	// Failover times (draft-ietf-dhc-failover-12 §5.2, §7.2.2).
	PotentialExpiry time.Time // sent to the partner in the last update
	AckedExpiry     time.Time // the partner acknowledged this potential expiry
	PartnerExpiry   time.Time // received from the partner
	CLTT            time.Time // client last transaction time
	StateStart      time.Time // when State was entered

	// Seq is the sequence number of the record that last changed this
	// lease, assigned by the database that wrote it.
	Seq uint64
	// Peer says that Seq was assigned by the partner: the state came in
	// through Apply. Commit always stores Peer = false. The codec carries
	// it from the writer's point of view, and Apply flips it, so a record
	// that comes back from the partner (in a resync) is recognised as ours.
	Peer bool
}

// Record is one lease state together with its record payload (doc.go
// "Record payload"): the bytes the journal holds for it and the
// replication stream carries. The payload is made once, when the state is
// committed, so the path to the partner encodes nothing again; the fields
// are unexported so that the two cannot disagree (only CommitRecords,
// ExpireRecords and NewRecord make one). The zero Record has no payload.
type Record struct {
	lease   Lease
	payload []byte
}

// Lease is the state the record holds.
func (r Record) Lease() Lease { return r.lease }

// Payload is the encoded record, Lease().MarshalBinary()'s bytes; nil for
// the zero Record. The caller must not modify it.
func (r Record) Payload() []byte { return r.payload }

// Leases is the states of rs (nil for none), as Commit and Expire return
// them.
func Leases(rs []Record) []Lease {
	if len(rs) == 0 {
		return nil
	}
	out := make([]Lease, len(rs))
	for i := range rs {
		out[i] = rs[i].lease
	}
	return out
}

// ClientKey is how a client is identified: option 61 when present, else the
// hardware address (RFC 2132 §9.14, RFC 2131 §4.2). The first byte tells the
// two kinds apart so an identifier can never collide with a MAC.
func ClientKey(clientID []byte, hw net.HardwareAddr) string {
	if len(clientID) > 0 {
		return "i" + string(clientID)
	}
	return "h" + string(hw)
}

// Key returns the lease's client key, or "" for a lease with no client.
func (l *Lease) Key() string {
	if len(l.ClientID) == 0 && len(l.HWAddr) == 0 {
		return ""
	}
	return ClientKey(l.ClientID, l.HWAddr)
}

// Pool is a contiguous range of addresses the database allocates from.
// Addresses of a pool that have no lease record are FREE.
type Pool struct {
	Name  string // for logs and metrics, e.g. "192.0.2.0/24"
	First netip.Addr
	Last  netip.Addr
	// Reserved are addresses of the range pinned to one client by a
	// reservation: never allocated, neither FREE nor BACKUP for anyone
	// (invariant 1); the reserved client's own records still live here.
	Reserved []netip.Addr
}

// PoolStats counts a pool's addresses by state; Free counts addresses with
// no record too. Held counts addresses taken by Allocate and not yet
// committed or returned. Reserved addresses (Pool.Reserved) count in
// Reserved instead of Free and Backup, so pool balancing never hands them
// out.
type PoolStats struct {
	Name                                                                   string
	Total, Free, Backup, Active, Expired, Released, Abandoned, Reset, Held int
	Reserved                                                               int
}

// Clock is the time source; tests inject a fake.
type Clock interface{ Now() time.Time }

// Options configure Open.
type Options struct {
	Dir    string       // state directory: journal, snapshot, moved-aside files
	Clock  Clock        // nil = wall clock
	Logger *slog.Logger // nil = discard
	// CompactBytes starts an online compaction when the journal grows past
	// this size; 0 = a built-in default, <0 = never automatically.
	CompactBytes int64
	// SeqGroup, when set, names the group of an address ("": none); the
	// database then keeps each group's highest sequence numbers (GroupSeqs,
	// doc.go "Sequence groups"). A box in several failover relationships
	// names each relationship's addresses. It is called under the
	// database's lock: it must not call the database. Names longer than
	// 255 bytes are not kept through a compaction.
	SeqGroup func(netip.Addr) string

	journalFile func(*os.File) journalFile // tests: wraps each journal file the writer appends to
}

// OpenReport says what recovery found, for the caller to log and act on.
type OpenReport struct {
	SnapshotLeases int       // leases loaded from the snapshot
	Records        int       // journal records replayed
	TruncatedAt    int64     // >=0: a torn tail was cut at this journal offset; -1 = none
	Damage         []Damage  // what could not be read, in the order found; each was also logged
	MovedAside     string    // the files the damaged bytes were copied to, "; "-separated
	NeedResync     bool      // what was damaged may have held leases: ask the partner for a full resync (also set while an earlier Open's loss is not mended, DB.LossMended)
	LossAt         time.Time // with NeedResync: when the loss was found (a box alone probes before offering for max_lease_time from it)
	LastSeq        uint64    // highest sequence number recovered
}

// Damage is one part of the state directory recovery could not read: a
// run of bytes in a file that holds no valid record, or a file that must
// exist and does not (Offset -1). Recovery resumes at the next valid
// record, so only the records inside the run are lost.
type Damage struct {
	File   string // path
	Offset int64  // first bad byte; -1: the file is missing
	Bytes  int64  // length of the bad run
	// Records is how many records the run held when their framing tells
	// (flipped bits in payloads, a damaged length field); 0 when it cannot
	// (a zeroed or overwritten run, a missing file).
	Records int
	Reason  string
	MovedTo string // where the run's bytes were copied ("" for a missing file)
}

func (d Damage) String() string {
	if d.Offset < 0 {
		return fmt.Sprintf("%s: %s", d.File, d.Reason)
	}
	recs := "an unknown number of records"
	if d.Records > 0 {
		recs = fmt.Sprintf("%d record(s)", d.Records)
	}
	return fmt.Sprintf("%s at offset %d: %s: %d bytes, %s lost", d.File, d.Offset, d.Reason, d.Bytes, recs)
}

// Errors callers branch on.
var (
	ErrPoolExhausted = errors.New("lease: no free address in pool")
	ErrNoPool        = errors.New("lease: address is in no pool")
	ErrClosed        = errors.New("lease: database closed")
)
