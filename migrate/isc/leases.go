package isc

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"time"

	"github.com/hadhcpd/hadhcpd/migrate"
)

// ParseLeases reads a dhcpd.leases file (dhcpd.leases(5)). The last block
// for an address wins, as when dhcpd reads it; active, expired, released and
// abandoned bindings are kept with their client identity and times, free,
// backup and reset addresses need no record. What the file holds besides
// leases is summarised in rep.
func ParseLeases(name string, r io.Reader, rep *migrate.Report) ([]migrate.Lease, error) {
	p := newParser(newLexer(name, r), nil)
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
		switch s.word(0) {
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

func leaseBlock(s *Stmt, t *migrate.LeaseTable, skip func(migrate.Pos, string, string, migrate.Kind)) error {
	a, err := netip.ParseAddr(s.word(1))
	if err != nil || !a.Is4() || len(s.Words) != 2 || !s.HasBlock {
		return migrate.Errorf(s.Pos, "want `lease IPV4-ADDRESS { ... }`, not %q", s.String())
	}
	l := migrate.Lease{Addr: a, Pos: s.Pos}
	state := ""
	for _, st := range s.Block {
		switch w := st.word(0); w {
		case "starts", "ends", "tstp", "tsfp", "atsfp", "cltt":
			tm, never, err := leaseTime(st)
			if err != nil {
				return err
			}
			if never {
				if w == "ends" {
					skip(st.Pos, "ends never", "an infinite lease: hadhcpd grants none; the binding is not imported", migrate.Unsupported)
					state = "never"
				}
				continue
			}
			switch w {
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
			if st.word(1) != "state" || len(st.Words) != 3 {
				return migrate.Errorf(st.Pos, "want `binding state STATE;`")
			}
			if state != "never" {
				state = st.word(2)
			}
		case "next", "rewind":
			skip(st.Pos, w+" binding state", "hadhcpd decides the next state itself (expiry, release, failover)", migrate.Dropped)
		case "hardware":
			mac, err := parseHex(st.word(2))
			if err != nil || len(st.Words) != 3 {
				return migrate.Errorf(st.Pos, "hardware: %q is not a hardware address", st.word(2))
			}
			l.HWAddr = net.HardwareAddr(mac)
		case "uid":
			if len(st.Words) != 2 {
				return migrate.Errorf(st.Pos, "want `uid \"...\";` or `uid XX:XX...;`")
			}
			if st.Words[1].kind == tString {
				l.ClientID = []byte(st.Words[1].text)
			} else if l.ClientID, err = parseHex(st.word(1)); err != nil {
				return migrate.Errorf(st.Pos, "uid %q: %v", st.word(1), err)
			}
		case "client-hostname":
			l.Hostname = st.word(1)
		default:
			skip(st.Pos, w, "per-lease data hadhcpd does not keep (variables, relay options, DDNS state)", migrate.Dropped)
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

// leaseTime reads `starts W YYYY/MM/DD HH:MM:SS;` (UTC), `starts epoch N;`
// and `ends never;`.
func leaseTime(s *Stmt) (time.Time, bool, error) {
	switch {
	case len(s.Words) == 2 && s.word(1) == "never":
		return time.Time{}, true, nil
	case len(s.Words) == 3 && s.word(1) == "epoch":
		n, err := strconv.ParseInt(s.word(2), 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			return time.Time{}, false, migrate.Errorf(s.Pos, "%s: %q is not seconds since the epoch", s.word(0), s.word(2))
		}
		return time.Unix(n, 0).UTC(), false, nil
	case len(s.Words) == 4:
		tm, err := time.Parse("2006/01/02 15:04:05", s.word(2)+" "+s.word(3))
		if err == nil {
			return tm, false, nil
		}
	}
	return time.Time{}, false, migrate.Errorf(s.Pos, "%s: want `W YYYY/MM/DD HH:MM:SS`, `epoch N` or `never`", s.word(0))
}
