package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hadhcpd/hadhcpd/control"
	"golang.org/x/sys/unix"
)

// The control socket's server: the protocol (newline-delimited JSON, one
// request and one response per connection) and its client are in package
// control. Only root (or the agent's own user, which systemd runs it as)
// may talk to it: the socket is mode 0600 and every connection's peer
// credentials (SO_PEERCRED) are checked, so a permissive umask or a copied
// socket does not open it up.

// controlServer answers control requests.
type controlServer struct {
	log    *slog.Logger
	status func() control.Status
	// allowed decides by the peer's uid; root and our own uid by default.
	allowed func(uid uint32) bool
	// ops runs maintenance and partner-down; nil for a single server.
	ops operator
}

func newControlServer(log *slog.Logger, status func() control.Status) *controlServer {
	self := uint32(os.Geteuid())
	return &controlServer{log: log, status: status, allowed: func(uid uint32) bool { return uid == 0 || uid == self }}
}

// listenControl creates the socket, replacing a stale one left by a crash.
func listenControl(path string) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("node.control_socket: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("node.control_socket: remove stale %s: %w", path, err)
	}
	old := unix.Umask(0o177) // the socket is created 0600, never briefly open
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("node.control_socket: %w", err)
	}
	return ln, nil
}

// serve accepts until ctx ends, then removes the socket.
func (s *controlServer) serve(ctx context.Context, ln *net.UnixListener) error {
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("control socket: %w", err)
		}
		go s.handle(c)
	}
}

func (s *controlServer) handle(c *net.UnixConn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	enc := json.NewEncoder(c)
	uid, err := peerUID(c)
	if err != nil || !s.allowed(uid) {
		s.log.Warn("control socket: refused", "uid", uid, "err", err)
		_ = enc.Encode(control.Response{Error: control.ErrNotAllowed.Error()})
		return
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return
	}
	var req control.Request
	if err := json.Unmarshal(line, &req); err != nil {
		_ = enc.Encode(control.Response{Error: "bad request: " + err.Error()})
		return
	}
	switch req.Cmd {
	case "status":
		st := s.status()
		_ = enc.Encode(control.Response{OK: true, Status: &st})
	case "maintenance", "partner-down":
		// Bounded by the operator's own waits, below the deadline above.
		_ = enc.Encode(operatorCommand(context.Background(), s.ops, req))
	default:
		_ = enc.Encode(control.Response{Error: fmt.Sprintf("unknown command %q", req.Cmd)})
	}
}

func peerUID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	return cred.Uid, nil
}
