package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"

	"github.com/hadhcpd/hadhcpd/sync/psk"
)

// CheckFiles reads the files c names, failover.auth's key or certificates,
// by the rules the peer link applies when the agent starts, so that
// `check-config` refuses what `run` would. It returns every problem at
// once, each naming its key and matching ErrConfig, and changes nothing.
//
// It is apart from Load and Build, which read the config file alone:
// the importers build configs for a box whose key does not exist yet,
// and status, leases and cleanup load the config without needing it.
func (c *Config) CheckFiles() error {
	f := c.Failover
	if f == nil {
		return nil
	}
	var v validator
	if f.Auth.PSKFile != "" {
		if err := checkPSK(f.Auth.PSKFile); err != nil {
			v.add("failover.auth.psk_file", "%v", err)
		}
	}
	if f.Auth.TLS != nil {
		checkTLS(&v, f.Auth.TLS)
	}
	return v.err()
}

// checkPSK is the peer link's rule (sync/psk.Load, which the link reads
// the file with): a regular file, not accessible by group or others (the
// key lets a box rewrite its partner's lease database), holding a key
// that passes psk.Check.
func checkPSK(path string) error {
	_, err := psk.Load(path)
	return err
}

// checkTLS is sync/peer.LoadTLS's rule: the certificate and key make a
// pair, and the CA file holds at least one PEM certificate. Each problem
// is named by the key of the file that causes it.
func checkTLS(v *validator, t *TLSConfig) {
	const k = "failover.auth.tls"
	cert, certErr := readSet(t.Cert)
	if certErr != nil {
		v.add(k+".cert", "%v", certErr)
	}
	key, keyErr := readSet(t.Key)
	if keyErr != nil {
		v.add(k+".key", "%v", keyErr)
	}
	if certErr == nil && keyErr == nil && t.Cert != "" && t.Key != "" {
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			// The pair fails on its certificate when that has no
			// readable leaf; otherwise on the key (unreadable, or not
			// the certificate's).
			if leafParses(cert) {
				v.add(k+".key", "%s with certificate %s: %v", t.Key, t.Cert, err)
			} else {
				v.add(k+".cert", "%s: %v", t.Cert, err)
			}
		}
	}
	if ca, err := readSet(t.CA); err != nil {
		v.add(k+".ca", "%v", err)
	} else if t.CA != "" && !x509.NewCertPool().AppendCertsFromPEM(ca) {
		v.add(k+".ca", "%s holds no PEM certificate", t.CA)
	}
}

// readSet reads path; an empty path is Load's to report (must be set).
func readSet(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	return os.ReadFile(path)
}

// leafParses reports whether the first certificate of a PEM file (the one
// a TLS pair presents) parses.
func leafParses(b []byte) bool {
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return false
		}
		if blk.Type == "CERTIFICATE" {
			_, err := x509.ParseCertificate(blk.Bytes)
			return err == nil
		}
	}
}
