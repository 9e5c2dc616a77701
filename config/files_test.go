package config

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hadhcpd/hadhcpd/internal/testcert"
	"github.com/hadhcpd/hadhcpd/sync/peer"
)

// keyOf is the one error CheckFiles returned for key (nil: none), failing
// the test on errors for other keys.
func keyOf(t *testing.T, err error, key string) *ConfigError {
	t.Helper()
	var hit *ConfigError
	for _, e := range Errors(err) {
		var ce *ConfigError
		if !errors.As(e, &ce) {
			t.Fatalf("not a ConfigError: %v", e)
		}
		if !errors.Is(e, ErrConfig) {
			t.Errorf("not ErrConfig: %v", e)
		}
		if ce.Key != key {
			t.Errorf("unexpected error for %s: %v", ce.Key, ce)
			continue
		}
		hit = ce
	}
	return hit
}

// wantKeyErr checks CheckFiles' err: nil when key is empty, else an
// error for key alone whose reason contains reason.
func wantKeyErr(t *testing.T, err error, key, reason string) {
	t.Helper()
	switch {
	case key == "" && err != nil:
		t.Errorf("refused: %v", err)
	case key != "":
		if ce := keyOf(t, err, key); ce == nil || !strings.Contains(ce.Reason, reason) {
			t.Errorf("got %v, want %s: ...%s...", err, key, reason)
		}
	}
}

// TestCheckPSKFile: check-config applies the peer link's rule to
// failover.auth.psk_file, and the two rules agree on every case (the
// agent refuses to start on what sync/peer.LoadPSK refuses).
func TestCheckPSKFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		key := make([]byte, n)
		rand.Read(key)
		if err := os.WriteFile(p, key, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	weak := filepath.Join(dir, "weak.key")
	if err := os.WriteFile(weak, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.key")
	if err := os.Symlink(write("target.key", 32, 0o600), link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, reason string // reason "": accepted
	}{
		{"good", write("good.key", 48, 0o600), ""},
		{"read-only", write("ro.key", 32, 0o400), ""},
		{"symlink to a good key", link, ""},
		{"missing", filepath.Join(dir, "absent.key"), "no such file"},
		{"a directory", dir, "not a regular file"},
		{"world-readable", write("world.key", 48, 0o644), "mode 0644"},
		{"group-readable", write("group.key", 48, 0o640), "mode 0640"},
		{"world-writable only", write("ww.key", 48, 0o602), "mode 0602"},
		{"short", write("short.key", 10, 0o600), "10 bytes"},
		{"one byte short", write("31.key", 31, 0o600), "31 bytes"},
		{"weak", weak, "too weak"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{Failover: &FailoverConfig{Auth: AuthConfig{PSKFile: tc.path}}}
			err := c.CheckFiles()
			ce := keyOf(t, err, "failover.auth.psk_file")
			switch {
			case tc.reason == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.reason != "" && (ce == nil || !strings.Contains(ce.Reason, tc.reason)):
				t.Errorf("got %v, want failover.auth.psk_file: ...%s...", err, tc.reason)
			}
			if _, perr := peer.LoadPSK(tc.path); (perr == nil) != (err == nil) {
				t.Errorf("the rules disagree: check-config %v, sync/peer.LoadPSK %v", err, perr)
			}
		})
	}
}

// TestCheckTLSFiles: the certificate, key and CA files must exist and
// parse as sync/peer.LoadTLS reads them; each problem names its key, and
// the two rules agree on every case.
func TestCheckTLSFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certPEM, keyPEM := selfSigned(t)
	_, otherKey := selfSigned(t)
	cert, key, ca := write("gw1.pem", certPEM), write("gw1.key", keyPEM), write("ca.pem", certPEM)
	absent := filepath.Join(dir, "absent.pem")
	garbage := write("garbage.pem", []byte("not PEM\n"))
	wrongKey := write("other.key", otherKey)
	keyOnly := write("keyonly.pem", keyPEM)
	for _, tc := range []struct {
		name        string
		files       TLSConfig
		key, reason string // key "": accepted
	}{
		{"good", TLSConfig{Cert: cert, Key: key, CA: ca}, "", ""},
		{"cert missing", TLSConfig{Cert: absent, Key: key, CA: ca}, "failover.auth.tls.cert", "no such file"},
		{"cert not PEM", TLSConfig{Cert: garbage, Key: key, CA: ca}, "failover.auth.tls.cert", "PEM"},
		{"cert file holds a key", TLSConfig{Cert: keyOnly, Key: key, CA: ca}, "failover.auth.tls.cert", ""},
		{"key missing", TLSConfig{Cert: cert, Key: absent, CA: ca}, "failover.auth.tls.key", "no such file"},
		{"key not PEM", TLSConfig{Cert: cert, Key: garbage, CA: ca}, "failover.auth.tls.key", ""},
		{"key of another certificate", TLSConfig{Cert: cert, Key: wrongKey, CA: ca}, "failover.auth.tls.key", "does not match"},
		{"ca missing", TLSConfig{Cert: cert, Key: key, CA: absent}, "failover.auth.tls.ca", "no such file"},
		{"ca without a certificate", TLSConfig{Cert: cert, Key: key, CA: garbage}, "failover.auth.tls.ca", "no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := tc.files
			c := &Config{Failover: &FailoverConfig{Auth: AuthConfig{TLS: &files}}}
			err := c.CheckFiles()
			wantKeyErr(t, err, tc.key, tc.reason)
			_, perr := peer.LoadTLS(peer.TLSFiles{Cert: files.Cert, Key: files.Key, CA: files.CA})
			if (perr == nil) != (err == nil) {
				t.Errorf("the rules disagree: check-config %v, sync/peer.LoadTLS %v", err, perr)
			}
		})
	}
}

// TestCheckRelationshipFiles: each relationship's own auth files are
// checked as the section's, named under the relationship.
func TestCheckRelationshipFiles(t *testing.T) {
	dir := t.TempDir()
	absent := filepath.Join(dir, "absent")
	c := &Config{Failover: &FailoverConfig{Relationships: []RelationshipConfig{
		{Name: "a"},
		{Name: "b", Auth: AuthConfig{PSKFile: absent}},
		{Name: "c", Auth: AuthConfig{TLS: &TLSConfig{Cert: absent, Key: absent, CA: absent}}},
	}}}
	got := map[string]bool{}
	for _, e := range Errors(c.CheckFiles()) {
		var ce *ConfigError
		if !errors.As(e, &ce) || !strings.Contains(ce.Reason, "no such file") {
			t.Errorf("unexpected error %v", e)
			continue
		}
		got[ce.Key] = true
	}
	for _, k := range []string{
		"failover.relationships[1].auth.psk_file",
		"failover.relationships[2].auth.tls.cert",
		"failover.relationships[2].auth.tls.key",
		"failover.relationships[2].auth.tls.ca",
	} {
		if !got[k] {
			t.Errorf("no error for %s (got %v)", k, got)
		}
	}
	if len(got) != 4 {
		t.Errorf("errors for %v, want the four above", got)
	}
}

// TestCheckFilesSingleServer: without a failover section there is no file
// to check.
func TestCheckFilesSingleServer(t *testing.T) {
	if err := (&Config{}).CheckFiles(); err != nil {
		t.Fatal(err)
	}
}

// selfSigned is a certificate that is its own CA, and its key, in PEM.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	ca := testcert.NewCA(t, "gw1")
	return ca.PEM, ca.KeyPEM
}
