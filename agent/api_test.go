package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/config/configtest"
	"github.com/hadhcpd/hadhcpd/internal/testcert"
)

func apiBuilt(t *testing.T, tokenFile string) *config.Built {
	t.Helper()
	cfg := configtest.Load(t, `
node: {name: gw2, state_dir: `+t.TempDir()+`, api_listen: "192.0.2.2:9768", api_token_file: `+tokenFile+`}
vrrp:
  instances:
    - {name: lan, interface: eth0, vrid: 51, priority: 100, virtual_ips: [192.0.2.1/24]}
`)
	b, err := config.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The agent refuses a token file others may read, and runs the API's
// reloads through its loop (the channel the SIGHUP loop serves).
func TestNewAPI(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tok := filepath.Join(t.TempDir(), "api.token")
	if err := os.WriteFile(tok, []byte("0123456789abcdef0123\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := &statusSource{node: "gw2", started: time.Now()}
	reloads := make(chan chan error)
	if _, err := newAPI(apiBuilt(t, tok), log, src, nil, true, reloads); err == nil || !strings.Contains(err.Error(), "node.api_token_file") {
		t.Fatalf("world-readable token file: err %v", err)
	}
	if err := os.Chmod(tok, 0o600); err != nil {
		t.Fatal(err)
	}
	api, err := newAPI(apiBuilt(t, tok), log, src, nil, true, reloads)
	if err != nil {
		t.Fatal(err)
	}
	if string(api.Token) != "0123456789abcdef0123" || api.Ops != nil || api.Leases != nil || api.Reload == nil {
		t.Fatalf("api %+v", api)
	}
	want := errors.New("config not valid")
	go func() { done := <-reloads; done <- want }()
	if err := api.Reload(context.Background()); err != want {
		t.Errorf("reload: %v, want the loop's answer", err)
	}
	// A loop that is stopping serves no reload; the caller's deadline ends it.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := api.Reload(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("reload without a loop: %v", err)
	}
	if api, _ := newAPI(apiBuilt(t, tok), log, src, nil, false, reloads); api.Reload != nil {
		t.Error("reload offered without a config file to read")
	}
}

// The agent reads node.api_tls at start: a key others may read is
// refused; with client_ca the listener requires client certificates.
func TestNewAPITLS(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	ca := testcert.NewCA(t, "gw2")
	certFile, keyFile := filepath.Join(dir, "api.pem"), filepath.Join(dir, "api.key")
	if err := os.WriteFile(certFile, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, ca.KeyPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := configtest.Load(t, `
node: {name: gw2, state_dir: `+dir+`, api_listen: "192.0.2.2:9768",
  api_tls: {cert: `+certFile+`, key: `+keyFile+`, client_ca: `+certFile+`}}
vrrp:
  instances:
    - {name: lan, interface: eth0, vrid: 51, priority: 100, virtual_ips: [192.0.2.1/24]}
`)
	b, err := config.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := &statusSource{node: "gw2", started: time.Now()}
	if _, err := newAPI(b, log, src, nil, false, nil); err == nil || !strings.Contains(err.Error(), "node.api_tls.key") {
		t.Fatalf("world-readable key: err %v", err)
	}
	if err := os.Chmod(keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	api, err := newAPI(b, log, src, nil, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if api.TLS == nil || api.TLS.ClientCAs == nil || api.TLS.ClientAuth != tls.RequireAndVerifyClientCert || api.Token != nil {
		t.Fatalf("api TLS %+v token %q", api.TLS, api.Token)
	}
}
