package failover

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// leaseStore is what a standby's lease store says is bound now:
// address → client MAC (net.HardwareAddr.String form).
type leaseStore map[netip.Addr]string

// parseKeaCSV reads a Kea memfile lease file (kea-leases4.csv). The file is
// a journal: each line is the new state of one address (a deleted lease is
// a line with valid_lifetime 0), so the last line per address wins. Bound
// means state 0 (default) with a nonzero lifetime.
func parseKeaCSV(r io.Reader) (leaseStore, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	col := map[string]int{}
	ls := leaseStore{}
	line := 0
	for sc.Scan() {
		line++
		f := strings.Split(sc.Text(), ",")
		if line == 1 {
			for i, name := range f {
				col[name] = i
			}
			for _, need := range []string{"address", "hwaddr", "valid_lifetime", "state"} {
				if _, ok := col[need]; !ok {
					return nil, fmt.Errorf("kea csv: header has no %q column: %q", need, sc.Text())
				}
			}
			continue
		}
		if len(f) < len(col) {
			return nil, fmt.Errorf("kea csv line %d: %d fields, header has %d", line, len(f), len(col))
		}
		a, err := netip.ParseAddr(f[col["address"]])
		if err != nil {
			return nil, fmt.Errorf("kea csv line %d: %w", line, err)
		}
		valid, err1 := strconv.ParseUint(f[col["valid_lifetime"]], 10, 32)
		state, err2 := strconv.Atoi(f[col["state"]])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("kea csv line %d: bad valid_lifetime %q or state %q", line, f[col["valid_lifetime"]], f[col["state"]])
		}
		if valid == 0 || state != 0 {
			delete(ls, a)
			continue
		}
		mac, err := net.ParseMAC(f[col["hwaddr"]])
		if err != nil {
			return nil, fmt.Errorf("kea csv line %d: hwaddr: %w", line, err)
		}
		ls[a] = mac.String()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kea csv: %w", err)
	}
	if line == 0 {
		return nil, fmt.Errorf("kea csv: empty file (no header)")
	}
	return ls, nil
}

// parseISCLeases reads an ISC dhcpd.leases file: `lease ADDR { … }` blocks,
// the last block per address wins; bound means `binding state active`.
func parseISCLeases(r io.Reader) (leaseStore, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	ls := leaseStore{}
	var cur netip.Addr
	var in bool
	var state, mac string
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		switch {
		case !in && strings.HasPrefix(s, "lease ") && strings.HasSuffix(s, "{"):
			a, err := netip.ParseAddr(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(s, "lease "), "{")))
			if err != nil {
				return nil, fmt.Errorf("dhcpd.leases line %d: %w", line, err)
			}
			cur, in, state, mac = a, true, "", ""
		case in && s == "}":
			in = false
			if state == "active" && mac != "" {
				ls[cur] = mac
			} else {
				delete(ls, cur)
			}
		case in && strings.HasPrefix(s, "binding state "):
			state = strings.TrimSuffix(strings.TrimPrefix(s, "binding state "), ";")
		case in && strings.HasPrefix(s, "hardware ethernet "):
			m, err := net.ParseMAC(strings.TrimSuffix(strings.TrimPrefix(s, "hardware ethernet "), ";"))
			if err != nil {
				return nil, fmt.Errorf("dhcpd.leases line %d: %w", line, err)
			}
			mac = m.String()
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dhcpd.leases: %w", err)
	}
	return ls, nil
}

// backupCount counts addresses whose last block says `binding state
// backup` (ISC's secondary owns them after pool balancing).
func backupCount(r io.Reader) int {
	sc := bufio.NewScanner(r)
	last := map[string]string{}
	var cur string
	for sc.Scan() {
		s := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(s, "lease ") {
			cur = strings.Fields(s)[1]
		} else if strings.HasPrefix(s, "binding state ") && cur != "" {
			last[cur] = s
		}
	}
	n := 0
	for _, s := range last {
		if s == "binding state backup;" {
			n++
		}
	}
	return n
}

// hadhcpdLease is the part of `hadhcpd leases --json` the bench reads
// (agent.LeaseInfo).
type hadhcpdLease struct {
	IP     string `json:"ip"`
	State  string `json:"state"`
	HWAddr string `json:"hw_address"`
}

