package control

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/testcert"
)

// issue signs a leaf for cn: a server certificate for 127.0.0.1 and
// localhost, or a client certificate. It returns the certificate and key
// in PEM.
func issue(t *testing.T, ca *testcert.CA, cn string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	if server {
		return ca.Issue(t, cn, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, "127.0.0.1", "localhost")
	}
	return ca.Issue(t, cn, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
}

func writeFile(t *testing.T, dir, name string, b []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// lockedBuffer is the log of a server that runs beside the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tlsPKI is a CA with the API's certificate, a client of that CA
// ("alice") and one of another CA ("mallory").
type tlsPKI struct {
	ca             *testcert.CA
	files          TLSFiles // ClientCA set
	alice, mallory tls.Certificate
}

func newTLSPKI(t *testing.T) *tlsPKI {
	t.Helper()
	dir := t.TempDir()
	ca, other := testcert.NewCA(t, "hadhcpd API CA"), testcert.NewCA(t, "someone else's CA")
	p := &tlsPKI{ca: ca}
	sc, sk := issue(t, ca, "gw1", true)
	p.files = TLSFiles{
		Cert:     writeFile(t, dir, "api.pem", sc, 0o644),
		Key:      writeFile(t, dir, "api.key", sk, 0o600),
		ClientCA: writeFile(t, dir, "clients-ca.PEM", ca.PEM, 0o644),
	}
	var err error
	ac, ak := issue(t, ca, "alice", false)
	if p.alice, err = tls.X509KeyPair(ac, ak); err != nil {
		t.Fatal(err)
	}
	mc, mk := issue(t, other, "mallory", false)
	if p.mallory, err = tls.X509KeyPair(mc, mk); err != nil {
		t.Fatal(err)
	}
	return p
}

// serveTLS runs ta's API with TLS config c on a loopback listener until
// the test ends; it returns the base URL and the server's log.
func serveTLS(t *testing.T, ta *testAPI, c *tls.Config) (string, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	ta.api.Log = slog.New(slog.NewTextHandler(logs, nil))
	ta.api.TLS = c
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ta.api.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "https://" + ln.Addr().String(), logs
}

// client trusts ca and presents cert (none when nil), whichever CAs the
// server says it accepts (as curl does; Go's client would otherwise keep
// a certificate of another CA to itself).
func client(ca *testcert.CA, cert *tls.Certificate, tweak func(*tls.Config)) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	c := &tls.Config{RootCAs: roots}
	if cert != nil {
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	if tweak != nil {
		tweak(c)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: c, ForceAttemptHTTP2: true}}
}

// dialTLS makes a TLS connection (no HTTP) to url's listener as client
// would; the caller closes it.
func dialTLS(url string, ca *testcert.CA, cert *tls.Certificate, tweak func(*tls.Config)) (*tls.Conn, error) {
	c := client(ca, cert, tweak).Transport.(*http.Transport).TLSClientConfig
	return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", strings.TrimPrefix(url, "https://"), c)
}

// handshake connects to url's listener with cert and reads: the server's
// alert when it refuses the client, a timeout when it admits it.
func handshake(t *testing.T, url string, ca *testcert.CA, cert *tls.Certificate) error {
	t.Helper()
	conn, err := dialTLS(url, ca, cert, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Read(make([]byte, 1))
	return err
}

// httpsCall sends one request; a nil response is a refused connection or
// handshake (err says why).
func httpsCall(c *http.Client, method, url, body, tok string) (*http.Response, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.CloseIdleConnections()
	return resp, string(b), nil
}

// TestAPIClientCertificates: with node.api_tls.client_ca, the handshake
// refuses a client without a certificate and one whose certificate
// another CA signed; a certificate of the CA is admitted, and the write
// log names its CN.
func TestAPIClientCertificates(t *testing.T) {
	p := newTLSPKI(t)
	c, err := LoadTLS(p.files)
	if err != nil {
		t.Fatal(err)
	}
	ta := newTestAPI(t, nil, nil)
	url, logs := serveTLS(t, ta, c)

	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		why  string // the TLS alert the client receives
	}{
		{"no client certificate", nil, "certificate required"},
		{"certificate of another CA", &p.mallory, "unknown certificate authority"},
	} {
		for _, rq := range []struct{ method, path, body string }{
			{"GET", "/v1/status", ""},
			{"POST", "/v1/maintenance", `{"action":"start"}`},
			{"GET", "/", ""}, // the status page too: nothing without a certificate
		} {
			resp, body, err := httpsCall(client(p.ca, tc.cert, nil), rq.method, url+rq.path, rq.body, "")
			if err == nil {
				t.Errorf("%s: %s %s answered %d %s; want the handshake refused", tc.name, rq.method, rq.path, resp.StatusCode, body)
			}
		}
		// Why: in TLS 1.3 the server refuses after the client's part of
		// the handshake, so the client reads the alert.
		if err := handshake(t, url, p.ca, tc.cert); err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: handshake: %v, want the alert %q", tc.name, err, tc.why)
		}
	}
	if len(ta.ops.calls) != 0 {
		t.Errorf("refused clients reached the operator: %v", ta.ops.calls)
	}
	if !strings.Contains(logs.String(), "TLS handshake error") {
		t.Errorf("refused handshakes not logged:\n%s", logs)
	}

	good := client(p.ca, &p.alice, nil)
	resp, body, err := httpsCall(good, "GET", url+"/v1/status", "", "")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("alice, GET /v1/status: %v %v %s", resp, err, body)
	}
	if resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
		t.Errorf("negotiated %v, want TLS 1.3", resp.TLS)
	}
	resp, body, err = httpsCall(good, "POST", url+"/v1/maintenance", `{"action":"start"}`, "")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("alice, POST /v1/maintenance: %v %v %s", resp, err, body)
	}
	if !strings.Contains(logs.String(), `op="maintenance start" who=cert:alice`) {
		t.Errorf("write not logged as cert:alice:\n%s", logs)
	}
}

