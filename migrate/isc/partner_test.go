package isc

import (
	"bytes"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
	"github.com/hadhcpd/hadhcpd/migrate/migratetest"
)

func importPair(t *testing.T, conf, partner string, files map[string]string, root string) *migrate.Result {
	t.Helper()
	in := migrate.Input{Format: Format(), Conf: conf, Partner: partner, Root: root,
		Defaults: migrate.Defaults{Interfaces: []string{"eth0"}, StateDir: t.TempDir()}}
	if files != nil {
		in.FS = migrate.FS{ReadFile: func(p string) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			return nil, fmt.Errorf("open %s: %w", p, fs.ErrNotExist)
		}}
	}
	res, err := migrate.Convert(in)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func reportText(t *testing.T, r *migrate.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// agreed is what the pair's handshake compares (sync/failover Agreed) as
// the imported configs hold it.
func agreed(f *config.FailoverConfig) string {
	mode := f.Mode
	if mode == "" {
		mode = "hot-standby"
	}
	return fmt.Sprintf("mode %s mclt %v max_response_delay %v standby_share %v", mode, f.MCLT, f.MaxResponseDelay, f.StandbyShare)
}

// The secondary imported with --partner-conf holds the primary's mclt,
// split and load balance max seconds, each reported as mapped from the
// primary's file and line: the two imports agree on every parameter the
// pair's handshake refuses a difference in.
func TestPartnerConfSecondary(t *testing.T) {
	p := importFile(t, "testdata/primary.conf", "")
	s := importPair(t, "testdata/secondary.conf", "testdata/primary.conf", nil, "")
	if bad := migratetest.SourceProblems(s.Report); len(bad) > 0 {
		t.Fatalf("unexpected problems: %+v", bad)
	}
	pf, sf := p.Config.Failover, s.Config.Failover
	if sf.Role != "secondary" || sf.MCLT != 30*time.Minute || sf.Mode != "load-balance" || sf.Split == nil || *sf.Split != 128 ||
		sf.LoadBalanceMaxSeconds != 3 || sf.MaxResponseDelay != 30*time.Second {
		t.Errorf("secondary failover = %+v", sf)
	}
	if a, b := agreed(pf), agreed(sf); a != b {
		t.Errorf("the pair would refuse its link: primary %s, secondary %s", a, b)
	}
	rep := reportText(t, s.Report)
	for _, want := range []string{
		"testdata/primary.conf:26: mclt 1800 -> failover.mclt (the primary's, from --partner-conf",
		"testdata/primary.conf:27: split 128 -> failover.mode, failover.split (the primary's, from --partner-conf",
	} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
	for _, it := range s.Report.Items {
		if it.Kind == migrate.Invented && strings.HasPrefix(it.Key, "failover.m") {
			t.Errorf("%s still invented: %s", it.Key, it.Note)
		}
	}
	migratetest.Load(t, s)
}

// Without --partner-conf the secondary's report says which keys must
// match the primary's before its link is accepted.
func TestPartnerConfMissing(t *testing.T) {
	s := importFile(t, "testdata/secondary.conf", "")
	var keys []string
	for _, it := range s.Report.Items {
		if it.Kind == migrate.Invented && strings.Contains(it.Note, "refuses the failover link until failover.mode and failover.mclt match the primary's") &&
			strings.Contains(it.Note, "--partner-conf") {
			keys = append(keys, it.Key)
		}
	}
	if !reflect.DeepEqual(keys, []string{"failover.mode", "failover.mclt"}) {
		t.Errorf("invented items warning of the refused link: %v, want failover.mode and failover.mclt:\n%s", keys, reportText(t, s.Report))
	}
	// The primary holds both itself: no warning.
	p := importFile(t, "testdata/primary.conf", "")
	if rep := reportText(t, p.Report); strings.Contains(rep, "refuses the failover link") {
		t.Errorf("the primary's report warns of a refused link:\n%s", rep)
	}
}

// Importing the primary with the secondary's file takes nothing.
func TestPartnerConfPrimary(t *testing.T) {
	alone := importFile(t, "testdata/primary.conf", "")
	p := importPair(t, "testdata/primary.conf", "testdata/secondary.conf", nil, "")
	if !reflect.DeepEqual(alone.Config.Failover, p.Config.Failover) {
		t.Errorf("failover with --partner-conf %+v, alone %+v", p.Config.Failover, alone.Config.Failover)
	}
	if bad := migratetest.SourceProblems(p.Report); len(bad) > 0 {
		t.Errorf("unexpected problems: %+v", bad)
	}
	if rep := reportText(t, p.Report); !strings.Contains(rep, "testdata/secondary.conf:16: failover peer \"lab-fo\" { ... }: the partner is the secondary and this box the primary") {
		t.Errorf("report does not say nothing was taken:\n%s", rep)
	}
}

const (
	secondaryConf = `failover peer "fo" {
  secondary;
  address 192.0.2.12;
  peer address 192.0.2.11;
  %s
}
subnet 192.0.2.0 netmask 255.255.255.0 {
  pool { failover peer "fo"; range 192.0.2.100 192.0.2.120; }
}
`
	primaryPeer = `failover peer "fo" {
  primary;
  address 192.0.2.11;
  peer address 192.0.2.12;
  max-response-delay 20;
  mclt 600;
  hba ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff;
  load balance max seconds 5;
}
`
)

// The partner's declaration may stand in an included file, read under
// --root like the box's own includes; values the secondary sets itself
// that the pair must agree on are replaced by the primary's, saying so.
func TestPartnerConfIncludeRootAndOwnValues(t *testing.T) {
	files := map[string]string{
		"/here/b.conf":                 fmt.Sprintf(secondaryConf, "max-response-delay 10;\n  mclt 900;"),
		"/here/a.conf":                 "include \"/etc/dhcp/failover.conf\";\ninclude \"subnets.conf\";\n",
		"/here/etc/dhcp/failover.conf": primaryPeer,
		"/here/subnets.conf":           "subnet 192.0.2.0 netmask 255.255.255.0 { }\n",
	}
	s := importPair(t, "/here/b.conf", "/here/a.conf", files, "/here")
	if bad := migratetest.SourceProblems(s.Report); len(bad) > 0 {
		t.Fatalf("unexpected problems: %+v", bad)
	}
	f := s.Config.Failover
	if f.MCLT != 10*time.Minute || f.MaxResponseDelay != 20*time.Second || f.Mode != "hot-standby" || f.Split != nil || f.LoadBalanceMaxSeconds != 5 {
		t.Errorf("secondary failover = %+v", f)
	}
	rep := reportText(t, s.Report)
	for _, want := range []string{
		"/etc/dhcp/failover.conf:6: mclt 600 -> failover.mclt (the primary's, from --partner-conf; it replaces this box's own \"mclt 900\" (/here/b.conf:6): hadhcpd refuses the failover link",
		"/etc/dhcp/failover.conf:5: max-response-delay 20 -> failover.max_response_delay (the primary's, from --partner-conf; it replaces this box's own \"max-response-delay 10\" (/here/b.conf:5)",
		"/etc/dhcp/failover.conf:7: hba ff:",
		"/etc/dhcp/failover.conf:8: load balance max seconds 5 -> failover.load_balance_max_seconds",
	} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
	// A secondary setting the primary's value already takes nothing.
	files["/here/b.conf"] = fmt.Sprintf(secondaryConf, "max-response-delay 20;")
	s = importPair(t, "/here/b.conf", "/here/a.conf", files, "/here")
	if rep := reportText(t, s.Report); strings.Contains(rep, "failover.conf:5:") {
		t.Errorf("an equal max-response-delay reported as taken:\n%s", rep)
	}
}

// A --partner-conf that is not this pair's other box is an error of the
// source, and nothing is taken from it.
func TestPartnerConfWrongFile(t *testing.T) {
	for _, tc := range []struct{ name, partner, want string }{
		{"no such peer", strings.Replace(primaryPeer, `"fo"`, `"other"`, 1), `-: --partner-conf /a.conf: no failover peer "fo": nothing taken from it (is it the dhcpd.conf of this pair's other box?); it declares "other"`},
		{"same role", strings.Replace(primaryPeer, "primary;", "secondary;", 1), `/a.conf:1: failover peer "fo" { ... }: the partner is secondary too: nothing taken`},
		{"not mirrored", strings.Replace(primaryPeer, "peer address 192.0.2.12", "peer address 192.0.2.13", 1), "/a.conf:1: failover peer \"fo\" { ... }: the partner's peer address and port 192.0.2.13:647 are not this box's address and port 192.0.2.12:647"},
		{"unreadable mclt", strings.Replace(primaryPeer, "mclt 600", "mclt ten", 1), `/a.conf:6: mclt ten: mclt: "ten" is not a number`},
		{"partial hba", strings.Replace(primaryPeer, "hba ff:", "hba 0f:", 1), "/a.conf:7: hba 0f:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"/b.conf": fmt.Sprintf(secondaryConf, ""), "/a.conf": tc.partner}
			s := importPair(t, "/b.conf", "/a.conf", files, "")
			err := s.Report.Err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("report error %v, want one mentioning %q", err, tc.want)
			}
			// The last two are this box's partner: what it cannot read
			// or express is not taken, the rest is.
			f := s.Config.Failover
			got := fmt.Sprintf("mclt %v mode %q lbms %d", f.MCLT, f.Mode, f.LoadBalanceMaxSeconds)
			want := map[string]string{"unreadable mclt": `mclt 0s mode "hot-standby" lbms 5`, "partial hba": `mclt 10m0s mode "" lbms 5`}[tc.name]
			if want == "" {
				want = `mclt 0s mode "" lbms 0` // nothing taken
			}
			if got != want {
				t.Errorf("took %s, want %s", got, want)
			}
		})
	}
}

// A box without a failover peer takes nothing from --partner-conf, and a
// partner file that cannot be read refuses the import.
func TestPartnerConfNoPeer(t *testing.T) {
	files := map[string]string{"/b.conf": "subnet 192.0.2.0 netmask 255.255.255.0 { range 192.0.2.10 192.0.2.20; }\n", "/a.conf": primaryPeer}
	s := importPair(t, "/b.conf", "/a.conf", files, "")
	if s.Config.Failover != nil || !strings.Contains(reportText(t, s.Report), "this box declares no failover peer: nothing taken") {
		t.Errorf("failover %+v; report:\n%s", s.Config.Failover, reportText(t, s.Report))
	}
	_, err := migrate.Convert(migrate.Input{Format: Format(), Conf: "testdata/secondary.conf", Partner: "testdata/no-such.conf"})
	if err == nil || !strings.Contains(err.Error(), "isc: partner: open testdata/no-such.conf") {
		t.Errorf("missing partner file: %v", err)
	}
}
