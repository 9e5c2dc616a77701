// Package class is the client classification language: a small subset of
// Kea's expression language (Kea ARM §"Client Classification"), compiled
// once per configuration and evaluated on each packet without allocating.
// The README's "Client classes" section is its reference.
package class

import (
	"errors"

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

var errUnimplemented = errors.New("class: not implemented yet")

// Expr is a compiled boolean test.
type Expr struct{}

// Compile parses a boolean test. index resolves member('name') (and
// member('KNOWN'), member('UNKNOWN'), known, unknown) to a class index; it
// reports false for a name that is not defined before the class using it.
func Compile(src string, index func(name string) (int, bool)) (*Expr, error) {
	return nil, errUnimplemented
}

// Match evaluates e on p; in holds the classes the client already belongs
// to. It does not allocate.
func (e *Expr) Match(p *dhcpv4.DHCPv4, in *Set) bool { return false }

// Value is a compiled value expression: the key of a lookup table (ISC's
// `match hardware;` with its `subclass` members).
type Value struct{}

// CompileValue parses a value expression.
func CompileValue(src string) (*Value, error) { return nil, errUnimplemented }

// Append appends v's bytes for p to buf; ok is false when the value is
// absent from p. It does not allocate when buf has room.
func (v *Value) Append(buf []byte, p *dhcpv4.DHCPv4) (out []byte, ok bool) { return buf, false }
