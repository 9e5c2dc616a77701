package clocktest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// wallRead reports whether the function of package time named name reads
// real time or starts a real timer.
func wallRead(name string) bool {
	switch name {
	case "Now", "Since", "Until", "Sleep", "After", "AfterFunc", "NewTimer", "NewTicker", "Tick":
		return true
	}
	return false
}

// NoWallClock fails t for every read of real time (time.Now, time.Since,
// time.NewTimer and the like, called or passed as a value) in the non-test
// Go files of dir, except inside the functions allow names. Keys are
// "file.go:Func", "file.go:Type.Method" for a method, "file.go:var" for
// package-level declarations; values say why
// the read is not the package's notion of time (a metric's duration,
// pacing disk work), so that the exception is reviewed where it is made.
// Tests of packages that take a clock.Clock call it with dir ".".
func NoWallClock(t testing.TB, dir string, allow map[string]string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("NoWallClock: no Go files in %s", dir)
	}
	used := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		timePkg := importNames(f, "time")
		if len(timePkg) == 0 {
			continue
		}
		base := filepath.Base(name)
		for _, decl := range f.Decls {
			fn := base + ":" + declName(decl)
			ast.Inspect(decl, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); !ok || !slices.Contains(timePkg, id.Name) || !wallRead(sel.Sel.Name) {
					return true
				}
				if _, ok := allow[fn]; ok {
					used[fn] = true
					return true
				}
				t.Errorf("%s: time.%s in %s reads real time: take it from the package's clock.Clock", fset.Position(sel.Pos()), sel.Sel.Name, fn)
				return true
			})
		}
	}
	for fn := range allow {
		if !used[fn] {
			t.Errorf("NoWallClock: allowed %s reads no real time (any more): drop the exception", fn)
		}
	}
}

// importNames are the names file f gives the import path (a file may
// import one twice, under two names).
func importNames(f *ast.File, path string) []string {
	var names []string
	for _, imp := range f.Imports {
		if strings.Trim(imp.Path.Value, `"`) != path {
			continue
		}
		if imp.Name != nil {
			names = append(names, imp.Name.Name)
		} else {
			names = append(names, path[strings.LastIndex(path, "/")+1:])
		}
	}
	return names
}

// declName is "Func", "Type.Method" or, outside functions, "var".
func declName(d ast.Decl) string {
	fd, ok := d.(*ast.FuncDecl)
	if !ok {
		return "var"
	}
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	typ := fd.Recv.List[0].Type
	for {
		switch x := typ.(type) {
		case *ast.StarExpr:
			typ = x.X
			continue
		case *ast.IndexExpr:
			typ = x.X
			continue
		case *ast.IndexListExpr:
			typ = x.X
			continue
		}
		break
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}
