package control

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
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/events"
	"golang.org/x/sys/unix"
)

// ErrNoFailover is the answer of a single server (no failover: section)
// to an operator command.
var ErrNoFailover = errors.New("this box is a single server (no failover: section): there is no partner to hand over to or to declare down")

// Operator runs the operator commands of a pair (or of a box's
// relationships). An error goes back to the caller with the result, which
// says what did happen.
type Operator interface {
	Maintenance(ctx context.Context, start bool) (OperatorResult, error)
	// PartnerDown declares the partner of one relationship down:
	// relationship is its name on a box in several (required there: the
	// wrong one would let two boxes give out one address), "" for a
	// single failover: section.
	PartnerDown(ctx context.Context, relationship string) (OperatorResult, error)
}

// Server answers control requests on the unix socket. Only root (or the
// agent's own user, which systemd runs it as) may talk to it: the socket
// is mode 0600 (Listen) and every connection's peer credentials
// (SO_PEERCRED) are checked, so a permissive umask or a copied socket does
// not open it up.
type Server struct {
	Log    *slog.Logger
	Status func() Status
	// Ops runs maintenance and partner-down; nil for a single server.
	Ops Operator
	// Allowed decides by the peer's uid; nil: root and our own uid.
	Allowed func(uid uint32) bool
	// Events is the event stream (`hadhcpd events`); nil: not offered.
	Events *events.Bus
}

// connDeadline bounds one connection, the operator's waits included.
const connDeadline = 10 * time.Second

// Listen creates the socket, replacing a stale one left by a crash.
func Listen(path string) (*net.UnixListener, error) {
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

// Serve accepts until ctx ends, then removes the socket.
func (s *Server) Serve(ctx context.Context, ln *net.UnixListener) error {
	allowed := s.Allowed
	if allowed == nil {
		self := uint32(os.Geteuid())
		allowed = func(uid uint32) bool { return uid == 0 || uid == self }
	}
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("control socket: %w", err)
		}
		go s.handle(c, allowed)
	}
}

func (s *Server) handle(c *net.UnixConn, allowed func(uint32) bool) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(connDeadline))
	enc := json.NewEncoder(c)
	uid, err := peerUID(c)
	if err != nil || !allowed(uid) {
		s.Log.Warn("control socket: refused", "uid", uid, "err", err)
		_ = enc.Encode(Response{Error: ErrNotAllowed.Error()})
		return
	}
	rd := bufio.NewReader(c)
	line, err := rd.ReadBytes('\n')
	if err != nil {
		return
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		_ = enc.Encode(Response{Error: "bad request: " + err.Error()})
		return
	}
	switch req.Cmd {
	case "status":
		st := s.Status()
		_ = enc.Encode(Response{OK: true, Status: &st})
	case "events":
		var er eventsRequest
		if err := json.Unmarshal(line, &er); err != nil {
			_ = enc.Encode(Response{Error: "bad request: " + err.Error()})
			return
		}
		s.serveEvents(c, rd, er.EventsQuery)
	case "maintenance", "partner-down":
		// Bounded by the operator's own waits, below the deadline above.
		resp := operate(context.Background(), s.Ops, req)
		// Every write is logged with who made it, as the API's are.
		lvl, op := slog.LevelInfo, strings.TrimSpace(req.Cmd+" "+req.Arg)
		if req.Relationship != "" {
			op += " relationship=" + req.Relationship
		}
		if !resp.OK {
			lvl = slog.LevelWarn
		}
		s.Log.Log(context.Background(), lvl, "control socket write", "op", op, "who", fmt.Sprintf("uid:%d", uid), "ok", resp.OK, "error", resp.Error)
		_ = enc.Encode(resp)
	default:
		_ = enc.Encode(Response{Error: fmt.Sprintf("unknown command %q", req.Cmd)})
	}
}

// operate runs one operator request; bad arguments never reach ops.
func operate(ctx context.Context, ops Operator, req Request) Response {
	if ops == nil {
		return Response{Error: fmt.Sprintf("%s: %v", req.Cmd, ErrNoFailover)}
	}
	var (
		r   OperatorResult
		err error
	)
	switch req.Cmd {
	case "maintenance":
		if req.Relationship != "" {
			return Response{Error: fmt.Sprintf("maintenance takes no relationship (got %q): it is the box's, every relationship at once", req.Relationship)}
		}
		switch req.Arg {
		case "start", "stop":
			r, err = ops.Maintenance(ctx, req.Arg == "start")
		default:
			return Response{Error: fmt.Sprintf("maintenance: argument %q, want start or stop", req.Arg)}
		}
	case "partner-down":
		if req.Arg != "" {
			return Response{Error: fmt.Sprintf("partner-down takes no argument (got %q)", req.Arg)}
		}
		r, err = ops.PartnerDown(ctx, req.Relationship)
	default:
		return Response{Error: fmt.Sprintf("unknown command %q", req.Cmd)}
	}
	if err != nil {
		name := req.Cmd
		if req.Arg != "" {
			name += " " + req.Arg
		}
		return Response{Error: fmt.Sprintf("%s: %v", name, err), Result: &r}
	}
	return Response{OK: true, Result: &r}
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
