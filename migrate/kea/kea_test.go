package kea

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/migrate"
	"github.com/hadhcpd/hadhcpd/migrate/migratetest"
)

func TestImportPair(t *testing.T) {
	imp := func(conf, leases string) *migrate.Result {
		res, err := migrate.Convert(migrate.Input{Format: Format(), Conf: conf, Leases: leases, Defaults: migrate.Defaults{StateDir: t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	s1, s2 := imp("testdata/s1.json", "testdata/kea-leases4.csv"), imp("testdata/s2.json", "")
	c1, c2 := s1.Config, s2.Config
	d1, _ := migrate.MarshalSection(s1.Config, "dhcp")
	d2, _ := migrate.MarshalSection(s2.Config, "dhcp")
	if !bytes.Equal(d1, d2) {
		t.Errorf("dhcp sections differ:\n%s\n%s", d1, d2)
	}
	if c1.Failover.Role != "primary" || c2.Failover.Role != "secondary" || c1.Failover.Listen != "198.51.100.1:647" ||
		c1.Failover.Peer != c2.Failover.Listen || c2.Failover.Peer != c1.Failover.Listen || c1.Failover.Mode != "hot-standby" ||
		c1.Failover.MaxResponseDelay != 30*time.Second {
		t.Errorf("failover %+v / %+v", c1.Failover, c2.Failover)
	}
	d := c1.DHCP
	if strings.Join(d.Interfaces, ",") != "eth0" || d.DefaultLeaseTime != time.Hour || d.MinLeaseTime != 10*time.Minute || d.MaxLeaseTime != 2*time.Hour {
		t.Errorf("dhcp = %+v", d)
	}
	sub := d.Subnets[0]
	if sub.Pools[0].Range != "192.0.2.100-192.0.2.199" || sub.Pools[1].Range != "192.0.2.224-192.0.2.239" || *sub.DefaultLeaseTime != 30*time.Minute {
		t.Errorf("subnet = %+v", sub)
	}
	if len(sub.Reservations) != 2 || sub.Reservations[0].Hostname != "printer" || sub.Reservations[1].ClientID != "01:00:11:22:33:44:56" {
		t.Errorf("reservations = %+v", sub.Reservations)
	}
	if sub.Options["my_motd"] != "hello, world" || sub.Options["domain_name_servers"] == nil || len(d.OptionDefinitions) != 1 {
		t.Errorf("options = %+v", sub.Options)
	}
	if d.RenewTime != 30*time.Minute {
		t.Errorf("renew-timer = %v", d.RenewTime)
	}
	if bad := migratetest.SourceProblems(s1.Report); len(bad) > 0 {
		t.Errorf("unsupported: %+v", bad)
	}
	by := map[string]migrate.Lease{}
	for _, l := range s1.Leases {
		by[l.Addr.String()] = l
	}
	if len(s1.Leases) != 4 || by["192.0.2.100"].Expiry.Unix() != 1704369600 || by["192.0.2.101"].Hostname != "beta,gamma" ||
		by["192.0.2.102"].State != migrate.LeaseAbandoned || by["192.0.2.103"].State != migrate.LeaseExpired ||
		string(by["192.0.2.100"].ClientID) != "\x01\x52\x54\x00\x00\x00\x01" || by["192.0.2.100"].Start.Unix() != 1704366000 {
		t.Errorf("leases = %+v", s1.Leases)
	}
	var b strings.Builder
	_ = s1.Report.WriteText(&b)
	for _, want := range []string{"testdata/subnets.json:3: subnet 192.0.2.0/24 -> dhcp.subnets[192.0.2.0/24]", "testdata/s1.json:10: renew-timer -> dhcp.renew_time", "eth0/192.0.2.2"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	migratetest.Load(t, s1)
	migratetest.Load(t, s2)
}

func TestLeasesV20(t *testing.T) {
	f, err := os.Open("testdata/v20.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ls, err := ParseLeases("v20.csv", f, &migrate.Report{})
	if err != nil || len(ls) != 1 || ls[0].State != migrate.LeaseActive {
		t.Fatalf("%v %+v", err, ls)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"unterminated", "{\"Dhcp4\": {\n \"valid-lifetime\": 3600,\n", "k.json:1: object is not closed"},
		{"comment", "{ /* open", "k.json:1: unterminated /* comment"},
		{"missing comma", "{\"Dhcp4\": {\"a\": 1\n \"b\": 2}}", "k.json:2: expected ','"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("k.json", []byte(tc.in), nil)
			var se *migrate.SyntaxError
			if err == nil || !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, in, want string }{
		{"short line", "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state\n192.0.2.1,,\n", "l.csv:2: 3 fields"},
		{"bad addr", "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state\n192.0.2.300,,,1,1,1,0,0,,0\n", "l.csv:2: address"},
		{"header", "a,b\n", "l.csv:1: header lacks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseLeases("l.csv", strings.NewReader(tc.in), &migrate.Report{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, p := range []string{"testdata/s1.json", "testdata/subnets.json", "testdata/pxe.json", "testdata/unifi.json", "testdata/phones.json",
		"testdata/root/etc/kea/kea-dhcp4.conf", "testdata/ha-lb1.json", "testdata/problems.json", "testdata/vivso.json", "testdata/ha-lb2.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := ParseConfig("f.json", b, func(string) ([]byte, error) { return b, nil })
		if err == nil {
			migrate.FinishNode(res.Config, migrate.Defaults{}, res.Report)
			if _, err := migrate.MarshalConfig(res.Config, ""); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzParseLeases(f *testing.F) {
	b, err := os.ReadFile("testdata/kea-leases4.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseLeases("f.csv", bytes.NewReader(b), &migrate.Report{})
	})
}
