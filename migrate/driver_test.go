package migrate

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hadhcpd/hadhcpd/config"
)

// fakeFormat maps each line of its config to a report item ("bad ..." is
// unsupported) and each line of its lease file to an active lease.
func fakeFormat() Format {
	return Format{
		Name: "fake",
		ParseConfig: func(name string, data []byte, _ FS) (*Result, error) {
			rep := &Report{}
			for i, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				if strings.HasPrefix(l, "bad") {
					rep.Unsupported(Pos{name, i + 1}, l, "fake says no")
				} else {
					rep.Map(Pos{name, i + 1}, l, "dhcp")
				}
			}
			d := &config.DHCPConfig{Interfaces: []string{"eth0"}, Subnets: []config.SubnetConfig{{
				Subnet: "192.0.2.0/24", Pools: []config.PoolConfig{{Range: "192.0.2.100-192.0.2.200"}},
				Options: map[string]any{"routers": []string{"192.0.2.1"}},
			}}}
			return &Result{Config: &config.Config{DHCP: d}, Report: rep}, nil
		},
		ParseLeases: func(name string, r io.Reader, rep *Report) ([]Lease, error) {
			b, err := io.ReadAll(r)
			if err != nil {
				return nil, err
			}
			var ls []Lease
			for _, f := range strings.Fields(string(b)) {
				ls = append(ls, Lease{Addr: netip.MustParseAddr(f), State: LeaseActive})
			}
			return ls, nil
		},
	}
}

// vrrpFormat is a keepalived stand-in: one VRRP instance, no leases.
func vrrpFormat() Format {
	return Format{
		Name: "vrrpfake",
		ParseConfig: func(name string, _ []byte, _ FS) (*Result, error) {
			rep := &Report{}
			rep.Map(Pos{name, 1}, "vrrp_instance lan", "vrrp.instances[lan]")
			cfg := &config.Config{}
			cfg.VRRP.Instances = []config.VRRPInstance{{Name: "lan", Interface: "eth0", VRID: 7, Priority: 150, AdvertInterval: 1e9, VirtualIPs: []string{"192.0.2.1/24"}}}
			return &Result{Config: cfg, Report: rep}, nil
		},
	}
}

type leaseCall struct {
	dir   string
	n     int
	merge bool
}

// newJob returns a job over files in a fresh directory, and the calls its
// lease writer gets.
func newJob(t *testing.T, conf, leases string) (*Job, *[]leaseCall, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	in := Input{Format: fakeFormat(), Conf: write("src.conf", conf), Defaults: Defaults{StateDir: filepath.Join(dir, "state")}}
	if leases != "" {
		in.Leases = write("src.leases", leases)
	}
	calls := &[]leaseCall{}
	var stdout, stderr bytes.Buffer
	j := &Job{
		Input:  in,
		Output: filepath.Join(dir, "hadhcpd.yaml"),
		WriteLeases: func(dir string, ls []Lease, merge bool) (int, error) {
			*calls = append(*calls, leaseCall{dir, len(ls), merge})
			return len(ls), nil
		},
		Stdout: &stdout,
		Stderr: &stderr,
	}
	return j, calls, &stdout, &stderr
}

func TestJobWrites(t *testing.T) {
	j, calls, stdout, stderr := newJob(t, "a\nb\n", "192.0.2.10\n192.0.2.11\n")
	j.ReportFile = filepath.Join(filepath.Dir(j.Output), "report.txt")
	if err := j.Run(); err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(j.Output)
	if err != nil {
		t.Fatal(err)
	}
	if want := "# written by `hadhcpd import fake --conf " + j.Input.Conf + "`; see the import report\n"; !strings.HasPrefix(string(y), want) {
		t.Errorf("config starts\n%s\nwant\n%s", y, want)
	}
	if st, err := os.Stat(j.Output); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("config mode %v, %v; want 0640", st.Mode(), err)
	}
	if want := []leaseCall{{j.Input.Defaults.StateDir, 2, false}}; len(*calls) != 1 || (*calls)[0] != want[0] {
		t.Errorf("lease writer calls %+v, want %+v", *calls, want)
	}
	rep, err := os.ReadFile(j.ReportFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(rep), "import report: 2 mapped") {
		t.Errorf("report file:\n%s", rep)
	}
	want := string(rep) + "\nwrote 2 leases to the lease database in " + j.Input.Defaults.StateDir + "\n" +
		"wrote " + j.Output + " (check it with: hadhcpd check-config -c " + j.Output + ")\n"
	if stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout: %q", stdout)
	}
}

