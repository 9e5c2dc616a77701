// Package testcert makes throwaway certificates for tests: a self-signed
// CA (which is also a usable self-signed certificate: pinned) and the
// leaves it signs, in PEM and parsed.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"
)

// CA is a P-256 self-signed certificate authority made for one test.
type CA struct {
	Cert   *x509.Certificate
	Key    *ecdsa.PrivateKey
	DER    []byte // Cert, DER
	PEM    []byte // Cert, PEM
	KeyPEM []byte // Key, PKCS #8 in PEM
}

// Both are the extended key usages of a certificate that serves on both
// ends of a link (the peer link: each box dials and accepts).
var Both = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}

// NewCA makes a CA named cn, valid from an hour ago for a day. It may sign
// (and, used as its own leaf, serve or authenticate) for both ends of a
// link: Go's verifier requires a CA's extended key usages to cover its
// leaves'.
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: Both,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: cert, Key: key, DER: der, PEM: certPEM(der), KeyPEM: keyPEM(t, key)}
}

// TLS is the CA as a certificate of its own (self-signed, pinned).
func (ca *CA) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{ca.DER}, PrivateKey: ca.Key, Leaf: ca.Cert}
}

// Pool is a pool that trusts the CA alone.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issue signs a leaf for cn with the given extended key usages, valid for
// hosts (IP addresses or DNS names), and returns its certificate and key in
// PEM.
func (ca *CA) Issue(t testing.TB, cn string, usage []x509.ExtKeyUsage, hosts ...string) (cert, key []byte) {
	t.Helper()
	k := newKey(t)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: usage,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &k.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM(der), keyPEM(t, k)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func keyPEM(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
