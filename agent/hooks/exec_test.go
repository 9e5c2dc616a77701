package hooks

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// script writes an executable /bin/sh script into dir.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCommandNoShell: arguments reach the script as they are, one word
// each; nothing is expanded or interpreted by a shell on the way. The
// environment is the agent's without systemd's notify socket.
func TestCommandNoShell(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "argv")
	p := script(t, dir, "args.sh", `for a in "$@"; do printf '[%s]\n' "$a"; done > "$OUT"; echo "${NOTIFY_SOCKET-unset}" >> "$OUT"`+"\n")
	t.Setenv("OUT", out)
	t.Setenv("NOTIFY_SOCKET", "@agent")
	if _, err := Command(context.Background(), []string{p, "two words", "$HOME", "; touch " + filepath.Join(dir, "pwned"), "*"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// The agent's environment, less systemd's notify socket.
	if want := "[two words]\n[$HOME]\n[; touch " + filepath.Join(dir, "pwned") + "]\n[*]\nunset\n"; string(b) != want {
		t.Errorf("argv\n%s\nwant\n%s", b, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("an argument was run by a shell")
	}
}

// TestCommandErrors: a missing or non-executable file never starts; a
// non-zero exit is an exit error; the output's tail comes back for the
// log.
func TestCommandErrors(t *testing.T) {
	dir := t.TempDir()
	var se *StartError
	if _, err := Command(context.Background(), []string{filepath.Join(dir, "missing.sh")}); !errors.As(err, &se) {
		t.Errorf("missing file: %v, want a StartError", err)
	}
	noexec := filepath.Join(dir, "noexec.sh")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Command(context.Background(), []string{noexec}); !errors.As(err, &se) {
		t.Errorf("not executable: %v, want a StartError", err)
	}
	p := script(t, dir, "fail.sh", "echo starting\nyes line | head -n 500\necho 'no VIP here' >&2\nexit 3\n")
	tail, err := Command(context.Background(), []string{p})
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("exit 3: %v", err)
	}
	if len(tail) != outputTail || !strings.HasSuffix(string(tail), "line\nno VIP here\n") {
		t.Errorf("output tail %d bytes: %q", len(tail), tail[max(len(tail)-40, 0):])
	}
}

// alive reports whether pid is still a process (not a zombie: the
// group's orphans are reaped by init, which may lag).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func readPid(t *testing.T, p string) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile(p)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return pid
		}
	}
	t.Fatalf("no pid in %s", p)
	return 0
}

// TestCommandCancel: canceling ends the script and what it started in
// its process group, SIGKILL for one that ignores SIGTERM.
func TestCommandCancel(t *testing.T) {
	dir := t.TempDir()
	pidf := filepath.Join(dir, "child")
	p := script(t, dir, "hang.sh", "trap '' TERM\nsleep 60 &\necho $! > "+pidf+"\nwait\n")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := Command(ctx, []string{p}); done <- err }()
	child := readPid(t, pidf)
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a killed script reported success")
		}
	case <-time.After(killGrace + 5*time.Second):
		t.Fatal("the script outlived its cancel")
	}
	if took := time.Since(start); took > killGrace+2*time.Second {
		t.Errorf("took %s to end", took)
	}
	for deadline := time.Now().Add(5 * time.Second); alive(child); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the script's child %d survived", child)
		}
	}
}

// TestCommandDaemon: a script that leaves a process behind holding its
// output returns when the script itself exits.
func TestCommandDaemon(t *testing.T) {
	dir := t.TempDir()
	pidf := filepath.Join(dir, "daemon")
	p := script(t, dir, "daemon.sh", "sleep 60 &\necho $! > "+pidf+"\necho started\n")
	start := time.Now()
	out, err := Command(context.Background(), []string{p})
	if err != nil {
		t.Fatal(err)
	}
	child := readPid(t, pidf)
	_ = syscall.Kill(child, syscall.SIGKILL)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("waited %s for the script's daemon", took)
	}
	if string(out) != "started\n" {
		t.Errorf("output %q", out)
	}
}
