package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hadhcpd/hadhcpd/events"
)

// The event stream, served two ways from one implementation (stream):
// server-sent events on GET /v1/events, and JSON lines on the control
// socket ({"cmd":"events"}: `hadhcpd events`). A reader that cannot keep
// up is dropped by the bus (events.ErrDropped); one whose connection
// stops taking bytes is dropped after eventWriteTimeout, so a stalled
// client holds neither the publisher nor a goroutine for long.

// eventWriteTimeout bounds one write of the stream to a client.
const eventWriteTimeout = 10 * time.Second

// eventKeepalive is how often an idle stream sends something, so proxies
// and the reader see the connection is alive (an SSE comment; an empty
// line on the socket).
const eventKeepalive = 15 * time.Second

// maxRecent bounds how many past events a reader may ask for.
const maxRecent = 1000

// EventsQuery is what a reader asks for: past events first (the last
// Recent the ring holds, or those after Since), then, with Follow, every
// new one until it goes away.
type EventsQuery struct {
	Since  uint64 `json:"since,omitempty"`
	Recent int    `json:"recent,omitempty"`
	Follow bool   `json:"follow,omitempty"`
}

// eventSink writes one event or a keepalive; flush pushes what was
// written to the client.
type eventSink interface {
	event(ev *events.Event) error
	keepalive() error
}

// stream serves q from bus to sink until ctx ends, the reader is
// dropped, or (without Follow) the past events were written. Without
// Since or Recent a follower starts with the next event.
func stream(ctx context.Context, bus *events.Bus, q EventsQuery, sink eventSink) error {
	recent := min(q.Recent, maxRecent)
	if !q.Follow {
		var past []events.Event
		if q.Since > 0 {
			past = bus.After(q.Since)
		} else {
			past = bus.Recent(recent)
		}
		for i := range past {
			if err := sink.event(&past[i]); err != nil {
				return err
			}
		}
		return nil
	}
	var sub *events.Sub
	switch {
	case q.Since > 0:
		sub = bus.Subscribe(q.Since)
	case recent > 0:
		sub = bus.SubscribeRecent(recent)
	default:
		sub = bus.Subscribe(0)
	}
	defer sub.Close()
	buf := make([]events.Event, 64)
	for {
		wctx, cancel := context.WithTimeout(ctx, eventKeepalive)
		evs, err := sub.Next(wctx, buf)
		cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			if err := sink.keepalive(); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		for i := range evs {
			if err := sink.event(&evs[i]); err != nil {
				return err
			}
		}
	}
}

// sseSink writes server-sent events (the WHATWG HTML "Server-sent events"
// format): id is the event's Seq (a reconnecting EventSource sends it back
// as Last-Event-ID), event its type, data its JSON.
type sseSink struct {
	w  io.Writer
	rc *http.ResponseController
	b  []byte
}

func (s *sseSink) deadline() { _ = s.rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout)) }

func (s *sseSink) event(ev *events.Event) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	s.b = append(s.b[:0], "id: "...)
	s.b = strconv.AppendUint(s.b, ev.Seq, 10)
	s.b = append(s.b, "\nevent: "...)
	s.b = append(s.b, ev.Type.String()...)
	s.b = append(s.b, "\ndata: "...)
	s.b = append(s.b, data...)
	s.b = append(s.b, "\n\n"...)
	s.deadline()
	if _, err := s.w.Write(s.b); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *sseSink) keepalive() error {
	s.deadline()
	if _, err := io.WriteString(s.w, ": keepalive\n\n"); err != nil {
		return err
	}
	return s.rc.Flush()
}

