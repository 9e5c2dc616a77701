package isc

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"time"

	dhcpscope "github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// ParseLeases reads a dhcpd.leases file (dhcpd.leases(5)). The last block
// for an address wins, as when dhcpd reads it; active, expired, released and
// abandoned bindings are kept with their client identity and times, free,
// backup and reset addresses need no record. What the file holds besides
// leases is summarised in rep.
func ParseLeases(name string, r io.Reader, rep *migrate.Report) ([]migrate.Lease, error) {
	p := newParser(newLexer(name, r), nil)
	p.reuse = true // leaseBlock copies what it keeps
	var t migrate.LeaseTable
	skipped := map[string]*tally{}
	skip := func(pos migrate.Pos, what, why string, kind migrate.Kind) {
		if s, ok := skipped[what]; ok {
			s.n++
			return
		}
		skipped[what] = &tally{pos: pos, why: why, kind: kind, n: 1}
	}
	var first migrate.Pos
	for {
		s, err := p.next()
		if err != nil {
			return nil, err
		}
		if s == nil {
			break
		}
		switch string(s.wordb(0)) {
		case "lease":
			if first.Line == 0 {
				first = s.Pos
			}
			if err := leaseBlock(s, &t, skip); err != nil {
				return nil, err
			}
		case "failover":
			rep.Drop(s.Pos, s.String(), "ISC's failover state; hadhcpd's failover starts from its own state and resynchronises with the partner")
		case "server-duid", "authoring-byte-order", "lease-id-format", "db-time-format":
			rep.Drop(s.Pos, s.String(), "only describes dhcpd's own lease file")
		case "host":
			rep.Unsupported(s.Pos, s.String(), "a host declared through OMAPI: add it as a reservation")
		case "class", "subclass":
			rep.Unsupported(s.Pos, s.String(), "client classes are not supported")
		default:
			return nil, migrate.Errorf(s.Pos, "unknown statement %q in a lease file", s.word(0))
		}
	}
	ls := t.Leases()
	counts := migrate.StateCounts(ls)
	rep.MapNote(first, fmt.Sprintf("%d lease blocks in %s (%d superseded by a later block, or free)", t.Blocks, name, t.Superseded()),
		"lease database (node.state_dir)",
		fmt.Sprintf("%d leases: %d active, %d expired, %d released, %d abandoned", len(ls),
			counts[migrate.LeaseActive], counts[migrate.LeaseExpired], counts[migrate.LeaseReleased], counts[migrate.LeaseAbandoned]))
	keys := make([]string, 0, len(skipped))
	for k := range skipped {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := skipped[k]
		src := fmt.Sprintf("%s (%d lease blocks, first here)", k, s.n)
		if s.kind == migrate.Unsupported {
			rep.Unsupported(s.pos, src, s.why)
		} else {
			rep.Drop(s.pos, src, s.why)
		}
	}
	return ls, nil
}

type tally struct {
	pos  migrate.Pos
	why  string
	kind migrate.Kind
	n    int
}

// leaseBlock reads one `lease ADDR { ... }`. It runs once per block of a
// file that may hold hundreds of thousands, so it compares the words as
// bytes (a switch on string(b) does not allocate) and copies only what the
// lease keeps.
func leaseBlock(s *Stmt, t *migrate.LeaseTable, skip func(migrate.Pos, string, string, migrate.Kind)) error {
	a, ok := parseIPv4(s.wordb(1))
	if !ok || len(s.Words) != 2 || !s.HasBlock {
		return migrate.Errorf(s.Pos, "want `lease IPV4-ADDRESS { ... }`, not %q", s.String())
	}
	l := migrate.Lease{Addr: a, Pos: s.Pos}
	state := ""
	for _, st := range s.Block {
		switch w := st.wordb(0); string(w) {
		case "starts", "ends", "tstp", "tsfp", "atsfp", "cltt":
			tm, never, err := leaseTime(st)
			if err != nil {
				return err
			}
			if never {
				if string(w) == "ends" {
					skip(st.Pos, "ends never", "an infinite lease: hadhcpd grants none; the binding is not imported", migrate.Unsupported)
					state = "never"
				}
				continue
			}
			switch string(w) {
			case "starts":
				l.Start = tm
			case "ends":
				l.Expiry = tm
			case "tstp":
				l.PotentialExpiry = tm
			case "tsfp":
				l.AckedExpiry = tm
			case "atsfp":
				l.PartnerExpiry = tm
			case "cltt":
				l.CLTT = tm
			}
		case "binding":
			if string(st.wordb(1)) != "state" || len(st.Words) != 3 {
				return migrate.Errorf(st.Pos, "want `binding state STATE;`")
			}
			if state != "never" {
				state = bindingState(st.wordb(2))
			}
		case "next":
			skip(st.Pos, "next binding state", "hadhcpd decides the next state itself (expiry, release, failover)", migrate.Dropped)
		case "rewind":
			skip(st.Pos, "rewind binding state", "hadhcpd decides the next state itself (expiry, release, failover)", migrate.Dropped)
		case "hardware":
			mac, err := dhcpscope.ParseHex(st.wordb(2))
			if err != nil || len(st.Words) != 3 {
				return migrate.Errorf(st.Pos, "hardware: %q is not a hardware address", st.word(2))
			}
			l.HWAddr = net.HardwareAddr(mac)
		case "uid":
			if len(st.Words) != 2 {
				return migrate.Errorf(st.Pos, "want `uid \"...\";` or `uid XX:XX...;`")
			}
			if st.Words[1].kind == tString {
				l.ClientID = bytes.Clone(st.Words[1].b)
			} else if id, err := dhcpscope.ParseHex(st.wordb(1)); err != nil {
				return migrate.Errorf(st.Pos, "uid %q: %v", st.word(1), err)
			} else {
				l.ClientID = id
			}
		case "client-hostname":
			l.Hostname = st.word(1)
		default:
			skip(st.Pos, string(w), "per-lease data hadhcpd does not keep (variables, relay options, DDNS state)", migrate.Dropped)
		}
	}
	switch state {
	case "active", "":
		// dhcpd 3 files before failover have no binding state: a lease
		// block is a binding.
		l.State = migrate.LeaseActive
	case "expired":
		l.State = migrate.LeaseExpired
	case "released":
		l.State = migrate.LeaseReleased
	case "abandoned":
		l.State = migrate.LeaseAbandoned
	case "free", "backup", "reset", "never":
		t.Remove(a)
		return nil
	case "bootp":
		skip(s.Pos, "binding state bootp", "a BOOTP binding: hadhcpd refuses BOOTP; the binding is not imported", migrate.Unsupported)
		t.Remove(a)
		return nil
	default:
		return migrate.Errorf(s.Pos, "lease %s: unknown binding state %q", a, state)
	}
	t.Put(l)
	return nil
}

