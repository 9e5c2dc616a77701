package control

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// GET /v1/leases walks the served subnets in address order, one Get per
// address, from the cursor on: a page costs the addresses it passes, not
// the size of the database, and the database offers no ordered index to
// page over. A client filter is answered from the database's client
// index instead, without a walk.

// LeasePage is GET /v1/leases's answer.
type LeasePage struct {
	Leases []LeaseInfo `json:"leases"`
	// Next is the cursor of the following page, absent after the last.
	// A page may hold fewer leases than asked for (a sparse filter stops
	// at the scan bound): continue while Next is present.
	Next string `json:"next,omitempty"`
}

const (
	defaultPageSize = 100
	maxPageSize     = 1000
	// maxScan bounds the addresses one page examines, so a filter that
	// matches little cannot make one request walk a /8.
	maxScan = 1 << 16
)

// leaseQuery is a parsed GET /v1/leases.
type leaseQuery struct {
	within   []span // the address ranges to walk, sorted, disjoint
	hw       net.HardwareAddr
	clientID []byte
	state    string
	limit    int
	cursor   uint32
}

// span is an inclusive range of IPv4 addresses as integers.
type span struct{ first, last uint32 }

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func addrOf(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func spanOf(p netip.Prefix) span {
	p = p.Masked()
	first := u32(p.Addr())
	return span{first, first | uint32(uint64(1)<<(32-p.Bits())-1)}
}

// intersect keeps the parts of spans inside s.
func intersect(spans []span, s span) []span {
	var out []span
	for _, x := range spans {
		f, l := max(x.first, s.first), min(x.last, s.last)
		if f <= l {
			out = append(out, span{f, l})
		}
	}
	return out
}

var leaseParams = []string{"ip", "subnet", "hw_address", "client_id", "state", "limit", "cursor"}

// parseLeaseQuery checks every parameter; an unknown one is an error, so
// a misspelt filter never silently lists everything.
func parseLeaseQuery(q url.Values, subnets []netip.Prefix) (leaseQuery, error) {
	lq := leaseQuery{limit: defaultPageSize}
	for k := range q {
		if !slices.Contains(leaseParams, k) {
			return lq, fmt.Errorf("unknown parameter %q (%s)", k, strings.Join(leaseParams, ", "))
		}
	}
	for _, p := range subnets {
		if p.Addr().Is4() {
			lq.within = append(lq.within, spanOf(p))
		}
	}
	slices.SortFunc(lq.within, func(a, b span) int { return cmpU32(a.first, b.first) })
	if v := q.Get("ip"); v != "" {
		p, err := parsePrefix(v)
		if err != nil {
			return lq, fmt.Errorf("ip: %v", err)
		}
		lq.within = intersect(lq.within, spanOf(p))
	}
	if v := q.Get("subnet"); v != "" {
		p, err := netip.ParsePrefix(v)
		if err != nil || !p.Addr().Is4() {
			return lq, fmt.Errorf("subnet: %q is not an IPv4 CIDR", v)
		}
		if !slices.Contains(subnets, p.Masked()) {
			return lq, fmt.Errorf("subnet: %s is not a served subnet", p)
		}
		lq.within = intersect(lq.within, spanOf(p))
	}
	if v := q.Get("hw_address"); v != "" {
		hw, err := net.ParseMAC(v)
		if err != nil {
			return lq, fmt.Errorf("hw_address: %v", err)
		}
		lq.hw = hw
	}
	if v := q.Get("client_id"); v != "" {
		id, err := hex.DecodeString(strings.ReplaceAll(v, ":", ""))
		if err != nil || len(id) == 0 {
			return lq, fmt.Errorf("client_id: %q is not hex (01:00:11:22:33:44:55)", v)
		}
		lq.clientID = id
	}
	if v := q.Get("state"); v != "" {
		st, err := ParseLeaseState(v)
		if err != nil {
			return lq, fmt.Errorf("state: %v", err)
		}
		lq.state = st
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return lq, fmt.Errorf("limit: %q is not 1..%d", v, maxPageSize)
		}
		lq.limit = n
	}
	if v := q.Get("cursor"); v != "" {
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return lq, fmt.Errorf("cursor: %q is not a cursor this API returned", v)
		}
		lq.cursor = u32(a)
	}
	return lq, nil
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parsePrefix takes an address (a /32) or a network.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 address or CIDR", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 address or CIDR", s)
	}
	return netip.PrefixFrom(a, 32), nil
}

// matches applies the filters a walk or an index lookup did not.
func (lq *leaseQuery) matches(l lease.Lease) bool {
	if lq.state != "" && strings.ToLower(l.State.String()) != lq.state {
		return false
	}
	if lq.hw != nil && !bytes.Equal(l.HWAddr, lq.hw) {
		return false
	}
	if lq.clientID != nil && !bytes.Equal(l.ClientID, lq.clientID) {
		return false
	}
	return true
}

func (lq *leaseQuery) inside(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	v := u32(a)
	for _, s := range lq.within {
		if v >= s.first && v <= s.last {
			return true
		}
	}
	return false
}

// page produces one page of the query from db.
func (lq *leaseQuery) page(db LeaseSource) LeasePage {
	out := LeasePage{Leases: []LeaseInfo{}}
	if lq.hw != nil || lq.clientID != nil {
		out.Leases = lq.byClient(db)
		return out
	}
	scanned := 0
	for _, s := range lq.within {
		if lq.cursor > s.last {
			continue
		}
		for v := max(s.first, lq.cursor); ; v++ {
			if len(out.Leases) == lq.limit || scanned == maxScan {
				out.Next = addrOf(v).String()
				return out
			}
			scanned++
			if l, ok := db.Get(addrOf(v)); ok && lq.matches(l) {
				out.Leases = append(out.Leases, leaseInfo(l))
			}
			if v == s.last {
				break
			}
		}
	}
	return out
}

// byClient answers a client filter from the client index: the client's
// current binding (the one the server would renew). A hardware address is
// looked up as a client without an identifier and as the identifier most
// clients derive from it (type 1, RFC 2132 §9.14).
func (lq *leaseQuery) byClient(db LeaseSource) []LeaseInfo {
	var keys []string
	if lq.clientID != nil {
		keys = append(keys, lease.ClientKey(lq.clientID, nil))
	} else {
		keys = append(keys, lease.ClientKey(nil, lq.hw), lease.ClientKey(append([]byte{1}, lq.hw...), nil))
	}
	out := []LeaseInfo{}
	var seen []netip.Addr
	for _, k := range keys {
		l, ok := db.ByClient(k)
		if !ok || slices.Contains(seen, l.Addr) || !lq.inside(l.Addr) || !lq.matches(l) {
			continue
		}
		seen = append(seen, l.Addr)
		out = append(out, leaseInfo(l))
	}
	slices.SortFunc(out, func(a, b LeaseInfo) int {
		x, _ := netip.ParseAddr(a.IP)
		y, _ := netip.ParseAddr(b.IP)
		return x.Compare(y)
	})
	return out
}

func (a *API) leases(w http.ResponseWriter, r *http.Request) {
	if a.Leases == nil || a.Subnets == nil {
		writeJSON(w, http.StatusOK, LeasePage{Leases: []LeaseInfo{}})
		return
	}
	lq, err := parseLeaseQuery(r.URL.Query(), a.Subnets())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, lq.page(a.Leases))
}
