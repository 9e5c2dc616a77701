// Package lab is the hadhcpd side of the root lab tests, shared by the
// end-to-end tests (e2e/) and the benchmarks (bench/): the binary built
// once, a box running it in a network namespace (config written and
// checked, started, signalled, asked with `hadhcpd status|leases --json`),
// and the small things every such test does (write a file or a PSK, wait
// for a condition or a log line, look for an address on a box, lose a
// box). Namespaces, links and processes themselves are internal/testnet's.
package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// Bin is the hadhcpd under test, built once per test process (or the file
// $HADHCPD_BIN names). A test package that uses it removes it in TestMain:
//
//	func TestMain(m *testing.M) { code := m.Run(); lab.Bin.Remove(); os.Exit(code) }
var Bin = testnet.Binary{Pkg: "github.com/hadhcpd/hadhcpd/cmd/hadhcpd", Env: "HADHCPD_BIN"}

// CmdTimeout bounds each hadhcpd command a test runs against a box
// (check-config, leases, maintenance…): a command that hangs fails the test
// instead of hanging it.
const CmdTimeout = 30 * time.Second

// StatusTimeout bounds one `hadhcpd status` (tens of ms normally) and one
// `ip addr show`; polling loops retry after it.
const StatusTimeout = 5 * time.Second

// WriteFile writes s to path (mode 0600) or fails the test.
func WriteFile(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// WritePSK writes a fresh random 48-byte key (failover.auth.psk_file).
func WritePSK(t testing.TB, file string) {
	t.Helper()
	psk := make([]byte, 48)
	if _, err := rand.Read(psk); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, psk, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Tail is the last n lines of s (n ≤ 0: all of it).
func Tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if n > 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitFor polls cond every 100 ms until it holds, failing the test with
// what and cond's last explanation when d passes first.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for time.Now().Before(deadline) {
		ok, s := cond()
		if ok {
			return
		}
		last = s
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v: %s", what, d, last)
}

// WaitOutput waits, bounded by d, for re in a process's output and
// returns the match; it fails the test when d passes or the process exits
// first. name says whose output it is.
func WaitOutput(t testing.TB, name string, out *testnet.Buffer, proc *testnet.Proc, re string, d time.Duration) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if m := rx.FindString(out.String()); m != "" {
			return m
		}
		if proc.Exited() {
			t.Fatalf("%s exited while waiting for %q", name, re)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: no %q in its output within %s", name, re, d)
	return ""
}

// HasAddr reports whether h has the IPv4 address addr (no prefix length)
// on dev, asking `ip -n NS addr show` (bounded by StatusTimeout).
func HasAddr(h *testnet.Host, dev, addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), StatusTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "-n", h.Name, "-4", "-o", "addr", "show", "dev", dev).Output()
	return err == nil && strings.Contains(string(out), " "+addr+"/")
}

