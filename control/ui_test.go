package control

import (
	"net/http"
	"strings"
	"testing"
)

// TestStatusPageFiles: the page and its files are served without the
// token (they hold no data) with headers that keep the page to its own
// scripts and out of frames; the API behind them still needs the token.
func TestStatusPageFiles(t *testing.T) {
	ta := newTestAPI(t, []byte(testToken), nil)
	for path, want := range map[string]string{
		"/":             `<script src="/ui/app.js" defer></script>`,
		"/ui/app.js":    "function followEvents",
		"/ui/style.css": ".bar .fill",
	} {
		w := ta.do("GET", path, "", "")
		if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("GET %s: %d, want 200 with %q", path, w.Code, want)
			continue
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
	}
	if w := ta.do("GET", "/", "", ""); !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("page content type %q", w.Header().Get("Content-Type"))
	}
	if w := ta.do("GET", "/v1/status", "", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("the API without the token: %d, want 401", w.Code)
	}
	if w := ta.do("POST", "/", "{}", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("POST / without the token: %d, want 401 (only GET serves the page)", w.Code)
	}
}
