package psk

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
)

// Rule's numbers.
const (
	// MinLen is the shortest key accepted, in bytes (after a text
	// file's final line end is dropped): 256 bits of a random key.
	MinLen = 32
	// MinBits is the least estimated entropy of a key (Check).
	MinBits = 128
	// repeatLen: a key in which a run of this many bytes occurs twice is
	// a pattern, not random bytes (a random 64-character key repeats an
	// 8-byte run with a probability below 10⁻¹⁰ for binary keys and 10⁻⁶
	// for hex).
	repeatLen = 8
	// genLen is what gen-psk draws: 32 random bytes, written in base64.
	genLen = 32
)

// Errors of the key file; every error wraps ErrKey.
var (
	ErrKey  = errors.New("bad pre-shared key file")
	ErrWeak = errors.New("pre-shared key too weak")
)

// hint is where every refusal points the operator.
const hint = "make one with `hadhcpd gen-psk FILE` (32 random bytes, base64) and copy the file to both boxes"

// Load reads a key file: a regular file (a symlink to one is fine) not
// accessible by group or others (the key lets a box rewrite its
// partner's lease database), whose key passes Check. The errors name the
// file and say how to mend it.
func Load(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrKey, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %#o; it must not be accessible by group or others (chmod 600)", ErrKey, path, perm)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	key := Key(raw)
	if err := Check(key); err != nil {
		return nil, fmt.Errorf("%w: %s: %w; %s", ErrKey, path, err, hint)
	}
	return key, nil
}

// Key is the key a file's bytes hold: the bytes themselves, or, for a
// text file, the text without its final line end ("\n" or "\r\n").
func Key(raw []byte) []byte {
	k := raw
	if n := len(k); n > 0 && k[n-1] == '\n' {
		k = k[:n-1]
		if n := len(k); n > 0 && k[n-1] == '\r' {
			k = k[:n-1]
		}
	}
	if !printable(k) {
		return raw
	}
	return k
}

// printable reports whether b is text: printable ASCII and spaces only.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// Check applies the key rule: at least MinLen bytes, no byte run of
// repeatLen occurring twice, no space inside a text key (a passphrase),
// and at least MinBits of estimated entropy, the lesser of two
// estimates: the empirical entropy of its byte frequencies times its
// length, and, for a text key, its length times log2 of the character
// classes it uses (26 lower, 26 upper, 10 digits, 33 others).
func Check(key []byte) error {
	if len(key) < MinLen {
		return fmt.Errorf("%w: %d bytes; at least %d random bytes are needed", ErrWeak, len(key), MinLen)
	}
	if printable(key) {
		for _, c := range key {
			if c == ' ' {
				return fmt.Errorf("%w: a passphrase of words, not random bytes", ErrWeak)
			}
		}
	}
	if i, j, ok := repeated(key); ok {
		return fmt.Errorf("%w: the %d bytes at offset %d repeat at offset %d", ErrWeak, repeatLen, i, j)
	}
	if bits := Bits(key); bits < MinBits {
		return fmt.Errorf("%w: about %.0f bits of entropy, at least %d are needed", ErrWeak, bits, MinBits)
	}
	return nil
}

// Bits is Check's entropy estimate of key, in bits.
func Bits(key []byte) float64 {
	if len(key) == 0 {
		return 0
	}
	var freq [256]int
	for _, c := range key {
		freq[c]++
	}
	n := float64(len(key))
	h := 0.0
	for _, f := range freq {
		if f > 0 {
			p := float64(f) / n
			h -= p * math.Log2(p)
		}
	}
	bits := h * n
	if printable(key) {
		var lower, upper, digit, other bool
		for _, c := range key {
			switch {
			case c >= 'a' && c <= 'z':
				lower = true
			case c >= 'A' && c <= 'Z':
				upper = true
			case c >= '0' && c <= '9':
				digit = true
			default:
				other = true
			}
		}
		alphabet := 0
		for _, c := range []struct {
			used bool
			size int
		}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 33}} {
			if c.used {
				alphabet += c.size
			}
		}
		bits = min(bits, n*math.Log2(float64(alphabet)))
	}
	return bits
}

// repeated finds a run of repeatLen bytes that occurs twice in key.
func repeated(key []byte) (first, again int, ok bool) {
	seen := make(map[string]int, len(key))
	for i := 0; i+repeatLen <= len(key); i++ {
		w := string(key[i : i+repeatLen])
		if j, dup := seen[w]; dup {
			return j, i, true
		}
		seen[w] = i
	}
	return 0, 0, false
}

// Generate returns the contents of a new key file: 32 bytes from the
// system's random source, base64, one line.
func Generate() ([]byte, error) {
	for range 8 {
		var b [genLen]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		text := base64.StdEncoding.AppendEncode(nil, b[:])
		// A random key fails the estimate with a probability far below
		// 10⁻⁹; draw again rather than write one that Load refuses.
		if Check(text) == nil {
			return append(text, '\n'), nil
		}
	}
	return nil, errors.New("the system's random source returns weak keys")
}

// Write makes path a new key file of mode 0600. An existing file is
// replaced only with force (the partner's copy must be replaced too, or
// the link stays down); the new key is written to a temporary file that
// is synced and renamed, so a crash leaves the old key or the new one.
func Write(path string, force bool) error {
	content, err := Generate()
	if err != nil {
		return err
	}
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(content)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		// The mode of a file is what it was created with, less the
		// umask: 0600 is below any umask, but say it explicitly.
		werr = os.Chmod(tmp, 0o600)
	}
	if werr == nil {
		if force {
			werr = os.Rename(tmp, path)
		} else if werr = os.Link(tmp, path); errors.Is(werr, fs.ErrExist) {
			// A hard link never replaces: no check-then-write race.
			werr = fmt.Errorf("%s exists; --force replaces it (then copy it to the partner too)", path)
		}
	}
	os.Remove(tmp)
	return werr
}
