package class

import (
	"net/netip"
	"strconv"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// scratchSize bounds the bytes an evaluation may build (concat, hexstring,
// lcase, integer fields). An option is at most a few hundred bytes, so a
// hexstring of one fits; a test that needs more fails (does not match), as
// a Kea expression that throws does.
const scratchSize = 4096

// smallScratch serves the tests that build no strings, only integer
// fields and addresses (most of them): zeroing 4 KiB per Match would cost
// more than evaluating them.
const smallScratch = 64

// scratch holds the bytes built during one evaluation. Its buffer lives on
// the caller's stack: an Expr is shared by every goroutine serving
// packets, so nothing mutable may hang off it.
type scratch struct {
	buf []byte
	n   int
	// failed: the scratch space ran out, or a conversion got a value of
	// the wrong width. The test does not match (Kea: an evaluation error).
	failed bool
}

// alloc returns n bytes of scratch, capped so that an append to the
// result cannot run into the next allocation.
func (s *scratch) alloc(n int) []byte {
	if n > len(s.buf)-s.n {
		s.failed = true
		return nil
	}
	b := s.buf[s.n : s.n+n : s.n+n]
	s.n += n
	return b
}

func (s *scratch) uint32(v uint32) []byte {
	b := s.alloc(4)
	if b != nil {
		b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
	return b
}

// ip4 gives a header address as 4 bytes (Kea: 0.0.0.0 when unset).
func (s *scratch) ip4(ip []byte) []byte {
	if len(ip) == 16 {
		ip = ip[12:]
	}
	if len(ip) == 4 {
		return ip
	}
	b := s.alloc(4)
	if b != nil {
		b[0], b[1], b[2], b[3] = 0, 0, 0, 0
	}
	return b
}

// test evaluates a condition.
func (n *node) test(p *dhcpv4.DHCPv4, in *Set, s *scratch) bool {
	_, t := n.eval(p, in, s)
	return t
}

// value evaluates a value; an absent option is the empty string (Kea).
func (n *node) value(p *dhcpv4.DHCPv4, in *Set, s *scratch) []byte {
	v, _ := n.eval(p, in, s)
	return v
}

// eval evaluates n: a value in v, a condition in t. One function rather
// than a test and a value calling each other: the compiler's escape
// analysis then sees that s (on Match's stack) never leaves the call.
func (n *node) eval(p *dhcpv4.DHCPv4, in *Set, s *scratch) (v []byte, t bool) {
	switch n.op {
	case opTrue:
		return nil, true
	case opAnd:
		if _, t = n.a.eval(p, in, s); !t {
			return nil, false
		}
		_, t = n.b.eval(p, in, s)
		return nil, t
	case opOr:
		if _, t = n.a.eval(p, in, s); t {
			return nil, true
		}
		_, t = n.b.eval(p, in, s)
		return nil, t
	case opNot:
		_, t = n.a.eval(p, in, s)
		return nil, !t
	case opMember:
		return nil, in != nil && in.Has(n.index)
	case opOptionExists:
		_, ok := p.Options[n.code]
		return nil, ok
	case opRAIExists:
		_, ok := raiSub(p.Options[82], n.code)
		return nil, ok
	case opVendorExists:
		return nil, vendorBlock(p.Options[125], n.enterprise) != nil
	case opVendorClassExists:
		return nil, vendorBlock(p.Options[124], n.enterprise) != nil
	case opVendorSubExists:
		_, ok := vendorSub(p.Options[125], n.enterprise, n.code)
		return nil, ok
	case opEq, opEqNum:
		// The operands are dropped once compared, so that a long chain of
		// comparisons reuses the same scratch bytes.
		mark := s.n
		a, _ := n.a.eval(p, in, s)
		b, _ := n.b.eval(p, in, s)
		var eq bool
		if n.op == opEq {
			eq = string(a) == string(b)
		} else {
			eq = numEqual(a, b)
		}
		s.n = mark
		return nil, eq
	case opLit:
		return n.lit, false
	case opOption:
		v = p.Options[n.code]
		if n.text {
			for len(v) > 0 && v[len(v)-1] == 0 {
				v = v[:len(v)-1]
			}
		}
		return v, false
	case opRAI:
		v, _ := raiSub(p.Options[82], n.code)
		return v, false
	case opPkt4:
		return pkt4Field(p, n.code, s), false
	case opSubstring:
		v, _ = n.a.eval(p, in, s)
		return substring(v, n.start, n.length, n.lengthAll), false
	case opConcat:
		a, _ := n.a.eval(p, in, s)
		b, _ := n.b.eval(p, in, s)
		out := s.alloc(len(a) + len(b))
		if out != nil {
			copy(out[copy(out, a):], b)
		}
		return out, false
	case opHexstring:
		a, _ := n.a.eval(p, in, s)
		sep, _ := n.b.eval(p, in, s)
		if len(a) == 0 {
			return nil, false
		}
		out := s.alloc(2*len(a) + (len(a)-1)*len(sep))
		if out == nil {
			return nil, false
		}
		const digits = "0123456789abcdef"
		j := 0
		for i, c := range a {
			if i > 0 {
				j += copy(out[j:], sep)
			}
			out[j], out[j+1] = digits[c>>4], digits[c&15]
			j += 2
		}
		return out, false
	case opIfelse:
		if _, t = n.c.eval(p, in, s); t {
			v, _ = n.a.eval(p, in, s)
			return v, false
		}
		v, _ = n.b.eval(p, in, s)
		return v, false
	case opLcase, opUcase:
		a, _ := n.a.eval(p, in, s)
		out := s.alloc(len(a))
		if out == nil {
			return nil, false
		}
		for i, c := range a {
			if n.op == opLcase && c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			} else if n.op == opUcase && c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			out[i] = c
		}
		return out, false
	case opToText:
		v, _ = n.a.eval(p, in, s)
		return s.toText(v, n.code), false
	case opSplit:
		v, _ = n.a.eval(p, in, s)
		d, _ := n.b.eval(p, in, s)
		return split(v, d, n.index), false
	case opVendorSub:
		v, _ := vendorSub(p.Options[125], n.enterprise, n.code)
		return v, false
	case opVendorClassData:
		return vendorClassData(vendorBlock(p.Options[124], n.enterprise), n.index), false
	case opVendorEnterprise, opVendorClassEnt:
		code := uint8(125)
		if n.op == opVendorClassEnt {
			code = 124
		}
		b := p.Options[code]
		if len(b) < 5 {
			return nil, false
		}
		return b[:4], false
	}
	return nil, false
}

func pkt4Field(p *dhcpv4.DHCPv4, f uint8, s *scratch) []byte {
	switch f {
	case fMac:
		return p.ClientHWAddr
	case fHlen:
		return s.uint32(uint32(len(p.ClientHWAddr)))
	case fHtype:
		return s.uint32(uint32(p.HWType))
	case fCiaddr:
		return s.ip4(p.ClientIPAddr)
	case fGiaddr:
		return s.ip4(p.GatewayIPAddr)
	case fYiaddr:
		return s.ip4(p.YourIPAddr)
	case fSiaddr:
		return s.ip4(p.ServerIPAddr)
	case fMsgtype:
		var t uint32
		if m := p.Options[53]; len(m) == 1 {
			t = uint32(m[0])
		}
		return s.uint32(t)
	case fTransid:
		x := p.TransactionID
		return s.uint32(uint32(x[0])<<24 | uint32(x[1])<<16 | uint32(x[2])<<8 | uint32(x[3]))
	}
	return nil
}

// numEqual compares two values as unsigned big-endian numbers: Kea's
// integers are 4-byte strings, so `pkt4.msgtype == 1` compares equal
// 4-byte strings; comparing numbers also makes `option[93].hex == 7` (a
// 2-byte option) and `pkt4.htype == 0x01` mean what they say. An empty
// value (an absent option) is never a number.
func numEqual(a, b []byte) bool {
	x, ok1 := beUint(a)
	y, ok2 := beUint(b)
	return ok1 && ok2 && x == y
}

func beUint(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) > 8 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, true
}