// parseHadhcpdJSON reads `hadhcpd leases --json`; bound means state active.
func parseHadhcpdJSON(b []byte) (leaseStore, error) {
	var in []hadhcpdLease
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("hadhcpd leases --json: %w", err)
	}
	ls := leaseStore{}
	for _, l := range in {
		if !strings.EqualFold(l.State, "active") {
			continue
		}
		a, err := netip.ParseAddr(l.IP)
		if err != nil {
			return nil, fmt.Errorf("hadhcpd leases --json: %w", err)
		}
		mac, err := net.ParseMAC(l.HWAddr)
		if err != nil {
			return nil, fmt.Errorf("hadhcpd leases --json: %s: %w", l.IP, err)
		}
		ls[a] = mac.String()
	}
	return ls, nil
}

func TestParseKeaCSV(t *testing.T) {
	const csv = `address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context
198.18.1.1,02:bf:00:00:00:01,,3600,1900000000,1,0,0,,0,
198.18.1.2,02:bf:00:00:00:02,,3600,1900000000,1,0,0,,0,
198.18.1.2,02:bf:00:00:00:02,,0,1900000000,1,0,0,,0,
198.18.1.3,02:bf:00:00:00:03,,3600,1900000000,1,0,0,,2,
198.18.1.4,02:bf:00:00:00:04,,3600,1900000000,1,0,0,,0,
198.18.1.4,02:BF:00:00:00:05,,3600,1900000001,1,0,0,,0,
`
	ls, err := parseKeaCSV(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	want := leaseStore{netip.MustParseAddr("198.18.1.1"): "02:bf:00:00:00:01", netip.MustParseAddr("198.18.1.4"): "02:bf:00:00:00:05"}
	if fmt.Sprint(ls) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", ls, want)
	}
	for _, bad := range []string{"", "address,hwaddr\n", "address,hwaddr,valid_lifetime,state\nx,02:00:00:00:00:01,1,0\n", "address,hwaddr,valid_lifetime,state\n198.18.1.1,zz,1,0\n", "address,hwaddr,valid_lifetime,state\n198.18.1.1\n"} {
		if _, err := parseKeaCSV(strings.NewReader(bad)); err == nil {
			t.Errorf("parseKeaCSV(%q) accepted", bad)
		}
	}
}

func TestParseISCLeases(t *testing.T) {
	const leases = `# The format of this file is documented in the dhcpd.leases(5) manual page.
failover peer "lab-fo" state {
  my state normal at 1 2024/01/01 00:00:00;
  partner state normal at 1 2024/01/01 00:00:00;
}
lease 198.18.1.1 {
  starts 3 2030/01/02 03:04:05;
  binding state backup;
}
lease 198.18.1.1 {
  binding state active;
  next binding state free;
  hardware ethernet 02:bf:00:00:00:01;
}
lease 198.18.1.2 {
  binding state active;
  hardware ethernet 02:bf:00:00:00:02;
}
lease 198.18.1.2 {
  binding state free;
}
lease 198.18.1.3 {
  binding state backup;
}
`
	ls, err := parseISCLeases(strings.NewReader(leases))
	if err != nil {
		t.Fatal(err)
	}
	want := leaseStore{netip.MustParseAddr("198.18.1.1"): "02:bf:00:00:00:01"}
	if fmt.Sprint(ls) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", ls, want)
	}
	if n := backupCount(strings.NewReader(leases)); n != 1 {
		t.Errorf("backupCount = %d, want 1 (198.18.1.1 is active now)", n)
	}
	if _, err := parseISCLeases(strings.NewReader("lease nonsense {\n}\n")); err == nil {
		t.Error("bad address accepted")
	}
}

func TestParseHadhcpdJSON(t *testing.T) {
	ls, err := parseHadhcpdJSON([]byte(`[{"ip":"198.18.1.1","state":"active","hw_address":"02:bf:00:00:00:01","seq":1},
		{"ip":"198.18.1.2","state":"backup","seq":2}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 || ls[netip.MustParseAddr("198.18.1.1")] != "02:bf:00:00:00:01" {
		t.Errorf("got %v", ls)
	}
	if _, err := parseHadhcpdJSON([]byte(`{`)); err == nil {
		t.Error("bad JSON accepted")
	}
}
