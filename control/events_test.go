package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/events"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func testBus(ring int) *events.Bus { return events.NewBus(events.Options{Box: "gw1", Ring: ring}) }

func leaseEv(i int) events.Event {
	return events.Event{Type: events.TypeLease, Action: events.Granted, IP: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})}
}

// serveAPI runs ta's API on a loopback port until the test ends.
func serveAPI(t *testing.T, api *API) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String()
}

type sseFrame struct{ id, event, data string }

// readFrames reads n server-sent events (comments skipped).
func readFrames(t *testing.T, rd *bufio.Reader, n int) []sseFrame {
	t.Helper()
	var out []sseFrame
	var f sseFrame
	for len(out) < n {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d frames: %v", len(out), err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if f != (sseFrame{}) {
				out = append(out, f)
			}
			f = sseFrame{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			f.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			f.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			f.data = line[6:]
		}
	}
	return out
}

// TestAPIEventsSSE: GET /v1/events streams server-sent events: the
// recent ones first, then each new one as it is published; it needs the
// token like every endpoint.
func TestAPIEventsSSE(t *testing.T) {
	ta := newTestAPI(t, []byte(testToken), nil)
	bus := testBus(64)
	ta.api.Events = bus
	base := serveAPI(t, ta.api)
	for i := 1; i <= 3; i++ {
		bus.Publish(leaseEv(i))
	}
	if resp, err := http.Get(base + "/v1/events"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without the token: %v %v", resp.Status, err)
	}
	req, _ := http.NewRequest("GET", base+"/v1/events?recent=2", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("%s, content type %q", resp.Status, ct)
	}
	rd := bufio.NewReader(resp.Body)
	got := readFrames(t, rd, 2)
	if got[0].id != "2" || got[1].id != "3" || got[0].event != "lease" {
		t.Fatalf("recent frames %+v, want ids 2 and 3", got)
	}
	bus.Publish(events.Event{Type: events.TypeFailover, From: "NORMAL", To: "COMMUNICATIONS-INTERRUPTED", Reason: "link down"})
	f := readFrames(t, rd, 1)[0]
	var ev events.Event
	if err := json.Unmarshal([]byte(f.data), &ev); err != nil {
		t.Fatal(err)
	}
	if f.id != "4" || f.event != "failover" || ev.To != "COMMUNICATIONS-INTERRUPTED" || ev.Box != "gw1" {
		t.Errorf("followed frame %+v / %+v", f, ev)
	}

	// follow=false: the past events, then the answer ends.
	w := ta.do("GET", "/v1/events?since=2&follow=false", "", testToken)
	if fr := readFrames(t, bufio.NewReader(strings.NewReader(w.Body.String())), 2); fr[0].id != "3" || fr[1].id != "4" {
		t.Errorf("since=2 follow=false: %+v", fr)
	}
	for _, q := range []string{"since=x", "recent=-1", "recent=5000", "follow=maybe"} {
		if w := ta.do("GET", "/v1/events?"+q, "", testToken); w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, w.Code)
		}
	}
	ta.api.Events = nil
	if w := newTestAPI(t, []byte(testToken), nil).do("GET", "/v1/events", "", testToken); w.Code != http.StatusNotFound {
		t.Errorf("without a bus: %d, want 404", w.Code)
	}
}

// blockSink blocks its first write until released, as a reader whose
// connection stopped taking bytes does.
type blockSink struct {
	stuck, release chan struct{}
	n              int
}

func (s *blockSink) event(*events.Event) error {
	if s.n++; s.n == 1 {
		close(s.stuck)
		<-s.release
	}
	return nil
}
func (s *blockSink) keepalive() error { return nil }

// TestStreamDropsSlowReader: a reader stuck while a whole ring of events
// passes is dropped (its stream ends with ErrDropped) and counted; the
// publisher never waited for it.
func TestStreamDropsSlowReader(t *testing.T) {
	m, _ := events.NewMetrics(nil)
	bus := events.NewBus(events.Options{Box: "gw1", Ring: 8, Metrics: m})
	sink := &blockSink{stuck: make(chan struct{}), release: make(chan struct{})}
	errc := make(chan error, 1)
	bus.Publish(leaseEv(1))
	go func() { errc <- stream(context.Background(), bus, EventsQuery{Follow: true, Recent: 1}, sink) }()
	<-sink.stuck // the reader is stuck in its first write: lap it
	for i := range 40 {
		bus.Publish(leaseEv(i)) // returns at once: nothing waits for the reader
	}
	close(sink.release)
	if err := <-errc; !errors.Is(err, events.ErrDropped) {
		t.Fatalf("stream of a stuck reader: %v, want ErrDropped", err)
	}
	if n := counter(m.Dropped); n != 1 {
		t.Errorf("dropped readers counted %v, want 1", n)
	}
}

// TestControlEvents: `hadhcpd events` over the control socket: the recent
// events as JSON lines, then each new one while following, until the
// caller stops.
func TestControlEvents(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus := testBus(64)
	path := startControl(t, &Server{Log: log, Status: sampleStatus, Events: bus})
	for i := 1; i <= 5; i++ {
		bus.Publish(leaseEv(i))
	}
	var got []events.Event
	collect := func(line json.RawMessage) error {
		var ev events.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return err
		}
		got = append(got, ev)
		return nil
	}
	if err := FollowEvents(context.Background(), path, EventsQuery{Recent: 3}, collect); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Seq != 3 || got[2].IP != netip.MustParseAddr("192.0.2.5") {
		t.Fatalf("recent 3: %+v", got)
	}
	got = nil
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- FollowEvents(ctx, path, EventsQuery{Follow: true}, func(line json.RawMessage) error {
			if err := collect(line); err != nil {
				return err
			}
			if len(got) == 2 {
				cancel()
			}
			return nil
		})
	}()
	// Publish until the follower has its two (it subscribes a moment
	// after the call starts).
	for i := 0; ; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[1].Seq != got[0].Seq+1 {
				t.Errorf("followed %+v", got)
			}
			return
		case <-time.After(20 * time.Millisecond):
			if i > 250 {
				t.Fatal("follower got nothing within 5s")
			}
			bus.Publish(leaseEv(10 + i%200))
		}
	}
}

// TestControlEventsUnavailable: an agent without a bus says so.
func TestControlEventsUnavailable(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	path := startControl(t, &Server{Log: log, Status: sampleStatus})
	err := FollowEvents(context.Background(), path, EventsQuery{}, func(json.RawMessage) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "not offered") {
		t.Errorf("err %v", err)
	}
}

// counter reads a counter (without prometheus/testutil's extra module).
func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
