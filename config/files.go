package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/hadhcpd/hadhcpd/sync/psk"
)

// CheckFiles reads the files c names, failover.auth's key or certificates
// and node.api_tls's, by the rules the peer link and the API apply when
// the agent starts, so that `check-config` refuses what `run` would. It
// returns every problem at once, each naming its key and matching
// ErrConfig, and changes nothing.
//
// It is apart from Load and Build, which read the config file alone:
// the importers build configs for a box whose key does not exist yet,
// and status, leases and cleanup load the config without needing it.
func (c *Config) CheckFiles() error {
	var v validator
	if f := c.Failover; f != nil {
		checkAuth(&v, "failover.auth", &f.Auth)
		for i := range f.Relationships {
			checkAuth(&v, fmt.Sprintf("failover.relationships[%d].auth", i), &f.Relationships[i].Auth)
		}
	}
	if t := c.Node.APITLS; t != nil && c.Node.APIListen != "" {
		// control.LoadTLS's rule: the pair, its key readable by its
		// owner only (as a psk_file), and the client CA when set.
		checkPair(&v, "node.api_tls", t.Cert, t.Key, true)
		checkCA(&v, "node.api_tls.client_ca", t.ClientCA)
	}
	return v.err()
}

// checkAuth checks the files of a failover auth (key k): the psk_file,
// or sync/peer.LoadTLS's rule for tls, the pair and a CA.
func checkAuth(v *validator, k string, a *AuthConfig) {
	if a.PSKFile != "" {
		if err := checkPSK(a.PSKFile); err != nil {
			v.add(k+".psk_file", "%v", err)
		}
	}
	if t := a.TLS; t != nil {
		checkPair(v, k+".tls", t.Cert, t.Key, false)
		checkCA(v, k+".tls.ca", t.CA)
	}
}

// checkPSK is the peer link's rule (sync/psk.Load, which the link reads
// the file with): a regular file, not accessible by group or others (the
// key lets a box rewrite its partner's lease database), holding a key
// that passes psk.Check.
func checkPSK(path string) error {
	_, err := psk.Load(path)
	return err
}

// checkPrivate: path is a regular file that neither group nor others may
// access.
func checkPrivate(path string) error {
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
	return nil
}

// checkPair: the certificate and key files under key k (k.cert, k.key)
// make a TLS pair; with private, the key file is also checkPrivate's.
// Each problem is named by the key of the file that causes it.
func checkPair(v *validator, k, certPath, keyPath string, private bool) {
	cert, certErr := readSet(certPath)
	if certErr != nil {
		v.add(k+".cert", "%v", certErr)
	}
	key, keyErr := readSet(keyPath)
	if keyErr == nil && private && keyPath != "" {
		keyErr = checkPrivate(keyPath)
	}
	if keyErr != nil {
		v.add(k+".key", "%v", keyErr)
	}
	if certErr == nil && keyErr == nil && certPath != "" && keyPath != "" {
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			// The pair fails on its certificate when that has no
			// readable leaf; otherwise on the key (unreadable, or not
			// the certificate's).
			if leafParses(cert) {
				v.add(k+".key", "%s with certificate %s: %v", keyPath, certPath, err)
			} else {
				v.add(k+".cert", "%s: %v", certPath, err)
			}
		}
	}
}

// checkCA: the CA file under key k holds at least one PEM certificate.
func checkCA(v *validator, k, path string) {
	if ca, err := readSet(path); err != nil {
		v.add(k, "%v", err)
	} else if path != "" && !x509.NewCertPool().AppendCertsFromPEM(ca) {
		v.add(k, "%s holds no PEM certificate", path)
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