// IfMAC is the hardware address of h's interface name.
func IfMAC(t testing.TB, h *testnet.Host, name string) string {
	t.Helper()
	var mac string
	if err := h.Do(func() error {
		ifi, err := net.InterfaceByName(name)
		if err == nil {
			mac = ifi.HardwareAddr.String()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// KillBox is a box loss: h's links ifaces go down first so nothing leaves
// (no FIN, no priority-0 advert), then every process in h's namespace gets
// SIGKILL (PEERS.md "kill -9 is not a box failure": the other order lets
// the FIN out).
func KillBox(t testing.TB, h *testnet.Host, ifaces ...string) {
	t.Helper()
	for _, ifn := range ifaces {
		h.MustIP("link", "set", ifn, "down")
	}
	out, err := exec.Command("ip", "netns", "pids", h.Name).Output()
	if err != nil {
		t.Fatalf("ip netns pids %s: %v", h.Name, err)
	}
	for _, f := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Box is one hadhcpd in a namespace: its config file, its process (across
// restarts) and one log for all its runs.
type Box struct {
	T    testing.TB
	Name string
	Host *testnet.Host
	Dir  string   // its directory: config, state, control socket (short path: unix sockets)
	Cfg  string   // Dir/hadhcpd.yaml
	Args []string // extra `hadhcpd run` flags
	Proc *testnet.Proc
	Log  *testnet.Buffer
}

// NewBox makes the box name on host h in directory dir (created) with the
// config cfg, written to dir/hadhcpd.yaml and checked with `hadhcpd
// check-config`. The box is not started.
func NewBox(t testing.TB, h *testnet.Host, name, dir, cfg string) *Box {
	t.Helper()
	b := &Box{T: t, Name: name, Host: h, Dir: dir, Cfg: filepath.Join(dir, "hadhcpd.yaml"), Log: &testnet.Buffer{}}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	WriteFile(t, b.Cfg, cfg)
	if out, err := b.Run("check-config"); err != nil {
		t.Fatalf("check-config %s: %v\n%s", name, err, out)
	}
	return b
}

// Start (re)starts the box's hadhcpd with its extra flags, appending to
// its one log after a line "--- start TIME … ---", which it returns (a
// marker to find this run's lines by).
func (b *Box) Start() string {
	b.T.Helper()
	marker := fmt.Sprintf("--- start %s ---", time.Now().Format(time.RFC3339Nano))
	if len(b.Args) > 0 {
		marker = fmt.Sprintf("--- start %s, run %s ---", time.Now().Format(time.RFC3339Nano), strings.Join(b.Args, " "))
	}
	_, _ = fmt.Fprintln(b.Log, marker)
	b.Proc = b.Host.Start(b.Log, Bin.Path(b.T), append([]string{"run", "-c", b.Cfg}, b.Args...)...)
	return marker
}

// Kill sends sig to the box's hadhcpd and waits, bounded by d, for it to
// exit.
func (b *Box) Kill(sig syscall.Signal, d time.Duration) {
	b.T.Helper()
	if err := b.Proc.Signal(sig); err != nil {
		b.T.Fatalf("%s: signal %v: %v", b.Name, sig, err)
	}
	if exited, _ := b.Proc.Wait(d); !exited {
		b.T.Fatalf("%s did not exit within %v of %v", b.Name, d, sig)
	}
}

// Stop ends the box with SIGTERM (bounded), failing t but going on when
// it does not exit: for the end of a test.
func (b *Box) Stop(t testing.TB) {
	t.Helper()
	_ = b.Proc.Signal(syscall.SIGTERM)
	if exited, _ := b.Proc.Wait(10 * time.Second); !exited {
		t.Errorf("%s did not stop within 10s of SIGTERM", b.Name)
	}
}

// WaitLog waits for re in the box's log and returns the match.
func (b *Box) WaitLog(re string, d time.Duration) string {
	b.T.Helper()
	return WaitOutput(b.T, b.Name+": hadhcpd", b.Log, b.Proc, re, d)
}

// Command is `hadhcpd ARGS -c CFG` for the box.
func (b *Box) Command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, Bin.Path(b.T), append(args, "-c", b.Cfg)...)
}

// Run runs `hadhcpd ARGS -c CFG` against the box, bounded by CmdTimeout,
// and returns what it printed (stdout and stderr).
func (b *Box) Run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), CmdTimeout)
	defer cancel()
	out, err := b.Command(ctx, args...).CombinedOutput()
	return string(out), err
}

// Output runs `hadhcpd ARGS -c CFG`, bounded by d, and returns its
// standard output; the error names the box and the command and carries
// stderr.
func (b *Box) Output(d time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := b.Command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: hadhcpd %s: %w\n%s", b.Name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out, nil
}

// JSON runs `hadhcpd ARGS -c CFG`, bounded by d, and decodes its standard
// output into v (Output's errors, or the decoding's with the output).
func (b *Box) JSON(d time.Duration, v any, args ...string) error {
	out, err := b.Output(d, args...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("%s: hadhcpd %s: %w\n%s", b.Name, strings.Join(args, " "), err, out)
	}
	return nil
}

// TryStatus is `hadhcpd status --json` (bounded by StatusTimeout) without
// failing the test: a box starting up has no control socket yet.
func (b *Box) TryStatus() (control.Status, error) {
	var st control.Status
	err := b.JSON(StatusTimeout, &st, "status", "--json")
	return st, err
}

// Status asks the running box with `hadhcpd status --json` and checks the
// schema version.
func (b *Box) Status() control.Status {
	b.T.Helper()
	st, err := b.TryStatus()
	if err != nil {
		b.T.Fatal(err)
	}
	if st.Schema != control.StatusSchema {
		b.T.Fatalf("%s: status schema %d, want %d", b.Name, st.Schema, control.StatusSchema)
	}
	return st
}

// Leases reads the box's database with `hadhcpd leases --json ARGS` (a
// copy, read-only, while the daemon runs) into v.
func (b *Box) Leases(v any, args ...string) error {
	return b.JSON(CmdTimeout, v, append([]string{"leases", "--json"}, args...)...)
}
