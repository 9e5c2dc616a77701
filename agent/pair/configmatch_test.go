package pair

import (
	"testing"

	"github.com/hadhcpd/hadhcpd/sync/peer"
)

// config_match in the status follows what is known of the partner's
// section: the hash it announced at the handshake, then the verdict on
// the section sent to it (or, on a secondary, the section applied).
func TestStatusConfigMatch(t *testing.T) {
	p := newTestFailover(t)
	p.sec = &fakeSection{hash: "abcd"}
	match := func() string {
		m := p.Status().ConfigMatch
		switch {
		case m == nil:
			return "unknown"
		case *m:
			return "same"
		}
		return "differs"
	}
	if got := match(); got != "unknown" {
		t.Fatalf("before any handshake: %s", got)
	}
	for _, c := range []struct {
		ev   peer.Event
		want string
	}{
		{peer.Up{ConfigMatch: false}, "differs"},
		{peer.ConfigVerdict{Hash: []byte{0xab, 0xcd}, Accepted: true}, "same"},
		{peer.ConfigVerdict{Hash: []byte{0xab, 0xcd}, Accepted: false, Reason: "bad pool"}, "differs"},
		{peer.ConfigVerdict{Hash: []byte{0x01}, Accepted: true}, "differs"}, // a verdict on an older section
		{peer.ConfigReceived{Hash: []byte{0xab, 0xcd}}, "same"},
		// Applied, but what is served hashes otherwise (a relationship's
		// part served with this box's own global keys).
		{peer.ConfigReceived{Hash: []byte{0x01}}, "differs"},
		{peer.Up{ConfigMatch: true}, "same"},
	} {
		p.onLinkEvent(c.ev)
		if got := match(); got != c.want {
			t.Errorf("after %T%+v: %s, want %s", c.ev, c.ev, got, c.want)
		}
	}
}
