package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// nsProxy forwards a loopback port of the test's own namespace to target
// inside h's namespace, so a browser started by the test (chromedp talks
// to it over its loopback DevTools port, which a browser inside the lab's
// namespace would not share) reaches a box's API. It returns the proxy's
// base URL.
func nsProxy(t *testing.T, h *testnet.Host, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	track := func(c net.Conn, on bool) {
		mu.Lock()
		defer mu.Unlock()
		if on {
			conns[c] = true
		} else {
			delete(conns, c)
		}
	}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c, true)
			wg.Go(func() {
				defer func() { track(c, false); c.Close() }()
				var u net.Conn
				if err := h.Do(func() error {
					var err error
					u, err = net.DialTimeout("tcp", target, 3*time.Second)
					return err
				}); err != nil {
					return
				}
				track(u, true)
				defer func() { track(u, false); u.Close() }()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
				<-done
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		// A stream to a box that is gone never ends by itself.
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

// artefactDir is where a test writes files a person looks at afterwards
// (screenshots): $HADHCPD_ARTEFACTS, else a directory under $TMPDIR that
// outlives the test.
func artefactDir(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("HADHCPD_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "hadhcpd-artefacts")
	}
	dir = filepath.Join(dir, name+"-"+time.Now().UTC().Format("20060102T150405"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// requireChromium is Debian's chromium, or the test skips.
func requireChromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("skipped: chromium not installed (Debian package chromium; make deps installs it)")
	}
	return path
}

// browser starts headless Chromium (path) for the test.
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root in a container: Chromium's sandbox needs user namespaces it may not have
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 1100),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	// Start it now (the first call's context is the browser's life, so no
	// timeout on it): a browser that cannot start fails here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// page is one tab on one box's status page.
type page struct {
	t   *testing.T
	ctx context.Context
	box string
}

func openPage(t *testing.T, b context.Context, box, url string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // the tab, for the context's life
		t.Fatalf("%s: open a tab: %v", box, err)
	}
	nctx, ncancel := context.WithTimeout(ctx, 30*time.Second)
	defer ncancel()
	// The token in the fragment, as an operator's bookmark can carry it
	// (the page keeps it in the tab and removes it from the address).
	if err := chromedp.Do(nctx, chromedp.Navigate(url+"/#token="+apiToken), chromedp.WaitVisible("#self-vrrp .st")); err != nil {
		t.Fatalf("%s: status page: %v", box, err)
	}
	return &page{t: t, ctx: ctx, box: box}
}

// text is what a person reads in the element sel.
func (p *page) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(sel, chromedp.NodeVisible))
	if err != nil {
		p.t.Fatalf("%s: read %s: %v", p.box, sel, err)
	}
	return strings.Join(strings.Fields(s), " ")
}

