// Package lease is the lease database of hadhcpd: the binding states of the
// DHCP failover protocol (draft-ietf-dhc-failover-12 §5.2.1: FREE, BACKUP,
// ACTIVE, EXPIRED, RELEASED, ABANDONED, RESET; OFFERED lives in the engine),
// in-memory indexes, an append-only checksummed journal made durable with
// group commit, online compaction into a snapshot, and recovery.
//
// # Files
//
// The state directory (Options.Dir) holds:
//
//	LOCK                                  flock(2)ed while a DB is open: one process at a time
//	snapshot.hdl                          every lease at a compaction boundary (absent until the first compaction)
//	journal-<gen, 16 hex digits>.hdl      records after the boundary; the highest gen is appended to
//	snapshot.hdl.tmp                      a compaction in progress (removed at Open)
//	snapshot.hdl.old                      the snapshot a compaction replaced, while it is freed a slice at a time (removed at Open)
//	<file>.corrupt-at-<offset>-<time>     bytes moved aside by recovery (never read again; for people)
//
// All integers are big-endian.
//
// # File header
//
// Snapshot and journal start with the same 40-byte header:
//
//	off len field
//	0   8   magic       "HDLJRNL\x00" (journal) or "HDLSNAP\x00" (snapshot)
//	8   4   version     format version, 1
//	12  8   gen         journal: its generation (equals the name);
//	                    snapshot: the first journal generation it does not cover
//	20  8   lastSeq     snapshot: highest local sequence at the boundary
//	        durable     journal: its durable length, see below
//	28  8   partnerSeq  snapshot: highest partner sequence at the boundary (journal: 0)
//	36  4   CRC32C      (Castagnoli) of bytes 0..35
//
// A journal's durable length is a size of the file that an fdatasync had
// made durable when the header was written: the writer rewrites the
// header with it before it appends a group commit's records (so it lags
// the file by at most two group commits and never runs ahead of stable
// storage). 0 means not kept: journals written before it was (hadhcpd
// ignored this field in journals, so older and newer builds read each
// other's files).
//
// # Records
//
// After the header, records follow back to back to the end of the file
// (a snapshot's first ones may be group records, see "Sequence groups"):
//
//	off len field
//	0   4   length      payload length, 1..MaxPayload (1024); checked before anything is allocated
//	4   4   CRC32C      of the 4 length bytes followed by the payload
//	8   n   payload     the record payload below
//
// # Record payload
//
// The full new state of one lease plus the writer's sequence number. The
// same bytes are Lease.MarshalBinary's output and travel unchanged on the
// replication stream (sync/peer), so disk and wire cannot drift:
// CommitRecords encodes each record once and hands the journal's bytes
// (Record.Payload) to the stream.
//
//	off len field
//	0   1   payload version, 1
//	1   1   flags       bit 0: peer (Seq was assigned by the writer's partner); others 0
//	2   1   state       1 FREE, 2 ACTIVE, 3 EXPIRED, 4 RELEASED, 5 ABANDONED, 6 RESET, 7 BACKUP
//	3   4   address     IPv4
//	7   8   seq         sequence number of the record that last changed the lease
//	15  4   start       \
//	19  4   expiry       | times: seconds since 1970-01-01 UTC, unsigned (valid
//	23  4   potential    | until 2106, as the failover protocol carries times);
//	27  4   acked        | 0 = unset (the zero time.Time); sub-second parts are
//	31  4   partner      | dropped, rounded up in the four expiries (a lease
//	                     | never ends early). expiry = what the client was told,
//	35  4   cltt         | potential = sent to the partner, acked = acknowledged
//	39  4   stateStart  /  by it, partner = received from it
//	43  1   h           hardware address length, 0..16 (chaddr, RFC 2131 §2)
//	44  h   hardware address
//	..  1   c           client identifier length, 0..255 (option 61, RFC 2132 §9.14)
//	..  c   client identifier
//	..  1   n           hostname length, 0..255
//	..  n   hostname
//
// Nothing may follow the hostname: every value has exactly one encoding.
// A record is idempotent: applying it sets the lease of its address to the
// state it holds, so applying it twice, or replaying a journal twice, is
// harmless.
//
// # Sequence groups
//
// LastSeq and PartnerSeq count every record written, replayed or
// applied, also one a later record of the same address replaced: a
// replaced record is gone from memory and from the next snapshot, so the
// snapshot header keeps both numbers. With Options.SeqGroup the database
// keeps the same two numbers per group of addresses (GroupSeqs): a box in
// several failover relationships counts each relationship's stream, whose
// partner acknowledges exactly those records. They are counted the same
// way: over every record of the snapshot and the journals at Open (so a
// journal that lost its tail lowers them, as it lowers LastSeq), then on
// each commit and apply. A compaction keeps them: a snapshot begins with
// one group record per group, its numbers at the boundary, before the
// leases:
//
//	off len field
//	0   1   0x81        group record (a lease record's payload starts with 1)
//	1   8   own         the group's highest local sequence at the boundary
//	9   8   peer        its highest partner sequence at the boundary
//	17  1   n           name length, 1..255
//	18  n   name
//
// At Open a group's numbers are the highest of its group record and of
// its records replayed; a group record whose group no recovered address
// belongs to (the config no longer names it) is dropped. A snapshot
// without group records (written before they existed, or by a database
// without SeqGroup) opens as before: the groups are counted from its
// leases and the journals. Only a database with SeqGroup writes them; a
// build from before them reads a group record as a damaged record
// (moved aside, a resync asked), so downgrading a box in several
// relationships reports that once, losing no lease.
//
// # Commit and group commit
//
// Commit validates, assigns sequence numbers, appends the records to the
// open batch, updates memory, and waits. One flusher goroutine writes every
// batch queued while the previous fdatasync ran and syncs once, so
// throughput follows concurrency, not the disk's fsync rate. A state is
// visible to Get from the moment it is queued; Commit returns only once it
// is on stable storage. After a failed write or fdatasync (a full disk)
// the database refuses every change (memory may hold states the disk
// lacks) until a retry succeeds: the first change attempted after a
// backoff (1 s, doubling up to a minute) starts it. The retry cuts the
// journal back to its size after the last completed fdatasync (after a
// failed fdatasync the kernel may have dropped the dirty pages, so
// syncing again proves nothing), writes every batch that was not durable
// again, then the new ones, and syncs. Their waiters were told of the
// failure; writing their records late is harmless (each record is the
// full state memory already holds) and makes disk and memory agree again.
// CommitRecords and ExpireRecords return those records with the error, so
// a caller that replicates sends them to its partner all the same: the
// partner must never hold less than this box will.
//
// # Compaction
//
//  1. Create journal gen+1 (header, fsync, directory fsync).
//  2. The boundary, under the lock: seal the open batch so it and every
//     batch before it go to the old journal and every later record to the
//     new one; note lastSeq and partnerSeq, and each sequence group's.
//  3. Write the group records, then copy the leases a chunk at a time
//     under the read lock and write them as records to snapshot.hdl.tmp
//     (fsync every 256 KiB, then idle twice that fsync's time), fsync;
//     link the old snapshot.hdl to snapshot.hdl.old (so the rename frees
//     nothing), rename the new one to snapshot.hdl, fsync the directory. Commits keep flowing: every
//     copied lease is in a state at or after the boundary, and every change
//     after the boundary is in the new journal, so snapshot plus replay of
//     the new journal gives the current state (a lease copied in a newer
//     state is simply set again by replay).
//  4. Once the sealed batch is durable, delete snapshot.hdl.old and the
//     journals older than gen+1, each freed 1 MiB per fsync (freeing tens
//     of MB at once stalls the journal's fdatasyncs behind the file
//     system's commit).
//
// A crash at any step leaves a recoverable directory: before the rename the
// old snapshot and all journals still cover everything; after it the older
// journals are ignored and deleted at Open, as is a snapshot.hdl.old.
//
// # Recovery
//
// Open loads snapshot.hdl, then replays every journal with gen >= the
// snapshot's gen in order. A bad record is one whose length is 0 or above
// MaxPayload, that runs past the end of the file, whose CRC32C does not
// match, or whose payload does not decode. Recovery resynchronises from
// the framing: it goes on at the next offset where a valid frame starts
// and is followed by another valid frame (or the end of the file, or a
// torn tail), trying first where the bad record's own length points. A
// damaged record thus costs that record, whether its payload or its
// length field was hit. Outcomes:
//
//   - Torn tail (in the newest journal): the last bad run reaches the end
//     of the file and starts at or after the header's durable length:
//     only what was written after the last completed fdatasync can be
//     torn, and such a record was never acknowledged, because Commit
//     waits for its fdatasync. It is truncated; a warning names the file,
//     offset and reason; OpenReport.TruncatedAt says where. (In a journal
//     without a durable length, the tail must instead be shorter than one
//     maximal frame or all zero after the bad frame.)
//   - Damage (anything else: a bad run followed by valid records, one
//     before the durable length, even if it is zeros to the end, any bad
//     run in an older journal or in the snapshot, which are complete
//     before anything newer exists): the run's bytes are copied to
//     <file>.corrupt-at-<offset>-<time>, an ERROR log names file, offset,
//     length and reason, and Open succeeds with everything else, with an
//     OpenReport.Damage entry each and NeedResync set: the partner's
//     resync restores what was lost. A run at the end of a file is cut
//     off. A run inside a file stays; Open then compacts, so the damaged
//     files are replaced by a snapshot of what survived and the damage is
//     not found again.
//   - Missing files are damage too (Offset -1): snapshot.hdl when the
//     oldest journal's gen is above 1 (only a compaction deletes journals,
//     after writing a snapshot), and a journal between the snapshot's gen
//     and the newest one.
//   - Header problems refuse to open, with a *FileError naming the file:
//     ErrBadMagic (not this kind of file), ErrFutureVersion (written by a
//     newer hadhcpd: opening it could lose its records; upgrade, or move the
//     directory aside), ErrBadVersion (0), ErrTruncatedHeader and
//     ErrCorruptHeader (the header is damaged; the operator decides). The one
//     exception: the newest journal with an empty or all-zero header shorter
//     than 40 bytes was being created at a crash and cannot hold a record (a
//     header is fsync'd before any record is appended); it is recreated with
//     a warning.
//
// Open never panics and never refuses without saying which file, at which
// offset, is bad.
//
// # Allocation
//
// Each pool keeps a bitmap of addresses that have a record or are held,
// scanned by a cursor that only moves forward (records are never deleted),
// a FIFO of allocatable records (FREE, EXPIRED, RELEASED, RESET) ordered by
// when they became free, and a FIFO of BACKUP records. Allocate(from FREE)
// takes a never-used address first, then the longest-free record, so the
// address a client had last stays unused as long as possible and a
// returning client can get it back; the hint wins whenever it is free. All
// of it is O(1) (amortised for the cursor), independent of the pool size.
// ABANDONED addresses are never allocated here; the engine or the failover
// logic commits them FREE when their probation ends.
// Reserved addresses of a pool (Pool.Reserved: a reservation inside the
// range) are never allocated either, whatever their record's state, and
// count in PoolStats.Reserved, not as FREE or BACKUP, so pool balancing
// never hands them to the partner (invariant 1).
//
// # Memory
//
// A lease costs about 150 bytes at a million (BenchmarkOpen1M): a 72-byte
// record (uint32 address and times, one string holding hardware address,
// client identifier and hostname), its string, a map entry address→slot, a
// map entry hash(client key)→slot and, when ACTIVE, an expiry-heap slot.
// The Lease value is only what the DB hands out.
package lease
