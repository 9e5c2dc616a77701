package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// QueryStatus asks a running agent for its status over its control socket.
func QueryStatus(path string) (*Status, error) {
	resp, err := call(path, Request{Cmd: "status"}, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if !resp.OK || resp.Status == nil {
		return nil, errors.New(resp.Error)
	}
	return resp.Status, nil
}

// Maintenance asks a running agent to start (true) or stop maintenance.
// On error the result, when not nil, says what did happen.
func Maintenance(path string, start bool) (*OperatorResult, error) {
	arg := "stop"
	if start {
		arg = "start"
	}
	return Operate(path, Request{Cmd: "maintenance", Arg: arg})
}

// PartnerDown asks a running agent to declare the partner of the
// relationship named down ("": its only partner).
func PartnerDown(path, relationship string) (*OperatorResult, error) {
	return Operate(path, Request{Cmd: "partner-down", Relationship: relationship})
}

// Operate sends one operator request; a response with ok false
// carries the error and, for a refusal, the result.
func Operate(path string, req Request) (*OperatorResult, error) {
	// The server's own deadline is 10 s and its waits are shorter.
	resp, err := call(path, req, 15*time.Second)
	if err != nil {
		return nil, err
	}
	if !resp.OK {
		if resp.Error == "" {
			resp.Error = "the agent answered without a reason"
		}
		return resp.Result, errors.New(resp.Error)
	}
	if resp.Result == nil {
		return nil, fmt.Errorf("the agent answered %s without a result (an older hadhcpd?)", req.Cmd)
	}
	return resp.Result, nil
}

// call sends one request and decodes the response.
func call(path string, req Request, deadline time.Duration) (*Response, error) {
	c, err := net.DialTimeout("unix", path, 3*time.Second)
	if err != nil {
		return nil, fmt.Errorf("connect to hadhcpd at %s (is it running? node.control_socket): %w", path, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(deadline))
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	// A refused client gets its answer before the server reads anything, so
	// a failed write still leaves a response to read.
	_, werr := c.Write(append(b, '\n'))
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return nil, fmt.Errorf("read the answer of %s from %s: %w", req.Cmd, path, errors.Join(werr, err))
	}
	return &resp, nil
}
