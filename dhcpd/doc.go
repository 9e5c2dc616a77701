// Package dhcpd is hadhcpd's DHCPv4 service: the request engine (RFC 2131
// §4.3 server behaviour: DISCOVER, REQUEST in every client state, RELEASE,
// DECLINE, INFORM), the destination rules of RFC 2131 §4.1, the options of
// a reply (parameter request list, RFC 3046 echo, maximum message size),
// and the socket layer (Server) that receives requests and delivers replies
// through a PacketConn per served link: on Linux an AF_PACKET socket per
// reader and interface plus one UDP socket, in tests an in-memory one. The
// configuration it serves (subnets, pools, reservations, encoded options)
// is dhcpd/scope's.
//
// The engine decides and never sees a socket: Engine.Handle takes a decoded
// request and what the socket layer knows about its arrival (Inbound) and
// returns a Reply with its Dest. Leases live in dhcpd/lease behind the LeaseDB
// interface; every lease is committed (durable) before its ACK is returned.
// The failover layer plugs in through Gate.
//
// What a request may choose is limited by where it came from (subnet.go):
// giaddr, the relay agent's link selection (RFC 3527) and the subnet
// selection option (RFC 3011) only through a relay agent, ciaddr only in a
// unicast from a client that has an address; a client on a served link
// gets its link's subnet. Limits (limits.go) bound each source's request
// rate (per client, per relay circuit) and what clients without a binding
// may hold in offers (per chaddr, per circuit, a share of each pool), so a
// DISCOVER storm cannot hold a pool and clients with a binding stay served.
// With dhcp.trusted_relays set, only the listed sources may relay.
// Every request refused is counted by reason (DropReason).
//
// Each request is classified once (classify.go): its reservation in the
// subnet (by the configured identifiers; option 82 circuit and remote ids
// only through a relay agent, RFC 3046 §2.1), KNOWN or UNKNOWN, then the
// client classes in config order. The classes restrict pools (allow,
// deny) for new addresses and for those a client already holds, and with
// the reservation, the pool and the subnet they give the reply's options
// and boot fields, most specific first (boot.go: siaddr, sname and file of
// RFC 2131 §2, option overload of RFC 2132 §9.3, option 60 PXEClient only
// to PXE clients, BOOTP for reserved hosts per RFC 1542).
//
// Before an address from a pool is offered, the engine may probe it
// (probe.go, RFC 2131 §2.2): with dhcp.ping_check, and always during a
// recovery window (the lease database lost records and no partner can
// restore them). The probe runs off the request's goroutine; an address
// that answers is abandoned as if declined.
//
// Concurrency: Engine methods are safe for concurrent use; the server runs a
// bounded set of workers so that commits from many requests share one fsync
// (the lease database's group commit).
package dhcpd
