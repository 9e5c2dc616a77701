// Package failover is the failover logic of hadhcpd: the state machine of
// one node of a pair, the MCLT arithmetic, pool ownership (FREE/BACKUP) and
// balancing, the RFC 3074 load-balance hash, and the gate the DHCP engine
// asks. It is pure: no sockets, no goroutines, no clock reads; every event
// comes with the local time (STYLE.md §9). The peer link (sync/peer) and
// the VRRP instance feed it events; the agent executes its actions and
// publishes its Policy to a Gate for the engine.
//
// It follows draft-ietf-dhc-failover-12 (the protocol ISC dhcpd speaks),
// simplified where hadhcpd's design makes that safe.
//
// # States (draft §9)
//
//   - STARTUP: after every start; answers nobody, not fit to be VRRP
//     master. Left when the sync link comes up, or for PARTNER-DOWN when
//     the partner is silent on both paths (auto_partner_down) or by
//     operator command.
//   - NORMAL: link up, both synchronised. Hot-standby: the VRRP master
//     answers; load-balance: each answers its RFC 3074 buckets (split),
//     renewals from anyone and clients whose secs exceed
//     load_balance_max_seconds (draft §5.3, §5.5). Each node allocates only
//     what it owns: primary FREE, secondary BACKUP (§5.4), so two masters
//     at once (a VRRP split) still cannot collide. The owner of addresses
//     gives them to its partner to keep the share (Policy.Transfer).
//   - COMMUNICATIONS-INTERRUPTED: link down from NORMAL; the VRRP master
//     (load-balance: each node, every client) keeps serving from its own
//     pool and renews anyone, every lease capped by the MCLT rule.
//   - PARTNER-DOWN: the partner is gone on both paths for
//     auto_partner_down, by operator, or it announced maintenance and then
//     left. Own pool at once when our database is complete; the partner's
//     pool (and ours when it is not) only once MCLT has passed since the
//     partner was last heard (§5.2.1, "stos + MCLT").
//   - RECOVER: resynchronising from the partner; answers nobody, not fit.
//   - RECOVER-WAIT: the MCLT wait, only when sequence numbers cannot prove
//     that the partner holds every record we wrote (our journal was lost
//     or is shorter than what the partner acknowledged).
//   - RECOVER-DONE: synchronised, waiting for the partner to reach
//     NORMAL or RECOVER-DONE.
//   - POTENTIAL-CONFLICT: both may have allocated alone (the partner
//     served in PARTNER-DOWN while it lacks some of our records);
//     resolved by resynchronising both ways, then RECOVER-DONE.
//
// Each transition is one Transition action (from, to, reason) for the
// caller to log and persist. Fit (SetFit) is true in NORMAL,
// COMMUNICATIONS-INTERRUPTED and PARTNER-DOWN once the database is known
// complete; the agent lowers the VRRP priority while it is false.
//
// # Simplifications of draft-ietf-dhc-failover-12, and why they are safe
//
//   - No lazy update: every ACK waits for the partner's ack while the link
//     is up (a lease is durable on both boxes before its ACK), so the partner always knows what we
//     gave out, and sequence numbers (the partner's acked sequence of our
//     stream vs our last written one) replace the draft's comparison of
//     start-time-of-state with our last operation time (§9.3.2 step 5),
//     which needs synchronised clocks. That lets a returning node skip
//     RECOVER-WAIT whenever nothing is missing; it waits the MCLT only
//     when the numbers cannot prove it.
//   - No STARTUP timeout to the previous state (§9.3.2 step 6): a node
//     that starts alone does not know whether its partner used its pool in
//     PARTNER-DOWN meanwhile, so it answers nobody until it syncs, or it
//     reaches PARTNER-DOWN through both-path silence with a database not
//     known complete, and then waits the MCLT for everything (every lease
//     the partner gave unseen was capped at MCLT past what we know). Cost:
//     a lone cold start is silent for one MCLT. After a lost journal it
//     never goes to PARTNER-DOWN by itself (we no longer know what we
//     acknowledged, so no wait is long enough): only the operator decides.
//   - PARTNER-DOWN needs silence on both paths: the link, and the VRRP
//     path where silence means a Backup saw the partner's adverts stop
//     (RFC 5798 §6.4.2). A Master learns nothing from VRRP (backups are
//     silent), so a Master that loses the link stays in
//     COMMUNICATIONS-INTERRUPTED until the operator declares the partner
//     down. A partition of one path alone therefore never leads to
//     PARTNER-DOWN. Presence alone decides this; the machine asks it.
//   - No RESOLUTION-INTERRUPTED, CONFLICT-DONE, PAUSED or SHUTDOWN states:
//     POTENTIAL-CONFLICT keeps its state when the link drops (the operator
//     may declare partner-down), the database resolves conflicts when it
//     applies the partner's records, and maintenance is a flag the partner
//     sees, treated like the draft's SHUTDOWN (§9.14) when the link then
//     goes.
//   - Pool balancing (§5.4) is done by the owner of the addresses only (the
//     primary gives FREE as BACKUP, the secondary gives BACKUP back), so a
//     transfer never races an allocation; no POOLREQ/POOLRESP.
//   - Leases stay capped by Grant in every state, PARTNER-DOWN included
//     (as ISC does); addresses are reclaimed (EXPIRED/RELEASED/RESET ->
//     FREE) only after the latest end any server may have given the client
//     (LatestEnd), which also covers a renewal lost with a journal.
//
// # Clocks (safety needs no synchronised clocks)
//
// Every time the machine and the policy compare is a local time. The peer
// link must convert the partner's times (potential expiries, lease
// expiries) into the local clock by carrying durations ("expires in") or
// both clocks; the measured skew is for display only. Safety decisions
// therefore do not change with the partner's clock, which the tests show
// for ±1 h.
package failover