func TestJobStdout(t *testing.T) {
	j, calls, stdout, _ := newJob(t, "a\n", "")
	out := j.Output
	j.Output = "-"
	if err := j.Run(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "interfaces: [eth0]") {
		t.Errorf("stdout:\n%s", stdout)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was written: %v", err)
	}
	if len(*calls) != 0 {
		t.Errorf("lease writer called without a lease file: %+v", *calls)
	}
}

func TestJobVRRPFrom(t *testing.T) {
	j, _, stdout, stderr := newJob(t, "a\n", "")
	j.Output = "-"
	j.VRRPFrom = &Input{Format: vrrpFormat(), Conf: j.Input.Conf, Defaults: j.Input.Defaults}
	if err := j.Run(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "vrid: 7") {
		t.Errorf("the vrrp section is not the --vrrp-from one:\n%s", stdout)
	}
	// The main source's items come first, then the vrrp source's.
	r := stderr.String()
	if a, v := strings.Index(r, ": a -> dhcp"), strings.Index(r, "vrrp_instance lan -> vrrp.instances[lan]"); a < 0 || v < a {
		t.Errorf("report order:\n%s", r)
	}
}

// TestJobRefuses: what the input decides refuses the import (ErrInput, so
// the command exits 2) and writes no config; a failure while writing is
// not the input's.
func TestJobRefuses(t *testing.T) {
	for _, tc := range []struct {
		name      string
		conf      string
		setup     func(*Job)
		input     bool   // want ErrInput
		want      string // in the error
		keepsFile bool   // an existing output is left alone
	}{
		{name: "unsupported", conf: "a\nbad x\n", input: true, want: "fake says no"},
		{name: "exists", conf: "a\n", setup: func(j *Job) { _ = os.WriteFile(j.Output, []byte("old"), 0o600) }, input: true, want: "exists (--force overwrites it)", keepsFile: true},
		{name: "no conf", conf: "a\n", setup: func(j *Job) { j.Input.Conf += ".missing" }, input: true, want: "fake: open "},
		{name: "no vrrp conf", conf: "a\n", setup: func(j *Job) {
			j.VRRPFrom = &Input{Format: vrrpFormat(), Conf: j.Input.Conf + ".missing"}
		}, input: true, want: "vrrpfake: open "},
		{name: "no lease format", conf: "a\n", setup: func(j *Job) { j.Input.Format.ParseLeases = nil; j.Input.Leases = j.Input.Conf }, input: true, want: "the source has no lease file"},
		{name: "lease writer fails", conf: "a\n", setup: func(j *Job) {
			j.Input.Leases = j.Input.Conf + ".leases"
			_ = os.WriteFile(j.Input.Leases, []byte("192.0.2.10"), 0o600)
			j.WriteLeases = func(string, []Lease, bool) (int, error) { return 0, errors.New("disk on fire") }
		}, want: "disk on fire"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, _, _, _ := newJob(t, tc.conf, "")
			if tc.setup != nil {
				tc.setup(j)
			}
			err := j.Run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error with %q", err, tc.want)
			}
			if errors.Is(err, ErrInput) != tc.input {
				t.Errorf("errors.Is(%v, ErrInput) = %v, want %v", err, !tc.input, tc.input)
			}
			b, rerr := os.ReadFile(j.Output)
			if tc.keepsFile && string(b) != "old" || !tc.keepsFile && !errors.Is(rerr, os.ErrNotExist) {
				t.Errorf("output after a refused import: %q, %v", b, rerr)
			}
		})
	}
}