// TestAPIClientCertificatesAndToken: with a client CA and a token, the
// certificate is not enough; with both the certificate names the caller.
func TestAPIClientCertificatesAndToken(t *testing.T) {
	p := newTLSPKI(t)
	c, err := LoadTLS(p.files)
	if err != nil {
		t.Fatal(err)
	}
	ta := newTestAPI(t, []byte(testToken), nil)
	url, logs := serveTLS(t, ta, c)
	good := client(p.ca, &p.alice, nil)
	if resp, body, err := httpsCall(good, "POST", url+"/v1/maintenance", `{"action":"start"}`, ""); err != nil || resp.StatusCode != 401 {
		t.Errorf("certificate without the token: %v %v %s, want 401", resp, err, body)
	}
	if _, _, err := httpsCall(client(p.ca, nil, nil), "GET", url+"/v1/status", "", testToken); err == nil {
		t.Error("token without a certificate: answered; want the handshake refused")
	}
	if resp, body, err := httpsCall(good, "POST", url+"/v1/maintenance", `{"action":"stop"}`, testToken); err != nil || resp.StatusCode != 200 {
		t.Fatalf("certificate and token: %v %v %s", resp, err, body)
	}
	if !strings.Contains(logs.String(), `op="maintenance stop" who=cert:alice`) {
		t.Errorf("write not logged as cert:alice:\n%s", logs)
	}
	if len(ta.ops.calls) != 1 {
		t.Errorf("operator calls %v, want the one authenticated write", ta.ops.calls)
	}
}

// TestAPITLSTokenOnly: TLS without a client CA changes only the
// transport; the token authenticates and names the caller as before.
func TestAPITLSTokenOnly(t *testing.T) {
	p := newTLSPKI(t)
	files := p.files
	files.ClientCA = ""
	c, err := LoadTLS(files)
	if err != nil {
		t.Fatal(err)
	}
	ta := newTestAPI(t, []byte(testToken), nil)
	url, logs := serveTLS(t, ta, c)
	anon := client(p.ca, nil, nil)
	if resp, body, err := httpsCall(anon, "GET", url+"/v1/status", "", ""); err != nil || resp.StatusCode != 401 {
		t.Errorf("no token: %v %v %s, want 401", resp, err, body)
	}
	if resp, body, err := httpsCall(anon, "POST", url+"/v1/maintenance", `{"action":"start"}`, testToken); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %v %v %s", resp, err, body)
	}
	if want := `op="maintenance start" who=` + TokenID([]byte(testToken)); !strings.Contains(logs.String(), want) {
		t.Errorf("write not logged as %s:\n%s", want, logs)
	}
}

