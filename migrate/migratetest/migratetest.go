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
