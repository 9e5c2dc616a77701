package agent

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNotifierReadyAndWatchdog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	env := map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "20000"}
	n := newNotifier(func(k string) string { return env[k] })
	if n.watchdog != 20*time.Millisecond {
		t.Fatalf("watchdog = %v, want 20ms", n.watchdog)
	}
	if err := n.send("READY=1"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.keepalive(ctx, func() bool { return true })
	var got []string
	buf := make([]byte, 64)
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < 3 {
		k, err := pc.Read(buf)
		if err != nil {
			t.Fatalf("read after %q: %v", got, err)
		}
		got = append(got, string(buf[:k]))
	}
	if got[0] != "READY=1" || got[1] != "WATCHDOG=1" || got[2] != "WATCHDOG=1" {
		t.Fatalf("got %q, want READY=1 then WATCHDOG=1 pings", strings.Join(got, ","))
	}
}

func TestNotifierWithoutSystemd(t *testing.T) {
	n := newNotifier(func(string) string { return "" })
	if err := n.send("READY=1"); err != nil {
		t.Fatalf("send without NOTIFY_SOCKET: %v", err)
	}
	// Must return at once rather than block.
	done := make(chan struct{})
	go func() { n.keepalive(context.Background(), func() bool { return true }); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("keepalive blocked without a watchdog")
	}
}