// bindingState returns the known binding state names without allocating
// (every block has one), anything else as a copy for the error message.
func bindingState(b []byte) string {
	for _, s := range [...]string{"active", "free", "expired", "released", "abandoned", "backup", "reset", "bootp"} {
		if string(b) == s {
			return s
		}
	}
	return string(b)
}

// leaseTime reads `starts W YYYY/MM/DD HH:MM:SS;` (UTC), `starts epoch N;`
// and `ends never;`.
func leaseTime(s *Stmt) (time.Time, bool, error) {
	switch {
	case len(s.Words) == 2 && string(s.wordb(1)) == "never":
		return time.Time{}, true, nil
	case len(s.Words) == 3 && string(s.wordb(1)) == "epoch":
		n, err := strconv.ParseInt(s.word(2), 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			return time.Time{}, false, migrate.Errorf(s.Pos, "%s: %q is not seconds since the epoch", s.word(0), s.word(2))
		}
		return time.Unix(n, 0).UTC(), false, nil
	case len(s.Words) == 4:
		if tm, ok := parseDateTime(s.wordb(2), s.wordb(3)); ok {
			return tm, false, nil
		}
	}
	return time.Time{}, false, migrate.Errorf(s.Pos, "%s: want `W YYYY/MM/DD HH:MM:SS`, `epoch N` or `never`", s.word(0))
}

// parseDateTime reads dhcpd's `YYYY/MM/DD` and `HH:MM:SS` (UTC,
// dhcpd.leases(5)) by hand: time.Parse with a layout was a tenth of the
// import's time. Dates that do not exist (2024/02/30) are refused, as
// time.Parse refuses them. dhcpd writes two-digit fields; one-digit ones
// are accepted as time.Parse did not, harmlessly.
func parseDateTime(date, clock []byte) (time.Time, bool) {
	var d, c [3]int
	if !splitNums(date, '/', &d) || !splitNums(clock, ':', &c) {
		return time.Time{}, false
	}
	y, mo, dd, h, mi, sec := d[0], d[1], d[2], c[0], c[1], c[2]
	if y < 1 || y > 9999 || mo < 1 || mo > 12 || dd < 1 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	tm := time.Date(y, time.Month(mo), dd, h, mi, sec, 0, time.UTC)
	if tm.Day() != dd { // time.Date normalised a day past the month's end
		return time.Time{}, false
	}
	return tm, true
}

// splitNums reads three unsigned decimal fields of up to four digits
// separated by sep.
func splitNums(b []byte, sep byte, out *[3]int) bool {
	i := 0
	for f := 0; f < 3; f++ {
		if f > 0 {
			if i >= len(b) || b[i] != sep {
				return false
			}
			i++
		}
		n, start := 0, i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			n = n*10 + int(b[i]-'0')
		}
		if i == start || i-start > 4 {
			return false
		}
		out[f] = n
	}
	return i == len(b)
}

// parseIPv4 reads a dotted quad without allocating.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var a [4]byte
	i := 0
	for f := 0; f < 4; f++ {
		if f > 0 {
			if i >= len(b) || b[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
		n, start := 0, i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			n = n*10 + int(b[i]-'0')
			if n > 255 {
				return netip.Addr{}, false
			}
		}
		// No empty fields and no leading zeros (netip.ParseAddr refuses
		// "192.0.02.1": octal or decimal would be ambiguous).
		if i == start || (i-start > 1 && b[start] == '0') {
			return netip.Addr{}, false
		}
		a[f] = byte(n)
	}
	if i != len(b) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(a), true
}