func TestJobForce(t *testing.T) {
	j, calls, _, _ := newJob(t, "a\nbad x\n", "192.0.2.10\n")
	if err := os.WriteFile(j.Output, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	j.Force = true
	if err := j.Run(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(j.Output); !strings.HasPrefix(string(b), "# written by") {
		t.Errorf("output not overwritten: %q", b)
	}
	if len(*calls) != 1 || !(*calls)[0].merge {
		t.Errorf("lease writer calls %+v, want one that merges", *calls)
	}
}

func vipConfig() *config.Config {
	return &config.Config{DHCP: &config.DHCPConfig{Interfaces: []string{"eth0"}, Subnets: []config.SubnetConfig{{
		Subnet:       "192.0.2.0/24",
		Pools:        []config.PoolConfig{{Range: "192.0.2.100-192.0.2.254"}},
		Options:      map[string]any{"routers": []string{"192.0.2.1"}, "domain_name_servers": []string{"192.0.2.98"}},
		Reservations: []config.ReservationConfig{{HWAddress: "00:11:22:33:44:55", IP: "192.0.2.99"}},
	}}}}
}

// An invented VIP is an address the source uses nowhere (a router is
// usually another box): not the router, a pool, a reservation or an
// option value; the operator chooses with Defaults.VIP.
func TestInventedVIP(t *testing.T) {
	for _, tc := range []struct{ vip, want, note string }{
		{"", "192.0.2.97/24", "PLACEHOLDER"},
		{"router", "192.0.2.1/24", "from --vip router"},
		{"192.0.2.5", "192.0.2.5/24", "from --vip"},
		{"192.0.2.99/24", "192.0.2.99/24", "the source also uses this address"},
	} {
		cfg, rep := vipConfig(), &Report{}
		FinishNode(cfg, Defaults{VIP: tc.vip}, rep)
		if len(cfg.VRRP.Instances) != 1 || cfg.VRRP.Instances[0].VirtualIPs[0] != tc.want {
			t.Errorf("--vip %q: instances %+v, want vip %s", tc.vip, cfg.VRRP.Instances, tc.want)
			continue
		}
		var b bytes.Buffer
		_ = rep.WriteText(&b)
		if !strings.Contains(b.String(), tc.note) {
			t.Errorf("--vip %q: report lacks %q:\n%s", tc.vip, tc.note, b.String())
		}
	}
	cfg, rep := vipConfig(), &Report{}
	FinishNode(cfg, Defaults{VIP: "203.0.113.1"}, rep)
	if len(cfg.VRRP.Instances) != 0 || rep.Count(Unsupported) != 1 {
		t.Errorf("a --vip outside every subnet: %+v %+v", cfg.VRRP.Instances, rep.Items)
	}
}

// What check-config refuses is in the report, by key.
func TestCheckConfigReports(t *testing.T) {
	cfg, rep := vipConfig(), &Report{}
	FinishNode(cfg, Defaults{VIP: "192.0.2.150", StateDir: t.TempDir()}, rep)
	CheckConfig(cfg, rep)
	var found bool
	for _, it := range rep.Items {
		if it.Kind == Unsupported && it.Source == "vrrp.instances[0].virtual_ips[0]" && strings.Contains(it.Note, "check-config refuses") {
			found = true
		}
	}
	if !found || rep.Err() == nil {
		t.Errorf("report %+v lacks check-config's refusal of a VIP inside the pool", rep.Items)
	}
	cfg, rep = vipConfig(), &Report{}
	FinishNode(cfg, Defaults{StateDir: t.TempDir()}, rep)
	CheckConfig(cfg, rep)
	if err := rep.Err(); err != nil {
		t.Errorf("a valid config reported: %v", err)
	}
}

// --root: absolute paths are read under the copy, paths already under it
// (relative includes resolved against an included file) as they are.
func TestRooted(t *testing.T) {
	var got []string
	fs := rooted(FS{ReadFile: func(p string) ([]byte, error) { got = append(got, p); return nil, nil }}, "/srv/old/")
	for _, p := range []string{"/etc/dhcp/x.conf", "/srv/old/etc/dhcp/y.conf", "rel.conf"} {
		_, _ = fs.ReadFile(p)
	}
	if want := []string{"/srv/old/etc/dhcp/x.conf", "/srv/old/etc/dhcp/y.conf", "rel.conf"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("read %v, want %v", got, want)
	}
}

// Input.Partner goes to ParsePair with the partner's bytes, its includes
// read under Root; a kind without ParsePair refuses it.
func TestConvertPartner(t *testing.T) {
	files := map[string]string{"/b.conf": "ok b\n", "/a.conf": "ok a\n", "/r/etc/x.conf": "inc\n"}
	in := Input{Conf: "/b.conf", Partner: "/a.conf", Root: "/r", Defaults: Defaults{StateDir: t.TempDir()},
		FS: FS{ReadFile: func(p string) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			return nil, os.ErrNotExist
		}}}
	in.Format = fakeFormat()
	if _, err := Convert(in); err == nil || !strings.Contains(err.Error(), "fake: a partner's configuration file is not read for this kind") {
		t.Errorf("without ParsePair: %v", err)
	}
	var got []string
	in.Format.ParsePair = func(name string, data []byte, partner string, pdata []byte, fs FS) (*Result, error) {
		inc, err := fs.ReadFile("/etc/x.conf")
		got = append(got, name, string(data), partner, string(pdata), string(inc))
		if err != nil {
			return nil, err
		}
		return in.Format.ParseConfig(name, data, fs)
	}
	if _, err := Convert(in); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/b.conf", "ok b\n", "/a.conf", "ok a\n", "inc\n"}; !slices.Equal(got, want) {
		t.Errorf("ParsePair got %q, want %q", got, want)
	}
	in.Partner = "/nope.conf"
	if _, err := Convert(in); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "fake: partner:") {
		t.Errorf("missing partner file: %v", err)
	}
}
