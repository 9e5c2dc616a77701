package failover

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
)

// Agreed are the parameters both nodes of a pair must hold the same: a
// difference silently breaks what the pair decides together. Two splits
// make both or neither node answer some buckets (RFC 3074 §5); two MCLTs
// or response delays make one node's safety arithmetic wrong about the
// other (draft-ietf-dhc-failover-12 §5.2.1 caps by the partner's MCLT);
// two shares make pool balancing move addresses back and forth for ever.
// Each node sends its own in the sync link's handshake (and the primary
// again when a reload changes its split): the secondary takes the
// primary's split and load_balance_max_seconds (SplitFrom); any other
// difference refuses the link on both nodes (Check), naming the key and
// both values.
type Agreed struct {
	Mode                  Mode
	Split                 int // load-balance only
	LoadBalanceMaxSeconds int // load-balance only
	StandbyShare          float64
	MCLT                  time.Duration
	MaxResponseDelay      time.Duration
}

// AgreedOf is what cfg and the link's max_response_delay make of the
// agreed parameters.
func AgreedOf(cfg Config, maxResponseDelay time.Duration) Agreed {
	return Agreed{
		Mode: cfg.Mode, Split: cfg.Split, LoadBalanceMaxSeconds: cfg.LoadBalanceMaxSeconds,
		StandbyShare: cfg.StandbyShare, MCLT: cfg.MCLT, MaxResponseDelay: maxResponseDelay,
	}
}

// agreedLen is the encoded size: mode, split (2), max seconds (4), share
// (float64 bits), MCLT and response delay (ns).
const agreedLen = 1 + 2 + 4 + 8 + 8 + 8

// Marshal encodes a for the handshake.
func (a Agreed) Marshal() []byte {
	b := make([]byte, 0, agreedLen)
	b = append(b, byte(a.Mode))
	b = binary.BigEndian.AppendUint16(b, uint16(a.Split))
	b = binary.BigEndian.AppendUint32(b, uint32(a.LoadBalanceMaxSeconds))
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(a.StandbyShare))
	b = binary.BigEndian.AppendUint64(b, uint64(a.MCLT))
	return binary.BigEndian.AppendUint64(b, uint64(a.MaxResponseDelay))
}

// ErrAgreedFormat: the partner's parameters could not be decoded.
var ErrAgreedFormat = errors.New("failover: malformed pair parameters")

// UnmarshalAgreed decodes what Marshal wrote.
func UnmarshalAgreed(p []byte) (Agreed, error) {
	if len(p) != agreedLen {
		return Agreed{}, fmt.Errorf("%w: %d bytes, want %d", ErrAgreedFormat, len(p), agreedLen)
	}
	a := Agreed{
		Mode:                  Mode(p[0]),
		Split:                 int(binary.BigEndian.Uint16(p[1:])),
		LoadBalanceMaxSeconds: int(binary.BigEndian.Uint32(p[3:])),
		StandbyShare:          math.Float64frombits(binary.BigEndian.Uint64(p[7:])),
		MCLT:                  time.Duration(binary.BigEndian.Uint64(p[15:])),
		MaxResponseDelay:      time.Duration(binary.BigEndian.Uint64(p[23:])),
	}
	if a.Mode != HotStandby && a.Mode != LoadBalance {
		return Agreed{}, fmt.Errorf("%w: mode %d", ErrAgreedFormat, a.Mode)
	}
	return a, nil
}

// ErrDisagree is wrapped by Check's error.
var ErrDisagree = errors.New("the pair's failover parameters differ")

// Check compares ours with the partner's and names every difference that
// refuses the link: the key, our value and the partner's. standby_share
// counts only in hot-standby. split and load_balance_max_seconds are not
// refused: they are the primary's, which the secondary takes (SplitFrom),
// so an operator changes them on the primary alone, with a reload.
func (a Agreed) Check(partner Agreed) error {
	var diff []string
	add := func(key string, ours, theirs any) {
		diff = append(diff, fmt.Sprintf("failover.%s: ours %v, partner's %v", key, ours, theirs))
	}
	if a.Mode != partner.Mode {
		add("mode", a.Mode, partner.Mode)
	}
	if a.MCLT != partner.MCLT {
		add("mclt", a.MCLT, partner.MCLT)
	}
	if a.MaxResponseDelay != partner.MaxResponseDelay {
		add("max_response_delay", a.MaxResponseDelay, partner.MaxResponseDelay)
	}
	if a.Mode == HotStandby && partner.Mode == HotStandby && a.StandbyShare != partner.StandbyShare {
		add("standby_share", pct(a.StandbyShare), pct(partner.StandbyShare))
	}
	if len(diff) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrDisagree, strings.Join(diff, "; "))
}

func pct(f float64) string { return fmt.Sprintf("%g%%", math.Round(f*10000)/100) }

// SplitFrom is the split and load_balance_max_seconds a secondary puts in
// force given the primary's parameters, and whether they differ from
// what it has now (so it logs and applies them).
func (a Agreed) SplitFrom(primary Agreed) (split, maxSeconds int, changed bool) {
	return primary.Split, primary.LoadBalanceMaxSeconds,
		primary.Split != a.Split || primary.LoadBalanceMaxSeconds != a.LoadBalanceMaxSeconds
}

// Hello is what a node tells its partner in the sync link's handshake
// (and the primary again after a reload): the parameters that must agree,
// and its own IPv4 addresses on the served links (not the VIPs), which
// the partner probes on the LAN while the sync link is down (the Master's
// witness, Presence.LANProbe).
type Hello struct {
	Agreed Agreed
	LAN    []netip.Addr
}

// maxHelloLAN bounds the addresses in a Hello (the link carries at most
// 255 bytes of it).
const maxHelloLAN = 48

// Marshal encodes h: Agreed, then a count and the IPv4 addresses.
func (h Hello) Marshal() []byte {
	b := h.Agreed.Marshal()
	var lan []netip.Addr
	for _, a := range h.LAN {
		if a.Is4() && len(lan) < maxHelloLAN {
			lan = append(lan, a)
		}
	}
	b = append(b, byte(len(lan)))
	for _, a := range lan {
		v := a.As4()
		b = append(b, v[:]...)
	}
	return b
}

// UnmarshalHello decodes what Hello.Marshal wrote.
func UnmarshalHello(p []byte) (Hello, error) {
	if len(p) < agreedLen+1 {
		return Hello{}, fmt.Errorf("%w: %d bytes", ErrAgreedFormat, len(p))
	}
	a, err := UnmarshalAgreed(p[:agreedLen])
	if err != nil {
		return Hello{}, err
	}
	n, rest := int(p[agreedLen]), p[agreedLen+1:]
	if n > maxHelloLAN || len(rest) != 4*n {
		return Hello{}, fmt.Errorf("%w: %d LAN addresses in %d bytes", ErrAgreedFormat, n, len(rest))
	}
	h := Hello{Agreed: a}
	for i := range n {
		h.LAN = append(h.LAN, netip.AddrFrom4([4]byte(rest[4*i:4*i+4])))
	}
	return h, nil
}
