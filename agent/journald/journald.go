// Package journald is a slog.Handler that writes each record to systemd's
// journal as one native entry (the protocol of sd_journal_sendv(3),
// systemd.journal-fields(7)), so the log's attributes become journal
// fields an operator can filter on: `journalctl -u hadhcpd INSTANCE=lan
// TO=master`, and `journalctl -p warning` follows the record's level.
//
// The agent uses it when its standard error is the journal (JOURNAL_STREAM,
// as systemd sets it for StandardError=journal); anywhere else the log
// stays text or JSON on standard error.
package journald

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
)

// Socket is journald's native protocol socket (systemd-journald.service(8)).
const Socket = "/run/systemd/journal/socket"

// OnJournal reports whether f is the stream journald gave this process:
// systemd sets JOURNAL_STREAM to "DEVICE:INODE" of it (systemd.exec(5));
// a log redirected elsewhere by the operator keeps its own format.
func OnJournal(f *os.File, getenv func(string) string) bool {
	want := getenv("JOURNAL_STREAM")
	if want == "" || f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	return want == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// sender is the socket, shared by a Handler and every handler derived
// from it.
type sender struct {
	conn     *net.UnixConn
	fallback slog.Handler
}

// Handler writes records to the journal. Records the socket refuses (one
// larger than a datagram, journald gone) go to the fallback handler.
type Handler struct {
	s      *sender
	level  slog.Leveler
	ident  string
	prefix string  // the open groups, "GROUP_"
	fields []field // from WithAttrs, already named
	text   []byte  // the same as key=value text for MESSAGE
}

type field struct {
	name  string
	value string
}

// New dials the journal's socket (Socket, or another path for tests).
// ident is SYSLOG_IDENTIFIER; level the least level written; fallback
// gets what the journal does not take.
func New(socket, ident string, level slog.Leveler, fallback slog.Handler) (*Handler, error) {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("journald: %w", err)
	}
	return &Handler{s: &sender{conn: c, fallback: fallback}, level: level, ident: ident}, nil
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	min := slog.LevelInfo
	if h.level != nil {
		min = h.level.Level()
	}
	return l >= min
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.fields = append([]field(nil), h.fields...)
	n.text = append([]byte(nil), h.text...)
	for _, a := range as {
		n.fields, n.text = addAttr(n.fields, n.text, h.prefix, a)
	}
	return &n
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.prefix = h.prefix + name + "_"
	return &n
}

// Handle implements slog.Handler: one datagram a record.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	fields := append([]field(nil), h.fields...)
	text := append([]byte(nil), h.text...)
	r.Attrs(func(a slog.Attr) bool {
		fields, text = addAttr(fields, text, h.prefix, a)
		return true
	})
	var b bytes.Buffer
	// MESSAGE keeps the attributes as text too: journalctl's default view
	// shows only MESSAGE, and it should read as the text log does.
	msg := r.Message
	if len(text) > 0 {
		msg += " " + string(bytes.TrimSpace(text))
	}
	put(&b, "MESSAGE", msg)
	put(&b, "PRIORITY", strconv.Itoa(priority(r.Level)))
	if h.ident != "" {
		put(&b, "SYSLOG_IDENTIFIER", h.ident)
	}
	for _, f := range fields {
		put(&b, f.name, f.value)
	}
	if _, err := h.s.conn.Write(b.Bytes()); err != nil {
		if h.s.fallback != nil {
			return h.s.fallback.Handle(ctx, r)
		}
		return err
	}
	return nil
}

// priority maps a level to syslog's (sd-daemon(3)): debug 7, info 6,
// warn 4, error 3.
func priority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3
	case l >= slog.LevelWarn:
		return 4
	case l >= slog.LevelInfo:
		return 6
	}
	return 7
}

// addAttr appends a's fields (a group's members, each under its prefix)
// and its key=value text.
func addAttr(fields []field, text []byte, prefix string, a slog.Attr) ([]field, []byte) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return fields, text
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "_"
		}
		for _, m := range a.Value.Group() {
			fields, text = addAttr(fields, text, p, m)
		}
		return fields, text
	}
	v := value(a.Value)
	key := prefix + a.Key
	text = append(text, ' ')
	text = append(text, key...)
	text = append(text, '=')
	if strings.ContainsAny(v, " \"=\n\t") || v == "" {
		text = strconv.AppendQuote(text, v)
	} else {
		text = append(text, v...)
	}
	if name := Name(key); name != "" {
		fields = append(fields, field{name, v})
	}
	return fields, text
}

func value(v slog.Value) string {
	switch v.Kind() {
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return err.Error()
		}
	}
	return v.String()
}

// Name turns an attribute key into a journal field name
// (systemd.journal-fields(7)): upper case letters, digits and underscores,
// not starting with an underscore or a digit (those are journald's own
// trusted fields), at most 64 characters. "" when nothing is left.
func Name(key string) string {
	var b strings.Builder
	for _, c := range key {
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteRune(unicode.ToUpper(c))
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	n := strings.TrimLeft(b.String(), "_0123456789")
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// put writes one field in the native protocol: NAME=value\n, or for a
// value with a newline NAME\n, its length as 64-bit little endian, the
// value and \n.
func put(b *bytes.Buffer, name, v string) {
	if !strings.ContainsRune(v, '\n') {
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(v)
		b.WriteByte('\n')
		return
	}
	b.WriteString(name)
	b.WriteByte('\n')
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(v)))
	b.Write(n[:])
	b.WriteString(v)
	b.WriteByte('\n')
}

// Close closes the socket.
func (h *Handler) Close() error { return h.s.conn.Close() }
