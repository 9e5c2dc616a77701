// Package peer is the sync link between the two boxes of a hadhcpd pair:
// TCP, mutual authentication, framing, the replication stream of lease
// records (pipelined updates, cumulative acks, resume, paged snapshot) and
// the config sync transport. It moves frames; the failover decisions are
// sync/failover's, fed by the events this package emits (Up, Down,
// PartnerState, ResyncDone), and the lease database is behind Store.
//
// # Connections
//
// Only the primary dials (failover.peer, from the host address of
// failover.listen); the secondary accepts on failover.listen. With one
// dialer two connections never race, so no tie-break is needed; a newer
// authenticated connection replaces the current one (the dialer
// reconnects after it declared the link down, perhaps before the acceptor
// noticed). Two nodes with the same role or name are refused.
//
// Until a connection's partner has proved its key it holds one of a few
// admission slots (admit.go: 4 per source address, 64 in total, the
// partner's own address outside the total); a connection beyond them is
// closed at once. The whole unauthenticated part must finish within
// max_response_delay. A transient accept error (out of descriptors or
// memory) is retried with a capped backoff, logged once per streak and
// counted (accept_errors_total); any other, or a failover.listen address
// this box does not have, ends Run with an error naming failover.listen,
// and the agent stops.
//
// # Frames
//
// Every frame is
//
//	type u8 | length u32 BE | payload (length bytes)
//
// The reader checks length against MaxFrameLen and against the type's own
// bound before it allocates; a type it does not know may carry nothing.
// Before authentication it reads only the handshake frame that is due
// (Hello, then Auth): another type, or a length over that frame's bound,
// is refused on the header, and it reads without a buffer, so an
// unauthenticated peer costs at most one handshake frame. Payload layouts
// are on the FrameType constants in frame.go; all integers are big-endian, and every payload
// has exactly one encoding (trailing bytes are an error). Lease records
// inside FrameUpdate and FrameSnapPage are the lease journal's record
// payloads (dhcpd/lease doc.go "Record payload", lease.Lease
// MarshalBinary), so disk and wire cannot drift. Our records come to Send
// as lease.Record, the payload the journal got, and go out as they are;
// the receiver decodes each record once, converts it (Options.FromPartner)
// and hands the Store leases, which the database encodes once for its own
// journal.
//
// # Protocol flow
//
//	both:  Hello{version, role, nonce, name}            (nothing else is read before it)
//	PSK only (with TLS the TLS handshake authenticated both already):
//	initiator (the dialer): Auth{HMAC-SHA256(psk, label|initiator|responder)}
//	responder, once that checked out: Auth{HMAC-SHA256(psk, label|responder|initiator)}
//	       then everything, each direction, in sealed records (crypto.go):
//	       len u32 | AES-256-GCM(HKDF(psk, nonces, transcript, direction), counter)
//	both:  Session{state, maintenance, clock, epoch, lastSeq, heldSeq,
//	               ackedEpoch, ackedSeq, configHash}
//	both:  Stream{resume|snapshot, epoch, pos}           how the sender's stream continues
//	       [either: Defaults{serial, source, hash, body}: global defaults, no answer]
//	       [primary: Config{hash, dhcp: section}; secondary answers ConfigVerdict]
//	steady state, each direction independently:
//	       Update{clock, records…}  → receiver applies durably, then one
//	       Ack{seq} per read burst (cumulative: every record up to the one with seq)
//	       Heartbeat{clock} every max_response_delay/24; State{state, maintenance}
//	snapshot: SnapPage{page, last, clock, records…} → SnapAck{page}; one page in flight
//	       SyncDone once everything the sender held at session start is before it
//
// Authentication comes first: a peer that fails it learns our name, role
// and a nonce, nothing else. The initiator proves its key first and the
// responder answers with its own proof only after checking it, so a
// dialer without the key gets nothing to test guesses against offline
// (the low-entropy keys sync/psk refuses would fall to that). After the
// proofs every frame is encrypted and authenticated with a key per
// session and direction and a per-direction record counter: an injected,
// changed, replayed or reordered record fails to open, the session is
// dropped and the failure counted (integrity_failures_total). The PSK
// proof covers the protocol version,
// role, name and a fresh 256-bit nonce of both ends, prover first: a
// recorded proof fails against a new nonce (replay), and a proof made by
// the victim cannot be handed back to it (reflection; an echoed Hello is
// refused outright). With TLS (1.3, mutual) each end verifies the other's
// certificate against the configured CA or pinned certificate only.
// Refusals are counted by reason (refused_peers_total{reason}: malformed,
// oversize, version, role, name, reflection, auth, tls; timeout: no proof
// within max_response_delay; closed: the peer hung up before its proof;
// source_limit, total_limit: no admission slot) and logged once per
// source address and reason per minute.
//
// # Liveness
//
// A watchdog per session ticks every max_response_delay/24 (liveness.go;
// the times come from the injected Clock) and sends a Heartbeat at every
// tick, also while the reader is busy applying a large batch, so a live
// partner is never silent for more than about a tick. The link is down:
//
//   - after max_response_delay without any frame, the handshake included
//     (ErrTimeout), whatever is pending;
//   - when our oldest update or snapshot page has waited
//     max_response_delay/6 for its ack and no frame at all arrived in that
//     time while our reader could hear it (ErrAckTimeout): a lost standby
//     or a silently cut cable stalls commits for about half a second, not
//     max_response_delay. Waiting Replicate calls then fail with
//     ErrPartnerUnreachable (COMMUNICATIONS-INTERRUPTED rules, safe
//     without the partner);
//   - when the agent reports the partner silent on the VRRP path
//     (PartnerSilent) and no frame came for two heartbeat intervals
//     (ErrSilentBoth, at once). If frames did come (a VRRP-only
//     partition) the session stays up, and the ack rule tightens to two
//     heartbeat intervals;
//   - when the agent reports the partner silent on the LAN
//     (PartnerAbsent(since): no ARP answer on any served link) and no
//     frame came since it began to ask, nor for two heartbeat intervals
//     (ErrAbsentBoth, at once). A frame heard meanwhile wins, and the
//     session is not marked suspect.
//
// The watchdog emits Quiet the moment the link has heard nothing for two
// heartbeat intervals while our reader could hear it (it wakes for that
// between ticks), once per quiet stretch: a frame starts a new one, so
// the agent is asked at most once per two heartbeat intervals. The agent
// then asks its LAN witness (agent/pair): a box lost while it was VRRP
// backup stops no advert its master would miss (RFC 5798 §6.4.3), and
// without this the master's commits would wait for the ack rule. A cut
// sync cable cannot fake the answer (the partner still answers ARP, and
// the link keeps its rules: invariant 2 while the partner may be up).
//
// A partner of an older release heartbeats only every
// max_response_delay/3: the link stays up with it, but PartnerSilent may
// then close a live link, and the ack rule fires if its Apply takes longer
// than max_response_delay/6.
//
// # Replication
//
// Our stream is the records the DHCP commit path hands to Replicate, in
// the order the queue holds them (queued records are kept in sequence
// order, so concurrent callers' records leave as the database numbered
// them). At most max_unacked_updates are in flight; the rest wait
// (back-pressure on Replicate). The receiver applies each Update frame with
// one Store.Apply call (one group commit) and acks once its read buffer is
// empty. Replicate returns when the partner acked all its records, or at
// once with ErrPartnerUnreachable while the link is down or after
// MarkUnreachable (or PartnerSilent or PartnerAbsent on a quiet link); its records stay
// queued for the partner.
//
// # Epochs, resume and snapshot
//
// A stream is named by its epoch (random per Link unless Options.Epoch is
// set) and positions in it by the sequence number of a record. Each end
// reports in Session the epoch and position of the partner's stream it
// holds completely. The sender resumes after that position when the epoch
// is its own and the position is still in memory (the last Retain records
// are kept); otherwise it sends a snapshot: Stream{snapshot, epoch, mark}
// (mark = the position before its first unacknowledged record), then the
// unacknowledged records, then pages of PageSize leases read from the
// Store just before each page is written, so a page never carries an older
// state of a lease than an update sent before it. Replicate calls during a
// snapshot are interleaved with the pages (DHCP never stops for a resync);
// their records carry positions after mark. The receiver reports the epoch
// as complete only after SyncDone, so a snapshot cut short is restarted.
// A record of the receiver's own that comes back in a snapshot is applied
// only when the receiver holds an older state of it (a lost journal is
// restored; newer local states are kept).
//
// Because the epoch is random per process unless the agent persists one,
// every restart of either box leads to a snapshot in that direction, which
// is always correct. PartnerAckedSeq (Up) is the partner's
// Store.PartnerSeq, the highest of our sequence numbers it holds, for the
// failover machine's RECOVER-WAIT decision.
//
// # Records and clocks (safety needs no synchronised clocks)
//
// Record times are absolute in the sender's clock. Every Update and
// SnapPage carries the sender's clock when it was written; the receiver
// moves each time by (its clock at receipt − that clock), so every time it
// stores is in its own clock whatever the skew (transit time, sub-ms on a
// LAN, is not subtracted; times are whole seconds). The failover expiries
// change sides: the sender's PotentialExpiry becomes the receiver's
// PartnerExpiry, and the sender's PartnerExpiry (the receiver's potential
// as the sender holds it) becomes the receiver's AckedExpiry and, unless
// the receiver holds a later one, its PotentialExpiry. That conversion is
// Options.FromPartner: the agent passes sync/failover's, the one place of
// that rule. The skew measured at
// the handshake and from heartbeats is reported (Up.Skew, the
// clock_skew_seconds gauge) and never used.
//
// # Config sync
//
// The primary sends Config{hash, dhcp: section} on every connect and on
// SendConfig (reload); the secondary hands it to Options.OnConfig and
// answers ConfigVerdict{accepted, hash, reason}. Both ends emit an event
// (ConfigReceived, ConfigVerdict).
//
// # Global defaults
//
// A box of several relationships may name a node whose global dhcp keys
// every box serves (failover.defaults_from). Either end sends
// Defaults{serial, source, hash, body} on every connect (SendDefaults set
// it) and again whenever it sets newer ones; the receiver hands it to
// Options.OnDefaults and answers nothing. On connect the Defaults frame
// goes before the Config frame: the partner builds the config part with
// the defaults it then holds, so both ends' hashes agree. Which set a box takes and
// forwards is sync/defaults' decision, made by the agent.
//
// # Concurrency
//
// Per session: the reader (HandleConn's goroutine) applies records and
// handles acks, the writer is the only goroutine that writes, and the
// watchdog runs the heartbeat and liveness timer. Link.mu guards the
// stream state; the Store, OnEvent and OnConfig are never called with it
// held. OnEvent calls are serialised and must not block.
//
// BUG(peer): records handed to Replicate out of sequence order across
// frames (two commits returning together, the later one queued after the
// earlier one was already sent) leave out of order; the receiver's
// PartnerSeq is then briefly ahead of what it holds contiguously. A change
// feed from the lease database (records in sequence order, from one
// goroutine) would remove this.
package peer
