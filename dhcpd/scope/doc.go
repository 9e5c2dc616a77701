// Package scope is the typed configuration of hadhcpd's DHCPv4 service:
// the subnets, pools (with their class rules), reservations (found by
// client id, hardware address or relay agent ids in one map access),
// client classes, boot fields and lease times the engine serves
// (RFC 2131 §4.3), and the option codec that turns the config file's
// option values into RFC 2132 wire bytes. It does no I/O, so the agent,
// the importers and the engine share one reading of a config.
package scope
