// Package dhcpload is a DHCPv4 client population for benchmarks and
// integration tests: many made-up clients, each with its own hardware
// address, running full DISCOVER–OFFER–REQUEST–ACK exchanges (RFC 2131
// §3.1, §4.4.1) at a set rate over one raw link (AF_PACKET on one
// interface of one network namespace), with per-step timeouts,
// retransmission and an overall deadline per client, and renewals of held
// leases (RENEWING unicast to the server identifier, then REBINDING
// broadcast, RFC 2131 §4.4.5).
//
// For each client it records when the OFFER and the ACK arrived, who sent
// them (server identifier, option 54, and the frame's IP and MAC source, so
// two boxes sharing a VRRP identifier are told apart), the address and the
// lease time. Every matched reply is also kept in arrival order (Replies),
// so a benchmark can find the first OFFER a given server sent after an
// event.
//
// Frames are built and parsed here (frame.go): clients speak from 0.0.0.0
// in INIT and from their leased address when renewing, and the population
// answers ARP for the addresses its clients hold, because a server replying
// to ciaddr resolves it first. UDP checksums of received frames are not
// checked: on veth paths they are left to offload and never filled in.
//
// The protocol side runs against the Link interface, so tests drive it with
// an in-memory link and a fake server without root; OpenPacketLink is the
// real one and must be opened inside the client namespace.
package dhcpload
