package hooks

import (
	"context"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// outputTail is how much of a script's output the log keeps: its last
// lines are where a failing script says why.
const outputTail = 1024

// killGrace is how long a script has to end after SIGTERM (keepalived's
// convention: scripts must end on SIGTERM) before SIGKILL.
const killGrace = 2 * time.Second

// Command is the real Exec: argv[0] is executed directly, without a
// shell and without a PATH search (config refuses a relative path), with
// the agent's environment (scriptEnv) and /dev/null as input, in a process group of
// its own so that on a timeout the script and everything it started are
// signalled. Output goes to an anonymous memory file rather than a pipe:
// a script that leaves a daemon behind holding its stdout must not keep
// the runner waiting.
func Command(ctx context.Context, argv []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	cmd.WaitDelay = killGrace
	cmd.Env = scriptEnv(os.Environ())
	out := outputFile()
	if out != nil {
		defer out.Close()
		cmd.Stdout, cmd.Stderr = out, out
	}
	if err := cmd.Start(); err != nil {
		return nil, &StartError{Err: err}
	}
	err := cmd.Wait()
	if ctx.Err() != nil {
		// Whatever the script started and left in its group goes too.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if err == nil {
			err = ctx.Err()
		}
	}
	var tail []byte
	if out != nil {
		tail = readTail(out)
	}
	return tail, err
}

// outputFile is a memfd for the script's stdout and stderr; nil (output
// discarded) if the kernel has none.
func outputFile() *os.File {
	fd, err := unix.MemfdCreate("hadhcpd-notify", unix.MFD_CLOEXEC)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), "hadhcpd-notify")
}

func readTail(f *os.File) []byte {
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil || end == 0 {
		return nil
	}
	off := max(end-outputTail, 0)
	b := make([]byte, end-off)
	n, _ := f.ReadAt(b, off)
	return b[:n]
}

// scriptEnv is the agent's environment without systemd's notify and
// watchdog variables: they address the agent, and a script that speaks
// sd_notify (systemd-notify, a daemon it restarts) must not act as it.
func scriptEnv(env []string) []string {
	return slices.DeleteFunc(env, func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == "NOTIFY_SOCKET" || k == "WATCHDOG_PID" || k == "WATCHDOG_USEC"
	})
}
