package peer

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/hadhcpd/hadhcpd/sync/psk"
)

// MinPSKLen is the shortest pre-shared key accepted: 256 bits.
const MinPSKLen = psk.MinLen

// Errors of authentication. A refused peer is counted by reason
// (refused_peers_total{reason}).
var (
	ErrPSKFile  = psk.ErrKey // "bad pre-shared key file"
	ErrAuth     = errors.New("peer: authentication failed")
	ErrTLSSetup = errors.New("peer: bad TLS configuration")
)

// LoadPSK reads failover.auth.psk_file by sync/psk's rule (mode 0600 or
// stricter, a key that passes psk.Check), the rule check-config applies.
func LoadPSK(path string) ([]byte, error) {
	key, err := psk.Load(path)
	if err != nil {
		return nil, fmt.Errorf("peer: %w", err) // wraps ErrPSKFile
	}
	return key, nil
}

// authLabel separates these MACs from any other use of the key.
const authLabel = "hadhcpd peer auth v1"

// authTranscript is what a prover's MAC covers: the label, then the
// prover's role, name and nonce, then the verifier's. Both nonces make it
// fresh (a recorded session cannot be replayed against a new nonce), and
// the order (prover first) makes a proof useless in the other direction,
// so a reflected proof fails.
func authTranscript(prover, verifier *hello) []byte {
	b := []byte(authLabel)
	for _, h := range []*hello{prover, verifier} {
		b = binary.BigEndian.AppendUint16(b, h.Version)
		b = append(b, byte(h.Role))
		b = append(b, h.Nonce[:]...)
		b = append(b, byte(len(h.Name)))
		b = append(b, h.Name...)
	}
	return b
}

func authMAC(key []byte, prover, verifier *hello) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(authTranscript(prover, verifier))
	return m.Sum(nil)
}

// TLSFiles are failover.auth.tls: this node's certificate and key, and the
// CA (or the partner's self-signed certificate, pinned) the partner's
// certificate must chain to.
type TLSFiles struct {
	Cert, Key, CA string
}

// LoadTLS builds the mutual TLS configuration. Both ends present a
// certificate and verify the other's against CA only: host names are not
// checked (the boxes are addressed by IP and the CA is dedicated to the
// pair), and the system roots are never consulted.
func LoadTLS(f TLSFiles) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: cert %s, key %s: %w", ErrTLSSetup, f.Cert, f.Key, err)
	}
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("%w: ca: %w", ErrTLSSetup, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: ca %s holds no PEM certificate", ErrTLSSetup, f.CA)
	}
	return pinnedTLS(cert, pool), nil
}

func pinnedTLS(cert tls.Certificate, pool *x509.CertPool) *tls.Config {
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return fmt.Errorf("%w: partner sent no certificate", ErrAuth)
		}
		certs := make([]*x509.Certificate, len(raw))
		for i, r := range raw {
			c, err := x509.ParseCertificate(r)
			if err != nil {
				return fmt.Errorf("%w: partner certificate: %w", ErrAuth, err)
			}
			certs[i] = c
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, err := certs[0].Verify(x509.VerifyOptions{
			Roots: pool, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			return fmt.Errorf("%w: partner certificate: %w", ErrAuth, err)
		}
		return nil
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS13,
		ClientAuth:   tls.RequireAnyClientCert,
		// The standard verification would check a host name; the pair
		// is pinned to its CA instead, checked in VerifyPeerCertificate,
		// which runs on both ends.
		InsecureSkipVerify:    true,
		VerifyPeerCertificate: verify,
	}
}