// TestAPIRequiresVerifiedCertificate: should the listener ever ask for
// certificates without requiring them, the API still refuses a request
// that came without one.
func TestAPIRequiresVerifiedCertificate(t *testing.T) {
	p := newTLSPKI(t)
	c, err := LoadTLS(p.files)
	if err != nil {
		t.Fatal(err)
	}
	c.ClientAuth = tls.VerifyClientCertIfGiven
	ta := newTestAPI(t, nil, nil)
	url, _ := serveTLS(t, ta, c)
	if resp, body, err := httpsCall(client(p.ca, nil, nil), "POST", url+"/v1/maintenance", `{"action":"start"}`, ""); err != nil || resp.StatusCode != 401 {
		t.Errorf("no certificate: %v %v %s, want 401", resp, err, body)
	}
	if len(ta.ops.calls) != 0 {
		t.Errorf("a request without a certificate reached the operator: %v", ta.ops.calls)
	}
}

// TestAPITLSVersions: TLS 1.3 when the client offers it; TLS 1.2 with a
// forward-secret AEAD suite; older versions and weak TLS 1.2 suites are
// refused in the handshake.
func TestAPITLSVersions(t *testing.T) {
	p := newTLSPKI(t)
	c, err := LoadTLS(p.files)
	if err != nil {
		t.Fatal(err)
	}
	ta := newTestAPI(t, nil, nil)
	url, _ := serveTLS(t, ta, c)
	tls12 := func(suites ...uint16) func(*tls.Config) {
		return func(c *tls.Config) { c.MaxVersion, c.CipherSuites = tls.VersionTLS12, suites }
	}
	for _, tc := range []struct {
		name    string
		tweak   func(*tls.Config)
		version uint16 // 0: refused
	}{
		{"any", nil, tls.VersionTLS13},
		{"TLS 1.2, ECDHE AES-GCM", tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), tls.VersionTLS12},
		{"TLS 1.2, ECDHE ChaCha20", tls12(tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256), tls.VersionTLS12},
		{"TLS 1.1", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }, 0},
		{"TLS 1.2, ECDHE CBC", tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256), 0},
	} {
		conn, err := dialTLS(url, p.ca, &p.alice, tc.tweak)
		switch {
		case tc.version != 0 && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.version != 0 && conn.ConnectionState().Version != tc.version:
			t.Errorf("%s: %s, want %s", tc.name, tls.VersionName(conn.ConnectionState().Version), tls.VersionName(tc.version))
		case tc.version == 0 && err == nil:
			t.Errorf("%s: accepted %s %s, want refused", tc.name, tls.VersionName(conn.ConnectionState().Version),
				tls.CipherSuiteName(conn.ConnectionState().CipherSuite))
		}
		if conn != nil {
			conn.Close()
		}
	}
}

// TestLoadTLS: the key must be its owner's alone, the pair must match and
// the client CA must hold a certificate; each error names its key.
func TestLoadTLS(t *testing.T) {
	p := newTLSPKI(t)
	dir := t.TempDir()
	key, err := os.ReadFile(p.files.Key)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey := issue(t, p.ca, "other", true)
	for _, tc := range []struct {
		name string
		f    func(TLSFiles) TLSFiles
		want string // "": accepted
	}{
		{"good", func(f TLSFiles) TLSFiles { return f }, ""},
		{"no client CA", func(f TLSFiles) TLSFiles { f.ClientCA = ""; return f }, ""},
		{"key readable by others", func(f TLSFiles) TLSFiles { f.Key = writeFile(t, dir, "644.key", key, 0o644); return f }, "node.api_tls.key: " + dir + "/644.key is mode 0644"},
		{"key readable by group", func(f TLSFiles) TLSFiles { f.Key = writeFile(t, dir, "640.key", key, 0o640); return f }, "is mode 0640"},
		{"key missing", func(f TLSFiles) TLSFiles { f.Key = filepath.Join(dir, "absent"); return f }, "node.api_tls.key: "},
		{"key of another certificate", func(f TLSFiles) TLSFiles { f.Key = writeFile(t, dir, "o.key", otherKey, 0o600); return f }, "does not match"},
		{"client CA missing", func(f TLSFiles) TLSFiles { f.ClientCA = filepath.Join(dir, "absent"); return f }, "node.api_tls.client_ca: "},
		{"client CA without a certificate", func(f TLSFiles) TLSFiles { f.ClientCA = writeFile(t, dir, "k.pem", key, 0o600); return f }, "node.api_tls.client_ca: " + dir + "/k.pem holds no PEM certificate"},
	} {
		c, err := LoadTLS(tc.f(p.files))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want == "" && (c.MinVersion != tls.VersionTLS12 || len(c.Certificates) != 1):
			t.Errorf("%s: %+v", tc.name, c)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want …%s…", tc.name, err, tc.want)
		}
	}
}
