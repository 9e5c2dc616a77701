// Package migratetest holds what the importers' tests share.
package migratetest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// Load writes an importer's config as YAML and loads it the way `hadhcpd
// run` does (strict keys, Validate), failing the test with the YAML when it
// does not pass: every importer's output must pass check-config.
func Load(t testing.TB, res *migrate.Result) *config.Config {
	t.Helper()
	y, err := migrate.MarshalConfig(res.Config, "test")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "hadhcpd.yaml")
	if err := os.WriteFile(p, y, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatalf("config.Load of the imported config: %v\n%s", err, y)
	}
	return cfg
}
