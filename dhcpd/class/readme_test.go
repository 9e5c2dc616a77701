package class

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEExamples compiles every example of the language reference:
// the tables' example column and the configuration's test/match strings.
func TestREADMEExamples(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	index := func(name string) (int, bool) {
		switch name {
		case "pxe", "phones", "pxe-bios", "pxe-uefi":
			return First, true
		}
		return 0, false
	}
	var examples []string
	cell := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(string(b), "\n") {
		if cols := strings.Split(line, " | "); strings.HasPrefix(line, "| ") && len(cols) >= 3 {
			for _, m := range cell.FindAllStringSubmatch(cols[1], -1) {
				examples = append(examples, m[1])
			}
		}
		for _, key := range []string{"test: \"", "match: \""} {
			if i := strings.Index(line, key); i >= 0 {
				rest := line[i+len(key):]
				examples = append(examples, rest[:strings.LastIndex(rest, "\"")])
			}
		}
	}
	if len(examples) < 40 {
		t.Fatalf("found %d examples in README.md, want the tables and the configuration", len(examples))
	}
	for _, ex := range examples {
		if _, err := Compile(ex, index); err == nil {
			continue
		}
		if _, err := CompileValue(ex); err != nil {
			t.Errorf("README example %q compiles neither as a test nor as a value: %v", ex, err)
		}
	}
}