// events serves GET /v1/events: server-sent events. Query: recent=N (the
// last N events first), since=SEQ (or the Last-Event-ID header: resume
// after it while the ring holds it), follow=false (the past events only,
// then the answer ends).
func (a *API) events(w http.ResponseWriter, r *http.Request) {
	if a.Events == nil {
		writeError(w, http.StatusNotFound, "the event stream is not offered by this agent")
		return
	}
	q := EventsQuery{Follow: true}
	v := r.URL.Query()
	var err error
	if s := v.Get("since"); s != "" {
		if q.Since, err = strconv.ParseUint(s, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("since %q: want an event's seq", s))
			return
		}
	} else if s := r.Header.Get("Last-Event-ID"); s != "" {
		q.Since, _ = strconv.ParseUint(s, 10, 64)
	}
	if s := v.Get("recent"); s != "" {
		if q.Recent, err = strconv.Atoi(s); err != nil || q.Recent < 0 || q.Recent > maxRecent {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("recent %q: want 0–%d", s, maxRecent))
			return
		}
	}
	if s := v.Get("follow"); s != "" {
		if q.Follow, err = strconv.ParseBool(s); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("follow %q: want true or false", s))
			return
		}
	}
	rc := http.NewResponseController(w)
	// The server's read timeout would end a long stream (its background
	// read of the idle connection fails and cancels the request).
	_ = rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // a proxy in front must not hold events back
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	err = stream(r.Context(), a.Events, q, &sseSink{w: w, rc: rc})
	if errors.Is(err, events.ErrDropped) {
		a.Log.Warn("api: event reader dropped: it fell a whole ring behind", "remote", r.RemoteAddr, "who", who(r))
		// The reader learns why before the stream ends.
		_, _ = io.WriteString(w, "event: dropped\ndata: {\"error\":\"too slow: dropped\"}\n\n")
		_ = rc.Flush()
	}
}

// lineSink writes JSON lines on the control socket.
type lineSink struct {
	c   net.Conn
	w   *bufio.Writer
	enc *json.Encoder
}

func newLineSink(c net.Conn) *lineSink {
	w := bufio.NewWriter(c)
	return &lineSink{c: c, w: w, enc: json.NewEncoder(w)}
}

func (s *lineSink) event(ev *events.Event) error {
	_ = s.c.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
	if err := s.enc.Encode(ev); err != nil {
		return err
	}
	return s.w.Flush()
}

func (s *lineSink) keepalive() error {
	_ = s.c.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
	if _, err := s.w.WriteString("\n"); err != nil {
		return err
	}
	return s.w.Flush()
}

// serveEvents answers {"cmd":"events"} on the control socket: one
// Response line (ok, or the error), then the events as JSON lines; with
// follow, until the client closes the connection.
func (s *Server) serveEvents(c *net.UnixConn, rd *bufio.Reader, q EventsQuery) {
	enc := json.NewEncoder(c)
	if s.Events == nil {
		_ = enc.Encode(Response{Error: "the event stream is not offered by this agent"})
		return
	}
	if q.Recent < 0 || q.Recent > maxRecent {
		_ = enc.Encode(Response{Error: fmt.Sprintf("recent %d: want 0–%d", q.Recent, maxRecent)})
		return
	}
	_ = c.SetDeadline(time.Time{})
	_ = c.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
	if err := enc.Encode(Response{OK: true}); err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// The client sends nothing more: a read ends when it closes.
		_, _ = io.Copy(io.Discard, rd)
		cancel()
	}()
	if err := stream(ctx, s.Events, q, newLineSink(c)); errors.Is(err, events.ErrDropped) {
		s.Log.Warn("control socket: event reader dropped: it fell a whole ring behind")
		_ = enc.Encode(Response{Error: err.Error()})
	}
}

// FollowEvents asks a running agent for its events over its control
// socket and hands each to f until the agent ends the stream, f returns
// an error, or ctx ends (then it returns nil).
func FollowEvents(ctx context.Context, path string, q EventsQuery, f func(json.RawMessage) error) error {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	c, err := d.DialContext(dctx, "unix", path)
	cancel()
	if err != nil {
		return fmt.Errorf("connect to hadhcpd at %s (is it running? node.control_socket): %w", path, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	b, err := json.Marshal(eventsRequest{Cmd: "events", EventsQuery: q})
	if err != nil {
		return err
	}
	_, werr := c.Write(append(b, '\n'))
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("read the answer of events from %s: %w", path, errors.Join(werr, sc.Err(), io.ErrUnexpectedEOF))
	}
	var resp Response
	if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	if !resp.OK {
		return errors.New(resp.Error)
	}
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue // keepalive
		}
		if line[0] == '{' && json.Valid(line) {
			var r Response
			// The stream's end with a reason (a dropped reader).
			if json.Unmarshal(line, &r) == nil && r.Error != "" && !r.OK && !hasSeq(line) {
				return errors.New(r.Error)
			}
		}
		if err := f(json.RawMessage(line)); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

// hasSeq tells an event line from a Response line.
func hasSeq(line []byte) bool {
	var probe struct {
		Seq uint64 `json:"seq"`
	}
	return json.Unmarshal(line, &probe) == nil && probe.Seq > 0
}

// eventsRequest is the control socket's events request.
type eventsRequest struct {
	Cmd string `json:"cmd"`
	EventsQuery
}
