package control

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
)

// TLSFiles are node.api_tls's files.
type TLSFiles struct {
	Cert, Key string
	// ClientCA: "" = no client certificates (the token or loopback
	// authenticates).
	ClientCA string
}

// apiCipherSuites are the TLS 1.2 suites the API accepts: forward secret
// (ECDHE) and authenticated encryption (AEAD) only, no CBC, no RSA key
// exchange (RFC 9325 section 4.2). TLS 1.3's suites are all of that kind
// and are not configurable.
var apiCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// LoadTLS reads node.api_tls's files into the listener's TLS config: the
// certificate and its key (a key group or others may read is refused, as
// the token file is), and, with ClientCA, the CA whose certificates every
// client must present (checked in the handshake; a client without one
// never reaches a handler). TLS 1.2 at least; a client that offers 1.3
// gets it.
func LoadTLS(f TLSFiles) (*tls.Config, error) {
	fi, err := os.Stat(f.Key)
	if err != nil {
		return nil, fmt.Errorf("node.api_tls.key: %w", err)
	}
	if err := private("node.api_tls.key", f.Key, fi); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("node.api_tls: cert %s, key %s: %w", f.Cert, f.Key, err)
	}
	c := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: apiCipherSuites,
	}
	if f.ClientCA != "" {
		b, err := os.ReadFile(f.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("node.api_tls.client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("node.api_tls.client_ca: %s holds no PEM certificate", f.ClientCA)
		}
		// The standard verification: signed by the CA, in its validity
		// period, and meant for clients (extended key usage clientAuth).
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// CertID names the caller of a client certificate in the write log: its
// subject's common name; without one, the whole subject, or at least the
// serial number.
func CertID(c *x509.Certificate) string {
	switch {
	case c.Subject.CommonName != "":
		return "cert:" + c.Subject.CommonName
	case len(c.Subject.String()) > 0:
		return "cert:" + c.Subject.String()
	default:
		return "cert:serial=" + hex.EncodeToString(c.SerialNumber.Bytes())
	}
}
