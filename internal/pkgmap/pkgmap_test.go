package pkgmap

import (
	"bufio"
	"fmt"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/hadhcpd/hadhcpd/"

// row is one line of the README's package map: the packages it names
// and what they may import.
type row struct {
	pkgs    []string
	allowed []string // "x" or "x/..." (x and below); "anything"
}

// matches reports whether name is named by pattern ("x" or "x/...").
func matches(pattern, name string) bool {
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return name == p || strings.HasPrefix(name, p+"/")
	}
	return name == pattern
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readMap parses the table under "### Package map" in README.md.
func readMap(t *testing.T, readme string) []row {
	t.Helper()
	f, err := os.Open(readme)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []row
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "### Package map":
			in = true
			continue
		case !in:
			continue
		case strings.HasPrefix(line, "#"):
			return rows
		case !strings.HasPrefix(line, "| `"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 {
			t.Fatalf("README package map: %q: want 3 cells", line)
		}
		var r row
		for _, m := range backticked.FindAllStringSubmatch(cells[0], -1) {
			r.pkgs = append(r.pkgs, m[1])
		}
		if strings.TrimSpace(cells[2]) == "anything (tests only)" {
			r.allowed = []string{"anything"}
		}
		for _, m := range backticked.FindAllStringSubmatch(cells[2], -1) {
			r.allowed = append(r.allowed, m[1])
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("README.md has no package map")
	}
	return rows
}

// imports lists the module's packages (by folder) and the imports of
// their non-test files: what a binary built from them links.
func imports(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		if err != nil {
			var none *build.NoGoError
			if errorsAs(err, &none) {
				return nil
			}
			return fmt.Errorf("%s: %w", path, err)
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		var imps []string
		for _, imp := range pkg.Imports {
			if local, ok := strings.CutPrefix(imp, module); ok {
				imps = append(imps, local)
			} else if strings.Contains(strings.Split(imp, "/")[0], ".") {
				imps = append(imps, imp) // not the standard library
			}
		}
		if len(pkg.GoFiles) > 0 || len(pkg.TestGoFiles) > 0 || len(pkg.XTestGoFiles) > 0 {
			out[rel] = imps
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func errorsAs(err error, target **build.NoGoError) bool {
	e, ok := err.(*build.NoGoError)
	if ok {
		*target = e
	}
	return ok
}

// TestPackageMap: every package has a row and imports only what its row
// allows.
func TestPackageMap(t *testing.T) {
	root := filepath.Join("..", "..")
	rows := readMap(t, filepath.Join(root, "README.md"))
	pkgs := imports(t, root)
	if len(pkgs) < 10 {
		t.Fatalf("found %d packages under %s: is this the module root?", len(pkgs), root)
	}
	used := make([]bool, len(rows))
	for pkg, imps := range pkgs {
		ri := slices.IndexFunc(rows, func(r row) bool {
			return slices.ContainsFunc(r.pkgs, func(p string) bool { return matches(p, pkg) })
		})
		if ri < 0 {
			t.Errorf("package %s has no row in the README's package map", pkg)
			continue
		}
		used[ri] = true
		r := rows[ri]
		if slices.Contains(r.allowed, "anything") {
			continue
		}
		for _, imp := range imps {
			if !slices.ContainsFunc(r.allowed, func(a string) bool { return matches(a, imp) }) {
				t.Errorf("%s imports %s, which its row in the README's package map does not allow", pkg, imp)
			}
		}
	}
	for i, r := range rows {
		if !used[i] {
			t.Errorf("the package map's row %v names no package of the tree", r.pkgs)
		}
	}
}

// TestImportersStaySmall: the importers link none of the agent's heavy
// parts (the packet and kernel code, the metrics library), so `migrate`
// stays a small library anyone can import. Transitive, unlike the table.
func TestImportersStaySmall(t *testing.T) {
	root := filepath.Join("..", "..")
	pkgs := imports(t, root)
	forbidden := []string{"agent", "vrrp/...", "netcfg", "github.com/prometheus/...", "github.com/google/nftables/...", "github.com/vishvananda/...", "github.com/mdlayher/..."}
	for pkg := range pkgs {
		if !matches("migrate/...", pkg) && pkg != "migrate" && pkg != "config" {
			continue
		}
		seen := map[string]bool{}
		var walk func(p string, path []string)
		walk = func(p string, path []string) {
			if seen[p] {
				return
			}
			seen[p] = true
			for _, f := range forbidden {
				if matches(f, p) {
					t.Errorf("%s depends on %s (through %s)", pkg, p, strings.Join(path, " -> "))
				}
			}
			for _, imp := range pkgs[p] {
				walk(imp, append(path, imp))
			}
		}
		walk(pkg, []string{pkg})
	}
}
