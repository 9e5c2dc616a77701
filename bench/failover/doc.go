// Package failover holds the failover benchmark, run by
// `make bench-failover` (scripts/bench-failover.sh): in one run, on one
// topology and one load, the hadhcpd pair against the stacks operators
// build today from Debian's packages — Kea 2.2 HA hot-standby plus
// keepalived, ISC dhcpd 4.4 failover plus keepalived — each losing its
// active server in two ways:
//
//   - kill9: SIGKILL of the active DHCP server process (for Kea and ISC the
//     DHCP daemon only; keepalived keeps running on that box, so the VIP
//     stays there). The kernel closes the dead process's sockets, so the
//     partner sees the sync connection end at once.
//   - boxloss: the active box's links go down first, then everything on it
//     is SIGKILLed, so nothing leaves (PEERS.md: the other order lets the
//     FIN out and measures kill9 again).
//
// Topology (a fresh lab per run, prefix "hbf"): a LAN bridge with the two
// boxes (198.18.0.2/16, 198.18.0.3/16) and a client namespace, the VIP
// 198.18.0.1/16 held by VRRPv3 (hadhcpd's own speaker, keepalived for the
// others), a pool of 4096 addresses (198.18.1.0–198.18.16.255), and a
// separate sync cable (198.51.100.1/24 – .2/24) for hadhcpd's failover link,
// Kea HA's HTTP peer URLs and ISC's failover peer.
//
// Load: internal/dhcpload, 50 new clients per second doing full DORA from
// made-up MACs over AF_PACKET in the client namespace; the failure comes 3 s
// in. For each run the bench reports the time from the failure to the first
// OFFER and to the first ACK from the standby for a new client whose whole
// exchange the standby served; the exchanges lost (clients with no ACK
// within their deadline); the leases missing on the standby (every lease
// ACKed before the failure must be in the standby's lease store: Kea's
// memfile CSV, ISC's dhcpd.leases, `hadhcpd leases --json`); and whether
// clients holding a lease renew the same address at the standby (RENEWING
// unicast to the server identifier, then REBINDING broadcast).
//
// The test (TestBenchFailover) runs only with HADHCPD_BENCH_FAILOVER=1 and
// as root; the parsers and the arithmetic have ordinary unit tests.
package failover
