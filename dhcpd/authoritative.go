package dhcpd

import (
	"net/netip"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// knowsClient decides, for a server that is not authoritative, whether a
// NAK is still sent (true) or silence takes its place. RFC 2131 §4.3.2
// asks for silence only where the server has no record of the client
// ("If the DHCP server has no record of this client, then it MUST remain
// silent ... necessary for peaceful coexistence of non-communicating DHCP
// servers on the same wire"); everywhere else the NAK tells the client
// something true:
//   - a SELECTING REQUEST naming our server identifier: the client chose
//     this server, and "the selected server ... unable to satisfy the
//     DHCPREQUEST ... SHOULD respond with a DHCPNAK";
//   - a client this server has a record of (a lease record in any state,
//     an offer, or a reservation in its shared network) asking for the
//     wrong address, or for one on another network.
//
// So only an INIT-REBOOT, RENEWING or REBINDING request from a client the
// server has never seen goes unanswered. Kea's authoritative: false
// silences exactly its INIT-REBOOT case; ISC dhcpd's "not authoritative"
// silences the wrong-network case of every client (README, "authoritative").
func (e *Engine) knowsClient(req *dhcpv4.DHCPv4, c client, sid netip.Addr) bool {
	if s := addr4(req.ServerIdentifier()); s.IsValid() && s == sid {
		return true
	}
	if c.cls.res != nil {
		return true // a reservation in its shared network (classify)
	}
	if _, ok := e.db.ByClient(c.key); ok {
		return true
	}
	e.mu.Lock()
	o := e.byKey[c.key]
	e.mu.Unlock()
	return o != nil
}
