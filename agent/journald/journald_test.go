package journald

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// parse decodes one native-protocol datagram into name -> values.
func parse(t *testing.T, b []byte) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			t.Fatalf("unterminated field %q", b)
		}
		line := string(b[:i])
		b = b[i+1:]
		if name, v, ok := strings.Cut(line, "="); ok {
			out[name] = append(out[name], v)
			continue
		}
		n := binary.LittleEndian.Uint64(b[:8])
		out[line] = append(out[line], string(b[8:8+n]))
		b = b[8+n+1:]
	}
	return out
}

func TestHandler(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "journal.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h, err := New(sock, "hadhcpd", slog.LevelInfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	log := slog.New(h).With("node", "gw1").With("component", "vrrp", "instance", "lan")
	log.Debug("not written")
	log.Warn("vrrp transition", "from", "backup", "to", "master", slog.Group("peer", "addr", "192.0.2.12"),
		"err", errors.New("line one\nline two"), "9bad-key", 1)

	buf := make([]byte, 65536)
	n, err := ln.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := parse(t, buf[:n])
	for name, want := range map[string]string{
		"MESSAGE":           `vrrp transition node=gw1 component=vrrp instance=lan from=backup to=master peer_addr=192.0.2.12 err="line one\nline two" 9bad-key=1`,
		"PRIORITY":          "4",
		"SYSLOG_IDENTIFIER": "hadhcpd",
		"NODE":              "gw1",
		"COMPONENT":         "vrrp",
		"INSTANCE":          "lan",
		"TO":                "master",
		"PEER_ADDR":         "192.0.2.12",
		"ERR":               "line one\nline two",
		"BAD_KEY":           "1",
	} {
		if v := got[name]; len(v) != 1 || v[0] != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	if len(got) != 11 {
		t.Errorf("fields %v", got)
	}
}

// TestFallback: a record the socket refuses goes to the fallback.
func TestFallback(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "journal.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	h, err := New(sock, "hadhcpd", nil, slog.NewTextHandler(&text, nil))
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // journald gone
	os.Remove(sock)
	slog.New(h).Info("still logged", "k", "v")
	if !strings.Contains(text.String(), `msg="still logged" k=v`) {
		t.Errorf("fallback got %q", text.String())
	}
	_ = h.Handle(context.Background(), slog.Record{})
}

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"iface": "IFACE", "peer.addr": "PEER_ADDR", "_private": "PRIVATE", "9x": "X", "ü": "", "a-b": "A_B",
		strings.Repeat("k", 70): strings.Repeat("K", 64),
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOnJournal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stream")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	st := fi.Sys().(*syscall.Stat_t)
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "JOURNAL_STREAM" {
				return v
			}
			return ""
		}
	}
	if !OnJournal(f, env(fmt.Sprintf("%d:%d", st.Dev, st.Ino))) {
		t.Error("the stream JOURNAL_STREAM names is not recognised")
	}
	if OnJournal(f, env(fmt.Sprintf("%d:%d", st.Dev, st.Ino+1))) || OnJournal(f, env("")) {
		t.Error("another stream taken for the journal")
	}
}
