package peer

import (
	"encoding/binary"
	"fmt"
)

// Defaults is one version of the global dhcp defaults of a named source
// (failover.defaults_from): this package carries it, the agent decides
// (sync/defaults) whether to take and forward it. Either end of a link
// may send it: the source is any box of the relationships, reached over
// a chain of links.
type Defaults struct {
	Source string // the source's node name
	Serial uint64 // only grows at the source
	Hash   []byte // of Body
	Body   []byte // the global keys, as the agent encodes them
}

func (m *Defaults) marshal() []byte {
	b := binary.BigEndian.AppendUint64(nil, m.Serial)
	b = append(b, byte(len(m.Source)))
	b = append(b, m.Source...)
	b = append(b, byte(len(m.Hash)))
	b = append(b, m.Hash...)
	return append(b, m.Body...)
}

func (m *Defaults) unmarshal(p []byte) error {
	d := dec{p: p}
	m.Serial = d.u64("serial")
	m.Source = string(d.short8("source"))
	m.Hash = d.short8("hash")
	if d.err != nil {
		return d.err
	}
	m.Body = d.p
	if m.Source == "" || m.Serial == 0 {
		return fmt.Errorf("%w: defaults without a source or serial", ErrBadFrame)
	}
	return nil
}

// SendDefaults sets the defaults sent to the partner on every connect,
// and sends them now when the link is up. Either role may call it.
func (l *Link) SendDefaults(d Defaults) error {
	if d.Source == "" || len(d.Source) > 255 || d.Serial == 0 || len(d.Hash) > maxHash ||
		8+1+len(d.Source)+1+len(d.Hash)+len(d.Body) > maxConfigLen {
		return fmt.Errorf("%w: defaults from %q serial %d: empty or too large", ErrOptions, d.Source, d.Serial)
	}
	p := d.marshal()
	l.mu.Lock()
	l.defaults = p
	if cur := l.cur; cur != nil && cur.established {
		cur.queueLocked(FrameDefaults, p)
	}
	l.mu.Unlock()
	return nil
}

// queueDefaultsLocked queues the defaults, if any, on a session just
// established. Link.mu held.
func (l *Link) queueDefaultsLocked(s *session) {
	if l.defaults != nil {
		s.queueLocked(FrameDefaults, l.defaults)
	}
}

// recvDefaults hands a FrameDefaults to Options.OnDefaults (ignored
// without one: a box that names no source carries none).
func (l *Link) recvDefaults(p []byte) error {
	var d Defaults
	if err := d.unmarshal(p); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if l.opts.OnDefaults != nil {
		l.opts.OnDefaults(d)
	}
	return nil
}
