// Package migratetest holds what the importers' tests share.
package migratetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// Convert imports conf (and the files it names below root) as `hadhcpd
// import FORMAT` does, with d's defaults and a fresh state directory.
func Convert(t testing.TB, f migrate.Format, conf, root string, d migrate.Defaults) *migrate.Result {
	t.Helper()
	d.StateDir = t.TempDir()
	res, err := migrate.Convert(migrate.Input{Format: f, Conf: conf, Root: root, Defaults: d})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// ReportHas fails the test for each of want the report's text lacks.
func ReportHas(t testing.TB, res *migrate.Result, want ...string) {
	t.Helper()
	var b strings.Builder
	_ = res.Report.WriteText(&b)
	for _, w := range want {
		if !strings.Contains(b.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, b.String())
		}
	}
}

// Class is the client class named name in d, nil when there is none.
func Class(d *config.DHCPConfig, name string) *config.ClientClassConfig {
	for i := range d.ClientClasses {
		if d.ClientClasses[i].Name == name {
			return &d.ClientClasses[i]
		}
	}
	return nil
}

// Load writes an importer's config as YAML and loads it the way `hadhcpd
// run` does (strict keys, Validate), failing the test with the YAML when it
// does not pass: every importer's output must pass check-config.
func Load(t testing.TB, res *migrate.Result) *config.Config {
	t.Helper()
	cfg, y, err := load(t, res)
	if err != nil {
		t.Fatalf("config.Load of the imported config: %v\n%s", err, y)
	}
	return cfg
}

// LoadPending is Load for a config that uses keys whose server side is
// not merged yet (named in pending): when check-config refuses the
// config, the test is skipped naming them instead of failing. With
// pending empty it is Load. Remove a key from the callers' lists when
// its server side lands.
func LoadPending(t testing.TB, res *migrate.Result, pending ...string) *config.Config {
	t.Helper()
	if len(pending) == 0 {
		return Load(t, res)
	}
	cfg, _, err := load(t, res)
	if err != nil {
		t.Skipf("check-config refuses the import, and the server side of %v is not merged yet: %v", pending, err)
	}
	return cfg
}

// load writes res's config as YAML and loads it; it returns the YAML too.
func load(t testing.TB, res *migrate.Result) (*config.Config, []byte, error) {
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
	return cfg, y, err
}

// SourceProblems lists the report's unsupported and invalid items that
// come from the source (they have a place in it), leaving out what the
// check-config pass (migrate.CheckConfig) adds: tests assert the two
// apart.
func SourceProblems(rep *migrate.Report) []migrate.Item {
	var out []migrate.Item
	for _, it := range rep.Items {
		if (it.Kind == migrate.Unsupported || it.Kind == migrate.Invalid) && it.Pos != (migrate.Pos{}) {
			out = append(out, it)
		}
	}
	return out
}
