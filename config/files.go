package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// minPSKLen is the shortest pre-shared key the peer link accepts
// (sync/peer.MinPSKLen: this package may not import the link, so a test
// holds the two rules together).
const minPSKLen = 32

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
	for i, r := range f.Relationships {
		if r.Auth.PSKFile != "" {
			if err := checkPSK(r.Auth.PSKFile); err != nil {
				v.add(fmt.Sprintf("failover.relationships[%d].auth.psk_file", i), "%v", err)
			}
		}
		if r.Auth.TLS != nil {
			checkTLSAt(&v, fmt.Sprintf("failover.relationships[%d].auth.tls", i), r.Auth.TLS)
		}
	}
	return v.err()
}

// checkPSK is sync/peer.LoadPSK's rule: a regular file, not accessible by
// group or others (the key lets a box rewrite its partner's lease
// database), of at least minPSKLen bytes.
func checkPSK(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s has mode %#o; it must not be accessible by group or others (chmod 600)", path, perm)
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(key) < minPSKLen {
		return fmt.Errorf("%s holds %d bytes; at least %d random bytes are needed (head -c 32 /dev/urandom > %s)", path, len(key), minPSKLen, path)
	}
	return nil
}

// checkTLS is sync/peer.LoadTLS's rule: the certificate and key make a
// pair, and the CA file holds at least one PEM certificate. Each problem
// is named by the key of the file that causes it.
func checkTLS(v *validator, t *TLSConfig) { checkTLSAt(v, "failover.auth.tls", t) }

// checkTLSAt is checkTLS naming the keys under k.
func checkTLSAt(v *validator, k string, t *TLSConfig) {
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
