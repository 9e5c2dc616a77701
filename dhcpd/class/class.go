// Package class is the client classification language: a subset of
// Kea's expression language (Kea ARM, "Client Classification"), compiled
// once per configuration and evaluated on each packet without allocating.
// README.md beside this file is the reference, with an example of each
// construct; in short:
//
//	literals     'text' ('it\'s')   0x0007   4491   192.0.2.1
//	options      option[60].hex  option[60].text  option[93].exists
//	             option[vendor-class-identifier].text (Kea's names, - or _)
//	relay agent  option[82].option[1].hex  relay4[2].hex  relay4[6].exists
//	header       pkt4.mac hlen htype ciaddr giaddr yiaddr siaddr msgtype transid
//	vendor       vendor-class[4491].exists  vendor-class[*].exists
//	             vendor-class[4491].data[0]  vendor[3561].exists
//	             vendor[3561].option[2].hex  vendor.enterprise
//	functions    substring(v, start, len|all)  concat(a, b)  a + b
//	             hexstring(v, 'sep')  ifelse(cond, a, b)  lcase(v)  ucase(v)
//	             split(v, 'delims', n)  addrtotext(v)  uint16totext(v) ...
//	conditions   a == b   and  or  not  ( )  member('name')  known  unknown
//
// Values are byte strings, an absent option being the empty string;
// comparisons are byte-wise, except that a side that is an integer (a
// literal, pkt4.hlen/htype/msgtype/transid, *.enterprise; Kea's 4-byte
// big-endian integers) makes both compare as unsigned numbers: pkt4.htype
// == 1, pkt4.msgtype == 0x03 and option[93].hex == 7 hold as they read.
// Types are checked at compile time: a value where a condition is needed
// (option[60].hex and ...) is a *SyntaxError, with the offset.
//
// Evaluation walks the compiled tree; values are sub-slices of the
// packet's option bytes or bytes built in a scratch buffer on the
// evaluating goroutine's stack, so an Expr is immutable and serves any
// number of goroutines at once.
package class

import (
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// MaxClasses bounds the classes of one configuration (Set is fixed-size so
// that classifying a packet allocates nothing).
const MaxClasses = 1024

// Built-in class indexes: a client is KNOWN when it has a reservation
// (Kea's KNOWN/UNKNOWN, ISC's known/unknown clients).
const (
	Known   = 0
	Unknown = 1
	// First is the index of the first configured class.
	First = 2
)

// Set is a set of class indexes.
type Set [MaxClasses / 64]uint64

// Add puts class i in s.
func (s *Set) Add(i int) { s[i/64] |= 1 << (i % 64) }

// Has reports whether class i is in s.
func (s *Set) Has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }

// SyntaxError is a test that does not compile; Offset is the byte offset in
// the source.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return "at offset " + itoa(e.Offset) + ": " + e.Msg }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// Expr is a compiled boolean test. It is immutable: one Expr serves every
// goroutine at once.
type Expr struct {
	root  *node
	src   string
	small bool // fits in smallScratch
}

// Compile parses a boolean test. index resolves member('name') (and
// member('KNOWN'), member('UNKNOWN'), known, unknown) to a class index; it
// reports false for a name that is not defined before the class using it.
// KNOWN and UNKNOWN fall back to Known and Unknown when index does not
// know them; index may be nil.
func Compile(src string, index func(name string) (int, bool)) (*Expr, error) {
	return Names{Class: index}.Compile(src)
}

// Names resolves the names a test may use beyond the built-in ones.
type Names struct {
	// Class resolves member('name'), as Compile's index.
	Class func(name string) (int, bool)
	// Option resolves option[name] for names that are not Kea's standard
	// DHCPv4 option names (which are known, with - or _): the
	// configuration's option_definitions.
	Option func(name string) (code uint8, ok bool)
}

// Compile parses a boolean test.
func (ns Names) Compile(src string) (*Expr, error) {
	n, err := parse(src, typBool, ns)
	if err != nil {
		return nil, err
	}
	return &Expr{root: n, src: src, small: need(n) <= smallScratch}, nil
}

// Match evaluates e on p; in holds the classes the client already belongs
// to (nil: none). It does not allocate. A test that cannot be evaluated
// (its strings outgrow the scratch space, a conversion gets a value of the
// wrong width) does not match, as in Kea.
func (e *Expr) Match(p *dhcpv4.DHCPv4, in *Set) bool {
	if e.small {
		var b [smallScratch]byte
		return e.match(p, in, b[:])
	}
	var b [scratchSize]byte
	return e.match(p, in, b[:])
}

func (e *Expr) match(p *dhcpv4.DHCPv4, in *Set, buf []byte) bool {
	s := scratch{buf: buf}
	ok := e.root.test(p, in, &s)
	return ok && !s.failed
}

// String returns the source of the test.
func (e *Expr) String() string { return e.src }

// Value is a compiled value expression: the key of a lookup table (ISC's
// `match hardware;` with its `subclass` members). It is immutable.
type Value struct {
	root  *node
	src   string
	small bool // fits in smallScratch
}

// CompileValue parses a value expression.
func CompileValue(src string) (*Value, error) { return Names{}.CompileValue(src) }

// CompileValue parses a value expression; ns.Class is not used (a value
// cannot depend on classes).
func (ns Names) CompileValue(src string) (*Value, error) {
	n, err := parse(src, typStr, Names{Option: ns.Option})
	if err != nil {
		return nil, err
	}
	// Append has no class set: a lookup key is computed before (and
	// independently of) the client's classes.
	if m := findOp(n, opMember); m != nil {
		return nil, &SyntaxError{Offset: m.pos, Msg: "member(), known and unknown cannot be used in a match expression: its value is computed before the client's classes"}
	}
	return &Value{root: n, src: src, small: need(n) <= smallScratch}, nil
}

// Append appends v's bytes for p to buf; ok is false when the value is
// absent from p (Kea's empty string: an absent option, a substring out
// of range). It does not allocate when buf has room.
func (v *Value) Append(buf []byte, p *dhcpv4.DHCPv4) (out []byte, ok bool) {
	if v.small {
		var b [smallScratch]byte
		return v.append(buf, p, b[:])
	}
	var b [scratchSize]byte
	return v.append(buf, p, b[:])
}

func (v *Value) append(buf []byte, p *dhcpv4.DHCPv4, scratchBuf []byte) ([]byte, bool) {
	s := scratch{buf: scratchBuf}
	b := v.root.value(p, nil, &s)
	if len(b) == 0 || s.failed {
		return buf, false
	}
	return append(buf, b...), true
}

// String returns the source of the value expression.
func (v *Value) String() string { return v.src }

// findOp returns the first node of n's tree with operation o.
func findOp(n *node, o op) *node {
	if n == nil {
		return nil
	}
	if n.op == o {
		return n
	}
	for _, k := range []*node{n.a, n.b, n.c} {
		if f := findOp(k, o); f != nil {
			return f
		}
	}
	return nil
}
