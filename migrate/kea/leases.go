package kea

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// ParseLeases reads a Kea memfile lease4 CSV (any schema version: columns
// are found by the header's names; 2.0 is address, hwaddr, client_id,
// valid_lifetime, expire, subnet_id, fqdn_fwd, fqdn_rev, hostname, state;
// later ones add user_context and pool_id). A later line for an address
// supersedes an earlier one; a line with valid_lifetime 0 deletes it (how
// Kea's memfile records a removed lease). state 0 is a lease, 1 declined,
// 2 expired-reclaimed.
func ParseLeases(name string, r io.Reader, rep *migrate.Report) ([]migrate.Lease, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	col := map[string]int{}
	width := 0 // fields a line needs: the highest column used, plus one
	var t migrate.LeaseTable
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		pos := migrate.Pos{File: name, Line: line}
		if line == 1 {
			for i, h := range strings.Split(text, ",") {
				if _, dup := col[h]; dup {
					return nil, migrate.Errorf(pos, "header names column %q twice", h)
				}
				col[h] = i
				width = i + 1
			}
			for _, need := range []string{"address", "hwaddr", "client_id", "valid_lifetime", "expire", "hostname", "state"} {
				if _, ok := col[need]; !ok {
					return nil, migrate.Errorf(pos, "header lacks column %q (is this a Kea lease4 CSV?)", need)
				}
			}
			continue
		}
		if text == "" {
			continue
		}
		f := strings.Split(text, ",")
		if len(f) < width {
			return nil, migrate.Errorf(pos, "%d fields, the header has %d", len(f), width)
		}
		get := func(k string) string { return f[col[k]] }
		a, err := netip.ParseAddr(get("address"))
		if err != nil || !a.Is4() {
			return nil, migrate.Errorf(pos, "address %q is not an IPv4 address", get("address"))
		}
		valid, err1 := strconv.ParseUint(get("valid_lifetime"), 10, 32)
		exp, err2 := strconv.ParseInt(get("expire"), 10, 64)
		state, err3 := strconv.Atoi(get("state"))
		if err1 != nil || err2 != nil || err3 != nil || exp < 0 || exp > 1<<40 {
			return nil, migrate.Errorf(pos, "valid_lifetime, expire and state must be numbers")
		}
		if valid == 0 {
			t.Remove(a)
			continue
		}
		l := migrate.Lease{Addr: a, Pos: pos, Hostname: unescape(get("hostname"))}
		l.Expiry = time.Unix(exp, 0).UTC()
		l.Start = l.Expiry.Add(-time.Duration(valid) * time.Second)
		l.CLTT = l.Start
		if h := get("hwaddr"); h != "" {
			if l.HWAddr, err = parseHex(h); err != nil {
				return nil, migrate.Errorf(pos, "hwaddr %q: %v", h, err)
			}
		}
		if id := get("client_id"); id != "" {
			if l.ClientID, err = parseHex(id); err != nil {
				return nil, migrate.Errorf(pos, "client_id %q: %v", id, err)
			}
		}
		switch state {
		case 0:
			l.State = migrate.LeaseActive
		case 1:
			l.State = migrate.LeaseAbandoned
		case 2:
			l.State = migrate.LeaseExpired
		default:
			return nil, migrate.Errorf(pos, "unknown lease state %d", state)
		}
		t.Put(l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kea: %s: %w", name, err)
	}
	ls := t.Leases()
	n := migrate.StateCounts(ls)
	rep.MapNote(migrate.Pos{File: name, Line: 2}, fmt.Sprintf("%d lease lines in %s (%d superseded or deleted)", t.Blocks, name, t.Blocks-len(ls)),
		"lease database (node.state_dir)", fmt.Sprintf("%d leases: %d active, %d expired, %d declined", len(ls), n[migrate.LeaseActive], n[migrate.LeaseExpired], n[migrate.LeaseAbandoned]))
	for _, k := range []string{"fqdn_fwd", "fqdn_rev", "user_context", "subnet_id", "pool_id"} {
		if _, ok := col[k]; ok {
			rep.Drop(migrate.Pos{File: name, Line: 1}, "column "+k, "hadhcpd keeps no DDNS state, user context or Kea ids; a lease belongs to the subnet of its address")
		}
	}
	return ls, nil
}

// parseHex reads Kea's colon hex ("01:52:54:00:00:00:01"); empty is an
// error here (a column that is present must hold an address or an id).
func parseHex(s string) (net.HardwareAddr, error) {
	b, err := scope.ParseHex(s)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("not colon-separated hex")
	}
	return b, nil
}

// unescape undoes the memfile's escaping of commas ("&#x2c").
func unescape(s string) string { return strings.ReplaceAll(s, "&#x2c", ",") }
