// Package migrate turns the configuration and lease files of the stacks
// hadhcpd replaces (ISC dhcpd with its `failover peer`, Kea with its HA hook,
// keepalived) into one hadhcpd configuration file and a lease database
// (the README's configuration reference): an operator moves in one command.
//
// The importers live in sub-packages (migrate/isc, migrate/kea,
// migrate/keepalived); each supplies only a Format: how its files are read
// and mapped onto a Result (an agent.Config, the leases to write, and a
// Report). This package holds what they share: the import driver (Convert
// reads a source, Job does all of `hadhcpd import`: report, refusal, lease
// database, config file), the Report (every source statement is either
// mapped to a key, or listed as not carried over with its file:line and
// why; nothing is dropped silently), the canonical YAML writer and the
// option name table. The lease database writer is migrate/leasedb, apart
// so that the importers build without the database.
//
// Importers never read host state (no hostname, no interface list): what a
// node needs that the source does not say (node.name, node.state_dir, a
// VRRP instance) comes from the caller's Defaults and is listed in the
// report as invented.
package migrate
