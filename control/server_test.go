package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// errRefused stands for the agent's refusal error.
var errRefused = errors.New("refused")

func startControl(t *testing.T, s *Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "hadhcpd.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
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

func TestControlStatus(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	path := startControl(t, &Server{Log: log, Status: sampleStatus})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("socket mode %o, want 600", perm)
	}
	st, err := QueryStatus(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := sampleStatus(); !reflect.DeepEqual(*st, want) {
		t.Errorf("status = %+v, want %+v", *st, want)
	}
}

func TestControlRefusesByCredentials(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &Server{Log: log, Status: sampleStatus}
	s.Allowed = func(uid uint32) bool { return false }
	path := startControl(t, s)
	if _, err := QueryStatus(path); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("QueryStatus by a refused uid: err = %v, want permission denied", err)
	}
}

// TestControlRefusesNonRoot runs a real client as user nobody: the 0600
// socket refuses the connect, and with the mode opened up on purpose the
// SO_PEERCRED check still refuses it.
func TestControlRefusesNonRoot(t *testing.T) {
	if os.Getenv("HADHCPD_TEST_CONTROL_CLIENT") != "" {
		_, err := QueryStatus(os.Getenv("HADHCPD_TEST_CONTROL_CLIENT"))
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
	path := startControl(t, &Server{Log: log, Status: sampleStatus})
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
	bin := filepath.Join(bindir, "control.test")
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

// fakeOperator records the commands the control socket passes on.
type fakeOperator struct {
	calls []string
	err   error
}

func (f *fakeOperator) Maintenance(_ context.Context, start bool) (OperatorResult, error) {
	cmd := "maintenance stop"
	if start {
		cmd = "maintenance start"
	}
	f.calls = append(f.calls, cmd)
	return OperatorResult{Command: cmd, Applied: f.err == nil, State: "NORMAL", Maintenance: start, Message: "done"}, f.err
}

func (f *fakeOperator) PartnerDown(_ context.Context, rel string) (OperatorResult, error) {
	if rel != "" {
		f.calls = append(f.calls, "partner-down "+rel)
	} else {
		f.calls = append(f.calls, "partner-down")
	}
	if f.err != nil {
		return OperatorResult{Command: "partner-down", Refused: "the sync link to the partner is up", State: "NORMAL"}, f.err
	}
	return OperatorResult{Command: "partner-down", Applied: true, State: "PARTNER-DOWN"}, nil
}

func TestControlOperatorCommands(t *testing.T) {
	var logBuf syncBuffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	fake := &fakeOperator{}
	s := &Server{Log: log, Status: sampleStatus}
	s.Ops = fake
	path := startControl(t, s)

	r, err := Maintenance(path, true)
	if err != nil || r == nil || !r.Applied || !r.Maintenance || r.Message != "done" {
		t.Fatalf("maintenance start: %+v, %v", r, err)
	}
	if r, err = Maintenance(path, false); err != nil || r.Maintenance {
		t.Fatalf("maintenance stop: %+v, %v", r, err)
	}
	if r, err = PartnerDown(path, ""); err != nil || r.State != "PARTNER-DOWN" {
		t.Fatalf("partner-down: %+v, %v", r, err)
	}
	// The relationship named reaches the operator.
	if r, err = PartnerDown(path, "seg2"); err != nil || r.State != "PARTNER-DOWN" {
		t.Fatalf("partner-down seg2: %+v, %v", r, err)
	}
	want := []string{"maintenance start", "maintenance stop", "partner-down", "partner-down seg2"}
	if strings.Join(fake.calls, ",") != strings.Join(want, ",") {
		t.Errorf("calls %v, want %v", fake.calls, want)
	}

	// A refusal comes back as an error with the machine's reason, and
	// with the result.
	fake.err = fmt.Errorf("%w: the sync link to the partner is up", errRefused)
	r, err = PartnerDown(path, "")
	if err == nil || !strings.Contains(err.Error(), "partner-down: refused: the sync link to the partner is up") {
		t.Fatalf("refused partner-down: err %v", err)
	}
	if r == nil || r.Applied || r.Refused != "the sync link to the partner is up" {
		t.Errorf("refused partner-down: result %+v", r)
	}

	// Bad arguments never reach the operator.
	n := len(fake.calls)
	for _, req := range []Request{{Cmd: "maintenance"}, {Cmd: "maintenance", Arg: "on"}, {Cmd: "partner-down", Arg: "now"}, {Cmd: "maintenance", Arg: "start", Relationship: "seg1"}} {
		if _, err := Operate(path, req); err == nil {
			t.Errorf("%+v accepted", req)
		}
	}
	if len(fake.calls) != n {
		t.Errorf("bad requests reached the operator: %v", fake.calls[n:])
	}
	// Every write is logged with the caller's uid (its peer credentials).
	who := fmt.Sprintf("who=uid:%d", os.Geteuid())
	for _, op := range []string{`op="maintenance start"`, `op=partner-down`, `op="partner-down relationship=seg2"`} {
		if l := logBuf.String(); !strings.Contains(l, `msg="control socket write" `+op+" "+who) {
			t.Errorf("no log line of %s %s:\n%s", op, who, l)
		}
	}
}

// syncBuffer is a log destination the server's goroutines write to while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A single server (no failover: section) answers with a clear error.
func TestControlOperatorSingleServer(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &Server{Log: log, Status: sampleStatus}
	s.Ops = nil
	path := startControl(t, s)
	for _, call := range []func() (*OperatorResult, error){
		func() (*OperatorResult, error) { return Maintenance(path, true) },
		func() (*OperatorResult, error) { return PartnerDown(path, "") },
	} {
		if _, err := call(); err == nil || !strings.Contains(err.Error(), "single server") {
			t.Errorf("single server: err %v, want the single-server error", err)
		}
	}
}
