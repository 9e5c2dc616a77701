// Package e2e holds hadhcpd's end-to-end tests: root tests that build the
// hadhcpd binary (internal/lab) and run it in network namespaces
// (internal/testnet) against real clients, relays and peers from Debian
// (dhclient, udhcpc, dhcrelay, ISC dhcpd, Kea, keepalived; PEERS.md).
//
// Single server: leases, renewals, releases, relays, reservations, NAKs
// (integration_test.go, flood_test.go, procs_test.go). Hot-standby pairs
// (pair_test.go holds the pair lab): failover, maintenance, partner-down,
// crash loops, partitions, disk loss, clock skew, rejoin after a long
// absence, sync link authentication and config sync, randomized chaos
// (`make chaos`, `make rejoin`). Migration: `hadhcpd import` of ISC dhcpd,
// Kea and keepalived setups, checked against the imported servers' own
// clients.
//
// Every test skips without root or without the commands it drives. Each
// names its own namespace prefix (testnet.New), so tests may run side by
// side. The checkers and parsers the tests rely on have ordinary unit
// tests here too (TestChaosCheckerDetects, TestLogEventFinds, …).
package e2e
