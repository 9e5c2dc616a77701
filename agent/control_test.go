package agent

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/control"
)

func startControl(t *testing.T, s *controlServer) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "hadhcpd.sock")
	ln, err := listenControl(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("control server did not stop")
		}
	})
	return path
}

func sampleStatus() control.Status {
	return control.Status{
		Schema: control.StatusSchema, Node: "gw1", Version: "test", Started: time.Unix(1700000000, 0).UTC(),
		VRRP: []control.VRRPStatus{{Instance: "lan", Interface: "eth0", VRID: 51, State: "MASTER", Priority: 200, Master: "192.0.2.2"}},
		Failover: &control.FailoverStatus{Role: "primary", Mode: "hot-standby", State: "NORMAL", PartnerState: "NORMAL",
			PartnerName: "gw2", PartnerLastState: "NORMAL", LinkUp: true},
		Pools: []control.PoolStatus{{Pool: "192.0.2.0/24", Total: 101, Free: 40, Active: 61}},
	}
}

func TestControlStatus(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	path := startControl(t, newControlServer(log, sampleStatus))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("socket mode %o, want 600", perm)
	}
	st, err := control.QueryStatus(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := sampleStatus(); !reflect.DeepEqual(*st, want) {
		t.Errorf("status = %+v, want %+v", *st, want)
	}
}

func TestControlRefusesByCredentials(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := newControlServer(log, sampleStatus)
	s.allowed = func(uid uint32) bool { return false }
	path := startControl(t, s)
	if _, err := control.QueryStatus(path); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("control.QueryStatus by a refused uid: err = %v, want permission denied", err)
	}
}

// TestControlRefusesNonRoot runs a real client as user nobody: the 0600
// socket refuses the connect, and with the mode opened up on purpose the
// SO_PEERCRED check still refuses it.
func TestControlRefusesNonRoot(t *testing.T) {
	if os.Getenv("HADHCPD_TEST_CONTROL_CLIENT") != "" {
		_, err := control.QueryStatus(os.Getenv("HADHCPD_TEST_CONTROL_CLIENT"))
		if err != nil {
			os.Stdout.WriteString("REFUSED: " + err.Error() + "\n")
			os.Exit(0)
		}
		os.Stdout.WriteString("ALLOWED\n")
		os.Exit(0)
	}
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to run a client as another user")
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	path := startControl(t, newControlServer(log, sampleStatus))
	// nobody must be able to reach the socket's directory to be refused by
	// the socket itself rather than by the directory.
	for d := filepath.Dir(path); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	// The test binary sits in go's private build directory: give nobody a
	// copy it can execute.
	bindir, err := os.MkdirTemp("", "hadhcpd-ctl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(bindir)
	bin := filepath.Join(bindir, "agent.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(bindir, 0o755)
	run := func() string {
		cmd := exec.Command(bin, "-test.run=^TestControlRefusesNonRoot$")
		cmd.Env = append(os.Environ(), "HADHCPD_TEST_CONTROL_CLIENT="+path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("client as nobody: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := run(); !strings.Contains(out, "REFUSED") || !strings.Contains(out, "permission denied") {
		t.Fatalf("nobody through a 0600 socket: %q, want refused", out)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if out := run(); !strings.Contains(out, "REFUSED") || !strings.Contains(out, "root only") {
		t.Fatalf("nobody through an opened-up socket: %q, want refused by credentials", out)
	}
}
