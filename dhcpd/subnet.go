package dhcpd

import (
	"net/netip"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/prometheus/client_golang/prometheus"
)

// This file decides which subnet a request belongs to, and so which of its
// fields may choose it. A request names a subnet in four places: giaddr,
// the relay agent's link selection (RFC 3527), the subnet selection option
// (RFC 3011) and ciaddr. Each is believed only where it can be true: the
// first three when the request came through a relay agent, ciaddr when the
// client sent it to us by unicast. Anything else would let a host on a
// served link take addresses of a subnet it is not on.

// fromRelay reports whether req came through a relay agent: giaddr set and
// the request sent from an address and the server port, as relays send
// (RFC 2131 §4.1, RFC 8357 §1). A request with giaddr set that a client
// sent (port 68, or from 0.0.0.0) is refused: a client never sets giaddr
// (RFC 2131 §4.4.1, Table 5), and following it would send our reply to an
// address of the sender's choosing.
func fromRelay(req *dhcpv4.DHCPv4, in Inbound) (bool, error) {
	return fromTrustedRelay(req, in, nil)
}

// fromTrustedRelay is fromRelay with dhcp.trusted_relays: when the list is
// set, a relayed request whose IP source is not in it is refused
// (ErrUntrustedRelay). Any host on a served link can send from port 67
// with a giaddr of its choosing and be served from a relayed subnet; the
// list names the relay agents that really exist (RFC 3046 §5 leaves the
// trust to the server's configuration).
func fromTrustedRelay(req *dhcpv4.DHCPv4, in Inbound, trusted []netip.Prefix) (bool, error) {
	gi := addr4(req.GatewayIPAddr)
	if !gi.IsValid() || gi.IsUnspecified() {
		return false, nil
	}
	a := in.Src.Addr()
	if !a.IsValid() || a.IsUnspecified() || in.Src.Port() != dhcpv4.ServerPort {
		return false, ErrClientGiaddr
	}
	if len(trusted) == 0 {
		return true, nil
	}
	for _, p := range trusted {
		if p.Contains(a.Unmap()) {
			return true, nil
		}
	}
	return false, ErrUntrustedRelay
}

// subnetFor picks the subnet a request belongs to. Through a relay: the
// relay's link selection sub-option (RFC 3527 §3), else the subnet
// selection option (RFC 3011 §2), else giaddr (RFC 2131 §4.3.1). Directly:
// ciaddr of a client that has an address and unicast to us (it may be on
// another link: RENEWING, INFORM, RELEASE), else the receiving
// interface's addresses; option 82
// and option 118 from a direct client are ignored and counted (RFC 3011
// §6 and RFC 3046 §5 leave trusting them to the server; a client on a
// served link has its link's subnet and no other).
func (e *Engine) subnetFor(cfg *scope.Config, req *dhcpv4.DHCPv4, mt dhcpv4.MessageType, in Inbound, relayed bool, rai *dhcpv4.RelayOptions) *scope.Subnet {
	if relayed {
		if rai != nil {
			if b := rai.Get(dhcpv4.LinkSelectionSubOption); len(b) == 4 {
				return subnetContaining(cfg, netip.AddrFrom4([4]byte(b)), false)
			}
		}
		if b := req.Options.Get(dhcpv4.OptionSubnetSelection); len(b) == 4 {
			return subnetContaining(cfg, netip.AddrFrom4([4]byte(b)), false)
		}
		return subnetContaining(cfg, addr4(req.GatewayIPAddr), true)
	}
	// A layer-2 relay (DHCP snooping) may add option 82 without giaddr;
	// it is echoed (RFC 3046 §2.2) but chooses nothing.
	if req.Options.Has(dhcpv4.OptionRelayAgentInformation) {
		e.ignored.relayInfo.Inc()
	}
	if req.Options.Has(dhcpv4.OptionSubnetSelection) {
		e.ignored.subnetSelection.Inc()
	}
	if ci := addr4(req.ClientIPAddr); ci.IsValid() && !ci.IsUnspecified() {
		if in.Unicast && hasAddress(req, mt) {
			if s := subnetContaining(cfg, ci, false); s != nil {
				return s
			}
		} else if !onServedLink(cfg, ci, in.IfAddrs) {
			// A broadcast comes from this link: a client that moved gets
			// the wrong-network NAK of its REBINDING (RFC 2131 §4.3.2).
			e.ignored.ciaddr.Inc()
		}
	}
	for _, p := range in.IfAddrs {
		if s := subnetContaining(cfg, p.Addr(), false); s != nil {
			return s
		}
	}
	return nil
}

// hasAddress reports a message that a client sends from an address it
// holds, the only ones whose ciaddr may be set (RFC 2131 §4.4.1, Table 5:
// DISCOVER, SELECTING and INIT-REBOOT REQUESTs and DECLINE carry 0).
func hasAddress(req *dhcpv4.DHCPv4, mt dhcpv4.MessageType) bool {
	return mt == dhcpv4.MessageTypeInform || mt == dhcpv4.MessageTypeRelease || isRenewal(req, mt)
}

func onLink(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Masked().Contains(a) {
			return true
		}
	}
	return false
}

// subnetContaining is the subnet of cfg whose prefix contains a, else
// (relays) the one listing a as a relay address, else nil.
func subnetContaining(cfg *scope.Config, a netip.Addr, relays bool) *scope.Subnet {
	for _, s := range cfg.Subnets {
		if s.Prefix.Contains(a) {
			return s
		}
	}
	if relays {
		for _, s := range cfg.Subnets {
			for _, r := range s.Relays {
				if r == a {
					return s
				}
			}
		}
	}
	return nil
}

// ignoredCounters count what the engine did not believe in a request it
// still answered, by reason (hadhcpd_dhcp_ignored_total).
type ignoredCounters struct {
	relayInfo, subnetSelection, ciaddr prometheus.Counter
}

func newIgnoredCounters(m *Metrics) ignoredCounters {
	return ignoredCounters{
		relayInfo:       m.Ignored.WithLabelValues("option82-not-relayed"),
		subnetSelection: m.Ignored.WithLabelValues("option118-not-relayed"),
		ciaddr:          m.Ignored.WithLabelValues("ciaddr-off-link"),
	}
}