// substring is Kea's TokenSubstring: a negative start counts from the
// end, a negative length takes the bytes before start; out of range gives
// the empty string.
func substring(v []byte, start, length int, all bool) []byte {
	l := len(v)
	if l == 0 || start < -l || start >= l {
		return nil
	}
	if all {
		length = l
	}
	if start < 0 {
		start += l
	}
	if length < 0 {
		length = -length
		if length <= start {
			start -= length
		} else {
			length = start
			start = 0
		}
	}
	if length > l-start {
		length = l - start
	}
	return v[start : start+length]
}

// split is Kea's TokenSplit: field (from 1) of v cut at any byte of delims.
func split(v, delims []byte, field int) []byte {
	if len(v) == 0 {
		return nil
	}
	if len(delims) == 0 {
		return v
	}
	if field < 1 {
		return nil
	}
	f := 1
	begin := 0
	for i := 0; i <= len(v); i++ {
		if i < len(v) && !isDelim(v[i], delims) {
			continue
		}
		if f == field {
			return v[begin:i]
		}
		f++
		begin = i + 1
	}
	return nil
}

func isDelim(c byte, delims []byte) bool {
	for _, d := range delims {
		if c == d {
			return true
		}
	}
	return false
}

// need is an upper bound of the scratch bytes n uses at once, more than
// scratchSize when it depends on the packet.
func need(n *node) int {
	if n == nil {
		return 0
	}
	switch n.op {
	case opConcat, opHexstring, opLcase, opUcase:
		return scratchSize + 1
	case opToText:
		return min(need(n.a)+len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), scratchSize+1)
	case opPkt4:
		if n.code == fMac {
			return 0
		}
		return 4
	case opAnd, opOr, opNot, opIfelse:
		// A comparison gives its bytes back: siblings do not add up.
		return max(need(n.a), need(n.b), need(n.c))
	}
	return min(need(n.a)+need(n.b)+need(n.c), scratchSize+1)
}

// toText is Kea's addrtotext and [u]intNtotext: an empty value stays
// empty, a value of the wrong width fails the evaluation.
func (s *scratch) toText(v []byte, conv uint8) []byte {
	if len(v) == 0 {
		return nil
	}
	c := toText[conv]
	if c.width == 0 {
		var a netip.Addr
		switch len(v) {
		case 4:
			a = netip.AddrFrom4([4]byte(v))
		case 16:
			a = netip.AddrFrom16([16]byte(v))
		default:
			s.failed = true
			return nil
		}
		out := s.alloc(len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
		if out == nil {
			return nil
		}
		return a.AppendTo(out[:0])
	}
	if len(v) != c.width {
		s.failed = true
		return nil
	}
	var u uint64
	for _, b := range v {
		u = u<<8 | uint64(b)
	}
	out := s.alloc(len("-2147483648"))
	if out == nil {
		return nil
	}
	if !c.signed {
		return strconv.AppendUint(out[:0], u, 10)
	}
	shift := 64 - 8*c.width
	return strconv.AppendInt(out[:0], int64(u<<shift)>>shift, 10)
}
