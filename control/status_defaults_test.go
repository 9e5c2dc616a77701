package control

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The table and the JSON show where the global defaults come from: the
// source, the serial and hash in force, and a refusal.
func TestStatusDefaults(t *testing.T) {
	st := sampleStatus()
	st.Defaults = &DefaultsStatus{Source: "a", Serial: 7, Hash: "0123456789abcdef0123", Via: "seg1", Error: "dhcp.client_classes: no class voip"}
	var buf bytes.Buffer
	if err := WriteStatus(&buf, &st, st.Started.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"DEFAULTS FROM", "a ", "7 ", "0123456789ab ", "seg1", "DEFAULTS REFUSED", "no class voip"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	st.Defaults = &DefaultsStatus{Source: "a"}
	buf.Reset()
	_ = WriteStatus(&buf, &st, st.Started)
	if !strings.Contains(buf.String(), "none yet (own file's)") {
		t.Errorf("before any set the table must say the box's own keys serve:\n%s", buf.String())
	}
	b, _ := json.Marshal(&DefaultsStatus{Source: "a", Serial: 1, Hash: "h", Via: "v", Error: "e"})
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	doc, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for k := range m {
		if !regexp.MustCompile(`(?m)^ +` + k + `:`).Match(doc) {
			t.Errorf("openapi.yaml: defaults.%s is not described", k)
		}
	}
	if len(m) != 5 {
		t.Errorf("defaults JSON %s", b)
	}
}