// want waits, bounded by d, until every element shows its text (the page
// refreshes every second), failing with what it showed last.
func (p *page) want(d time.Duration, shows map[string][]string) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		var missing []string
		for sel, subs := range shows {
			got := p.text(sel)
			for _, s := range subs {
				if !strings.Contains(got, s) {
					missing = append(missing, fmt.Sprintf("%s shows %q, want %q in it", sel, got, s))
				}
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s's status page after %v:\n  %s", p.box, d, strings.Join(missing, "\n  "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// barWidth is the rendered width of the pool's utilisation bar, as a
// share of the bar (what the eye reads).
func (p *page) barWidth(pool string) float64 {
	p.t.Helper()
	js := fmt.Sprintf(`(() => { const r = document.querySelector('tr[data-pool=%q]'); if (!r) return -1;
		const bar = r.querySelector('.bar'), f = r.querySelector('.bar .fill');
		return f.getBoundingClientRect().width / bar.getBoundingClientRect().width; })()`, pool)
	w, err := chromedp.Run(p.ctx, chromedp.Evaluate[float64](js))
	if err != nil {
		p.t.Fatalf("%s: bar of %s: %v", p.box, pool, err)
	}
	return w
}

func (p *page) screenshot(file string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("%s: screenshot: %v", p.box, err)
	}
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot of %s's status page: %s", p.box, file)
}

// TestIntegrationStatusPage: the status page of a pair in a real browser
// (headless Chromium), read as a person reads it. Before a box loss the
// primary's page shows itself MASTER and NORMAL with its partner BACKUP
// and NORMAL, the link up, and the pool's bar at the one lease given
// out; the secondary's page shows the mirror image. After the primary's
// box loss the secondary's page shows itself MASTER in
// COMMUNICATIONS-INTERRUPTED, the partner unknown, the link down, the
// same pool bar, and the transitions in its last events. Screenshots of
// both moments are written as artefacts (the log names them).
func TestIntegrationStatusPage(t *testing.T) {
	begin := time.Now()
	chromium := requireChromium(t)
	ap := newAPIPair(t)
	b := browser(t, chromium)
	t.Logf("chromium started after %v", time.Since(begin).Round(time.Millisecond))
	ap.waitReady(t)
	_, ip := ap.leaseAndLeave(t)
	dir := artefactDir(t, "statuspage")
	const pool = "192.0.2.100-192.0.2.200"
	pri := openPage(t, b, "pri", nsProxy(t, ap.ops, "192.0.2.2:9768"))
	sec := openPage(t, b, "sec", nsProxy(t, ap.ops, "192.0.2.3:9768"))
	pri.want(10*time.Second, map[string][]string{
		"#self-name": {"pri"}, "#self-vrrp": {"MASTER"}, "#self-failover": {"NORMAL"}, "#self-role": {"primary"},
		"#partner-name": {"sec"}, "#partner-vrrp": {"BACKUP"}, "#partner-failover": {"NORMAL"},
		"#link": {"Sync link: up"}, "#pools": {pool, "(1 / 101)"},
		"#events": {"granted 192.0.2."},
	})
	sec.want(10*time.Second, map[string][]string{
		"#self-name": {"sec"}, "#self-vrrp": {"BACKUP", "master 192.0.2.2"}, "#self-failover": {"NORMAL"},
		"#partner-name": {"pri"}, "#partner-vrrp": {"MASTER"}, "#partner-failover": {"NORMAL"},
		"#link": {"Sync link: up"}, "#pools": {pool, "(1 / 101)"},
	})
	if w := sec.barWidth(pool); w < 0.005 || w > 0.02 {
		t.Errorf("secondary's page: the pool bar fills %.3f of its width, want about 1/101", w)
	}
	// The lease search, as a person uses it: type the address, search.
	sctx, scancel := context.WithTimeout(pri.ctx, 10*time.Second)
	err := chromedp.Do(sctx, chromedp.SendKeys("#q", ip), chromedp.Click("#search button"), chromedp.WaitVisible("#leases"))
	scancel()
	if err != nil {
		t.Fatalf("lease search: %v", err)
	}
	pri.want(5*time.Second, map[string][]string{"#leases tbody": {ip, "active"}, "#search-note": {"1 lease"}})
	pri.screenshot(filepath.Join(dir, "1-primary-before.png"))
	sec.screenshot(filepath.Join(dir, "2-secondary-before.png"))

	lab.KillBox(t, ap.pri.Host, "eth0", "sync0")
	lost := time.Now()
	t.Logf("the primary's box is lost (%v into the test)", lost.Sub(begin).Round(time.Millisecond))
	defer func() {
		t.Logf("the secondary's page showed the takeover %v after the loss", time.Since(lost).Round(time.Millisecond))
	}()
	sec.want(15*time.Second, map[string][]string{
		"#self-vrrp": {"MASTER"}, "#self-failover": {"COMMUNICATIONS-INTERRUPTED"},
		"#partner-name": {"pri"}, "#partner-vrrp": {"UNKNOWN"}, "#partner-failover": {"UNKNOWN", "last said NORMAL"},
		"#link": {"Sync link: down"}, "#pools": {pool, "(1 / 101)"},
		"#events": {"VRRP lan: BACKUP → MASTER", "failover: NORMAL → COMMUNICATIONS-INTERRUPTED"},
	})
	if w := sec.barWidth(pool); w < 0.005 || w > 0.02 {
		t.Errorf("after the loss: the pool bar fills %.3f of its width, want about 1/101", w)
	}
	sec.screenshot(filepath.Join(dir, "3-secondary-after-primary-loss.png"))
}
