package peer

// Sealed records: after a PSK handshake every byte of the stream, in each
// direction, travels in records that an AEAD authenticates and encrypts,
// so nobody on the path can inject, change, replay, reorder or drop a
// frame (a lease record, a config) without the session failing, nor read
// one. With TLS the TLS record layer does the same and these are unused.
//
//	record: len u32 BE | AES-256-GCM(key, nonce, plaintext, aad = len) (len bytes, tag included)
//
// The plaintext of the records, concatenated, is the frame stream (frames
// may span records). Each direction has its own key, derived with HKDF-
// SHA256 from the PSK, both Hello nonces (salt) and the handshake
// transcript (info), so each session has fresh keys even with the same
// PSK; the nonce is the record's number in its direction (0, 1, 2, ...),
// never sent, so a replayed, reordered or dropped record fails to open.

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// sealLabel separates the session keys from any other use of the PSK.
	sealLabel = "hadhcpd peer seal v2"
	// maxRecordPlain bounds a record's plaintext: large enough that the
	// replication stream's big writes cost few records, small enough
	// that the receiver's buffer stays small.
	maxRecordPlain  = 64 << 10
	recordHeaderLen = 4
	gcmTagLen       = 16
)

// ErrIntegrity: a sealed record failed to open (tampered, injected,
// replayed, reordered or truncated); the session is dropped and the
// failure counted (integrity_failures_total).
var ErrIntegrity = errors.New("peer: frame failed authentication (tampered, injected or replayed on the path)")

// sessionKeys derives the two directions' keys of a PSK session.
func sessionKeys(psk []byte, initiator, responder *hello) (i2r, r2i cipher.AEAD, err error) {
	salt := append(initiator.Nonce[:len(initiator.Nonce):len(initiator.Nonce)], responder.Nonce[:]...)
	info := string(authTranscript(initiator, responder))
	mk := func(dir string) (cipher.AEAD, error) {
		k, err := hkdf.Key(sha256.New, psk, salt, sealLabel+" "+dir+" "+info, 32)
		if err != nil {
			return nil, err
		}
		b, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(b)
	}
	if i2r, err = mk("initiator to responder"); err != nil {
		return nil, nil, err
	}
	if r2i, err = mk("responder to initiator"); err != nil {
		return nil, nil, err
	}
	return i2r, r2i, nil
}

// recordNonce is the GCM nonce of record n of a direction.
func recordNonce(n uint64) []byte {
	var b [12]byte
	binary.BigEndian.PutUint64(b[4:], n)
	return b[:]
}

// sealer seals one direction; the session's writer owns it.
type sealer struct {
	aead cipher.AEAD
	n    uint64 // next record's number
	buf  []byte // reused output
}

// seal returns prefix (sent as it is: the handshake's last plain frame)
// followed by plain in sealed records. The result is valid until the
// next call.
func (s *sealer) seal(prefix, plain []byte) []byte {
	out := append(s.buf[:0], prefix...)
	for len(plain) > 0 {
		chunk := plain[:min(len(plain), maxRecordPlain)]
		plain = plain[len(chunk):]
		hdr := len(out)
		out = binary.BigEndian.AppendUint32(out, uint32(len(chunk)+gcmTagLen))
		out = s.aead.Seal(out, recordNonce(s.n), chunk, out[hdr:])
		s.n++
	}
	s.buf = out
	return out
}

// opener opens the records of the other direction; it reads the frame
// stream for the session's reader (frameReader), with a sticky error.
type opener struct {
	src   *bufio.Reader
	aead  cipher.AEAD
	n     uint64
	rec   []byte // the current record, opened in place
	plain []byte // what is left of its plaintext
	err   error
}

func newOpener(src io.Reader, aead cipher.AEAD) *opener {
	return &opener{src: bufio.NewReaderSize(src, 64<<10), aead: aead}
}

func (o *opener) Read(p []byte) (int, error) {
	for len(o.plain) == 0 {
		if o.err != nil {
			return 0, o.err
		}
		o.err = o.next()
	}
	n := copy(p, o.plain)
	o.plain = o.plain[n:]
	return n, nil
}

// next reads and opens one record.
func (o *opener) next() error {
	var h [recordHeaderLen]byte
	if _, err := io.ReadFull(o.src, h[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n <= gcmTagLen || n > maxRecordPlain+gcmTagLen {
		return fmt.Errorf("%w: record %d announces %d bytes", ErrIntegrity, o.n, n)
	}
	if cap(o.rec) < int(n) {
		o.rec = make([]byte, maxRecordPlain+gcmTagLen)
	}
	rec := o.rec[:n]
	if _, err := io.ReadFull(o.src, rec); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	plain, err := o.aead.Open(rec[:0], recordNonce(o.n), rec, h[:])
	if err != nil {
		return fmt.Errorf("%w: record %d does not open", ErrIntegrity, o.n)
	}
	o.n++
	o.plain = plain
	return nil
}

// buffered reports whether more of the stream is already read.
func (o *opener) buffered() bool { return len(o.plain) > 0 || o.src.Buffered() > 0 }
