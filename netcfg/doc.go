// Package netcfg is hadhcpd's kernel side for VRRP: it owns the virtual IP
// addresses (netlink, declarative and idempotent), watches the carrier of
// links, sends gratuitous ARP, and owns hadhcpd's nftables table.
//
// Nothing here decides anything: the vrrp package decides who is master and
// the agent calls Addrs.Set, GARP.Announce and Firewall.Apply.
package netcfg
