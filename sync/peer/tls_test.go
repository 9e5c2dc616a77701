package peer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/hadhcpd/hadhcpd/internal/testcert"
)

// selfSigned makes a self-signed certificate (its own CA: pinned).
func selfSigned(t *testing.T, cn string) (tls.Certificate, *x509.CertPool, []byte) {
	ca := testcert.NewCA(t, cn)
	return ca.TLS(), ca.Pool(), ca.DER
}

func TestTLSPinned(t *testing.T) {
	certA, poolA, _ := selfSigned(t, "gw1")
	certB, poolB, _ := selfSigned(t, "gw2")
	_, poolEvil, _ := selfSigned(t, "evil")
	pair := func(caForA, caForB *x509.CertPool) (a, b *node, errs chan error) {
		clock := newFakeClock()
		a = newNode(t, "gw1", Primary, clock, func(o *Options) { o.PSK = nil; o.TLS = pinnedTLS(certA, caForA) })
		b = newNode(t, "gw2", Secondary, clock, func(o *Options) { o.PSK = nil; o.TLS = pinnedTLS(certB, caForB) })
		ca, cb := net.Pipe()
		t.Cleanup(func() { ca.Close(); cb.Close() })
		errs = make(chan error, 2)
		go func() { errs <- a.l.HandleConn(context.Background(), ca, true) }()
		go func() { errs <- b.l.HandleConn(context.Background(), cb, false) }()
		return a, b, errs
	}
	t.Run("pinned", func(t *testing.T) {
		a, b, _ := pair(poolB, poolA) // each trusts the other's certificate
		waitFor[Up](t, a.events)
		waitFor[Up](t, b.events)
	})
	t.Run("unpinned", func(t *testing.T) {
		a, b, errs := pair(poolB, poolEvil) // b does not trust a's certificate
		for range 2 {
			if err := recvErr(t, errs); err == nil {
				t.Fatal("a session came up with an unpinned certificate")
			}
		}
		if a.l.Up() || b.l.Up() {
			t.Fatal("link up with an unpinned certificate")
		}
		if got := counterValue(t, b.l.m.Refused.WithLabelValues("tls")); got != 1 {
			t.Errorf("refused{tls} = %v, want 1", got)
		}
	})
}

func TestLoadTLSAndPSKFiles(t *testing.T) {
	dir := t.TempDir()
	cert, _, der := selfSigned(t, "gw1")
	kb, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	cp, kp := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(cp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(kp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	if _, err := LoadTLS(TLSFiles{Cert: cp, Key: kp, CA: cp}); err != nil {
		t.Fatalf("LoadTLS: %v", err)
	}
	if _, err := LoadTLS(TLSFiles{Cert: cp, Key: kp, CA: kp}); err == nil {
		t.Fatal("LoadTLS accepted a CA file without a certificate")
	}

	good := filepath.Join(dir, "good.key")
	os.WriteFile(good, testKey, 0o600)
	if k, err := LoadPSK(good); err != nil || len(k) != 32 {
		t.Fatalf("LoadPSK(good) = %d bytes, %v", len(k), err)
	}
	open := filepath.Join(dir, "open.key")
	os.WriteFile(open, testKey, 0o644)
	os.Chmod(open, 0o644)
	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, testKey[:31], 0o600)
	for _, p := range []string{open, short, filepath.Join(dir, "missing"), dir} {
		if _, err := LoadPSK(p); err == nil {
			t.Errorf("LoadPSK(%s) accepted", filepath.Base(p))
		}
	}
}
