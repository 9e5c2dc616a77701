package control

import (
	"embed"
	"io/fs"
	"net/http"
)

// The status page: plain HTML, CSS and JavaScript embedded in the binary
// (no CDN, no build step), served on the API listener at / and /ui/. The
// files hold no data: the page reads the API with the same token as any
// client (typed into the page, kept in the browser tab), so they are
// served without it.

//go:embed ui
var uiFiles embed.FS

// uiHandler serves the page's files with headers that keep it to itself:
// its own scripts only, no framing (clickjacking), no sniffing.
func uiHandler() http.Handler {
	sub, _ := fs.Sub(uiFiles, "ui") // a constant path into the embedded tree
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if r.URL.Path == "/" {
			r = r.Clone(r.Context())
			r.URL.Path = "/index.html"
		} else {
			r = r.Clone(r.Context())
			r.URL.Path = r.URL.Path[len("/ui"):]
		}
		if r.URL.Path == "/index.html" {
			// FileServer redirects /index.html to /; serve the file itself.
			b, err := fs.ReadFile(sub, "index.html")
			if err != nil {
				http.NotFound(w, r)
				return
			}
			h.Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(b)
			return
		}
		files.ServeHTTP(w, r)
	})
}
