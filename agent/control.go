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

	"golang.org/x/sys/unix"
)

// The control API: newline-delimited JSON over the unix socket
// node.control_socket. One request, one response, then the server closes:
//
//	→ {"cmd":"status"}
//	← {"ok":true,"status":{…}}        or {"ok":false,"error":"…"}
//	→ {"cmd":"maintenance","arg":"start"|"stop"}  or {"cmd":"partner-down"}
//	← {"ok":true,"result":{…}}        or {"ok":false,"error":"…","result":{…}}
//
// Only root (or the agent's own user, which systemd runs it as) may talk to
// it: the socket is mode 0600 and every connection's peer credentials
// (SO_PEERCRED) are checked, so a permissive umask or a copied socket does
// not open it up.

// StatusSchema is the version of the `status --json` layout. Scripts can
// rely on every field documented in Status while it stays the same; a field
// is only ever added, and removing or changing one bumps it.
const StatusSchema = 1

// Status is what `hadhcpd status` shows.
type Status struct {
	Schema   int             `json:"schema"`
	Node     string          `json:"node"`
	Version  string          `json:"version"`
	Started  time.Time       `json:"started"`
	VRRP     []VRRPStatus    `json:"vrrp"`
	Failover *FailoverStatus `json:"failover"` // null for a single server
	Pools    []PoolStatus    `json:"pools"`
}

// VRRPStatus is one instance.
type VRRPStatus struct {
	Instance  string    `json:"instance"`
	Interface string    `json:"interface"`
	VRID      int       `json:"vrid"`
	State     string    `json:"state"` // INIT | BACKUP | MASTER | FAULT
	Priority  int       `json:"priority"`
	Master    string    `json:"master"` // address of the master last heard
	Since     time.Time `json:"since"`
}

// FailoverStatus is this box's and its partner's failover view.
type FailoverStatus struct {
	Role  string `json:"role"`
	Mode  string `json:"mode"`
	State string `json:"state"`
	// PartnerState is the partner's failover state while the link is up,
	// UNKNOWN while it is down: in COMMUNICATIONS-INTERRUPTED the partner
	// may have moved on (PartnerLastState is what it said last).
	PartnerState string `json:"partner_state"`
	// PartnerName is the partner's node.name from the last handshake
	// ("" before the link was ever up).
	PartnerName string `json:"partner_name"`
	// PartnerLastState is the last failover state the partner announced
	// (UNKNOWN if the link never came up); PartnerLastSeen is when the
	// link went down, zero while it is up (the partner is heard now).
	PartnerLastState string    `json:"partner_last_state"`
	PartnerLastSeen  time.Time `json:"partner_last_seen"`
	LinkUp           bool      `json:"link_up"`
	UnackedUpdates   int       `json:"unacked_updates"` // replication lag in records
	SkewSeconds      float64   `json:"skew_seconds"`    // partner clock − ours, measured; never trusted
	ConfigHash       string    `json:"config_hash"`     // SHA-256 (hex) of the dhcp: section in force, interfaces excluded
}

// PoolStatus counts one pool's addresses by binding state.
type PoolStatus struct {
	Pool      string `json:"pool"`
	Total     int    `json:"total"`
	Free      int    `json:"free"`
	Backup    int    `json:"backup"`
	Active    int    `json:"active"`
	Expired   int    `json:"expired"`
	Released  int    `json:"released"`
	Abandoned int    `json:"abandoned"`
}

type controlRequest struct {
	Cmd string `json:"cmd"`
	Arg string `json:"arg,omitempty"` // maintenance: start | stop
}

type controlResponse struct {
	OK     bool            `json:"ok"`
	Error  string          `json:"error,omitempty"`
	Status *Status         `json:"status,omitempty"`
	Result *OperatorResult `json:"result,omitempty"` // maintenance, partner-down (agent/operator.go)
}

// ErrNotAllowed is returned to a client whose uid may not use the socket.
var ErrNotAllowed = errors.New("control socket: permission denied (root only)")

// controlServer answers control requests.
type controlServer struct {
	log    *slog.Logger
	status func() Status
	// allowed decides by the peer's uid; root and our own uid by default.
	allowed func(uid uint32) bool
	// ops runs maintenance and partner-down; nil for a single server.
	ops operator
}

func newControlServer(log *slog.Logger, status func() Status) *controlServer {
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
		_ = enc.Encode(controlResponse{Error: ErrNotAllowed.Error()})
		return
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return
	}
	var req controlRequest
	if err := json.Unmarshal(line, &req); err != nil {
		_ = enc.Encode(controlResponse{Error: "bad request: " + err.Error()})
		return
	}
	switch req.Cmd {
	case "status":
		st := s.status()
		_ = enc.Encode(controlResponse{OK: true, Status: &st})
	case "maintenance", "partner-down":
		// Bounded by the operator's own waits, below the deadline above.
		_ = enc.Encode(operatorCommand(context.Background(), s.ops, req))
	default:
		_ = enc.Encode(controlResponse{Error: fmt.Sprintf("unknown command %q", req.Cmd)})
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

// QueryStatus asks a running agent for its status over its control socket.
func QueryStatus(path string) (*Status, error) {
	c, err := net.DialTimeout("unix", path, 3*time.Second)
	if err != nil {
		return nil, fmt.Errorf("connect to hadhcpd at %s (is it running? node.control_socket): %w", path, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	// A refused client gets its answer before the server reads anything, so
	// a failed write still leaves a response to read.
	_, werr := c.Write([]byte(`{"cmd":"status"}` + "\n"))
	var resp controlResponse
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return nil, fmt.Errorf("read status from %s: %w", path, errors.Join(werr, err))
	}
	if !resp.OK || resp.Status == nil {
		return nil, errors.New(resp.Error)
	}
	return resp.Status, nil
}
