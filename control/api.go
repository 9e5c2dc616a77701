package control

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/events"
)

// The HTTP API (node.api_listen): JSON under /v1/, described in
// openapi.yaml. It answers from the same sources as the control socket
// (Status, the Operator) and runs writes through the same code (operate),
// so the command line and the API cannot diverge.

// LeaseSource is the running agent's live lease database as the API reads
// it: *lease.DB satisfies it.
type LeaseSource interface {
	Get(addr netip.Addr) (lease.Lease, bool)
	ByClient(key string) (lease.Lease, bool)
}

// API serves the HTTP API. The zero value of an optional field turns its
// endpoint into a refusal that says why.
type API struct {
	Log    *slog.Logger
	Status func() Status
	// Pools counts the pools of the section in force; nil without dhcp.
	Pools func() []PoolStatus
	// Leases and Subnets (the served subnets in force) back /v1/leases;
	// nil without dhcp.
	Leases  LeaseSource
	Subnets func() []netip.Prefix
	// Ops runs maintenance and partner-down; nil for a single server.
	Ops Operator
	// PartnerAddr is what a partner-down request must carry in confirm:
	// the host of failover.peer, as the command line asks for it.
	PartnerAddr string
	// Partners are a box's failover relationships (in the file's order)
	// with each partner's address, which a partner-down request naming
	// the relationship must carry in confirm; nil for a single failover:
	// section (PartnerAddr then).
	Partners []Partner
	// Reload does what SIGHUP does and says how it went; nil: not offered.
	Reload func(ctx context.Context) error
	// Token is the bearer token every request must carry; nil: no token,
	// and then only loopback clients are served, unless TLS requires
	// client certificates.
	Token []byte
	// TLS, when set, makes the listener HTTPS (LoadTLS). With ClientCAs,
	// every request must come with a client certificate they signed
	// (checked in the handshake, and again here): it names the caller,
	// and the token, when set, is required in addition.
	TLS *tls.Config
	// Events is the event stream (GET /v1/events); nil: not offered.
	Events *events.Bus
	// Leases, when set, releases leases (DELETE /v1/leases/{ip}); nil:
	// not offered.
	LeaseWriter LeaseWriter
}

// opTimeout bounds one write, as connDeadline does on the socket.
const opTimeout = 10 * time.Second

// maxBody bounds a write's JSON body: every body is a few fields.
const maxBody = 4 << 10

// ReadToken reads a bearer token file: one line, at least 16 characters,
// readable by its owner only (a token others can read is no secret).
func ReadToken(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("node.api_token_file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("node.api_token_file: %w", err)
	}
	if err := private("node.api_token_file", path, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("node.api_token_file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 16 || strings.ContainsAny(tok, " \t\r\n") {
		return nil, fmt.Errorf("node.api_token_file: %s must hold one token of at least 16 characters without spaces", path)
	}
	return []byte(tok), nil
}

// private refuses a secret file (key names its setting) that is not a
// regular file or that group or others may read.
func private(key, path string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %s is not a regular file", key, path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s: %s is mode %04o: group or others may read it (chmod 600)", key, path, fi.Mode().Perm())
	}
	return nil
}

// TokenID names a token in the log without revealing it.
func TokenID(tok []byte) string {
	h := sha256.Sum256(tok)
	return "token:" + hex.EncodeToString(h[:4])
}

// Handler is the API's routes, on a mux of its own.
func (a *API) Handler() http.Handler {
	routes := a.routes()
	mux := http.NewServeMux()
	methods := map[string]string{}
	for _, rt := range routes {
		mux.HandleFunc(rt.method+" "+rt.path, rt.h)
		methods[rt.path] = rt.method
	}
	// Errors are JSON too, also for a path or method the mux does not know.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if m, ok := methods[r.URL.Path]; ok {
			w.Header().Set("Allow", m)
			writeError(w, http.StatusMethodNotAllowed, r.Method+" "+r.URL.Path+": use "+m)
			return
		}
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	// The status page's files are served without the token (they hold no
	// data; the page asks the API with it); everything else needs it.
	top := http.NewServeMux()
	ui := uiHandler()
	top.Handle("GET /{$}", ui)
	top.Handle("GET /ui/", ui)
	top.Handle("/", a.auth(mux))
	return top
}

type route struct {
	method, path string
	h            http.HandlerFunc
}

// routes are the endpoints; openapi.yaml describes each (a test checks).
func (a *API) routes() []route {
	return []route{
		{"GET", "/v1/status", a.status},
		{"GET", "/v1/leases", a.leases},
		{"GET", "/v1/pools", a.pools},
		{"POST", "/v1/maintenance", a.write(a.maintenance)},
		{"POST", "/v1/partner-down", a.write(a.partnerDown)},
		{"POST", "/v1/reload", a.write(a.reload)},
		{"GET", "/v1/events", a.events},
		{"DELETE", "/v1/leases/{ip}", a.deleteLease},
	}
}

// Serve runs the API on ln until ctx ends.
func (a *API) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      opTimeout + 5*time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	var err error
	if a.TLS != nil {
		// ServeTLS offers HTTP/2 as well (ALPN) on a copy of the config.
		srv.TLSConfig = a.TLS
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type whoKey struct{}

// who is the caller as the write log names it.
func who(r *http.Request) string {
	s, _ := r.Context().Value(whoKey{}).(string)
	return s
}

// auth admits a request with a client certificate when TLS asks for them,
// and with the token when there is one; with neither, a loopback client
// that is not a web page: a browser on this box would otherwise let any
// site it visits drive the API (a cross-site POST carries an Origin; a
// DNS-rebound name arrives as a foreign Host).
func (a *API) auth(next http.Handler) http.Handler {
	var want [sha256.Size]byte
	if a.Token != nil {
		want = sha256.Sum256(a.Token)
	}
	id := TokenID(a.Token)
	certs := a.TLS != nil && a.TLS.ClientCAs != nil
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller := ""
		if certs {
			// The handshake already refused a client without a verified
			// certificate; this holds should the server be set up
			// otherwise.
			if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
				a.Log.Warn("api: refused: no verified client certificate", "remote", r.RemoteAddr, "path", r.URL.Path)
				writeError(w, http.StatusUnauthorized, "a client certificate signed by node.api_tls.client_ca is required")
				return
			}
			// The certificate names a person or system; a token is
			// shared, so the certificate is the caller in the log.
			caller = CertID(r.TLS.VerifiedChains[0][0])
		}
		if a.Token != nil {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			// Hashing first makes the comparison's time independent of
			// the token's length as well as its bytes.
			h := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(h[:], want[:]) != 1 {
				a.Log.Warn("api: refused: no or wrong bearer token", "remote", r.RemoteAddr, "path", r.URL.Path)
				w.Header().Set("WWW-Authenticate", `Bearer realm="hadhcpd"`)
				writeError(w, http.StatusUnauthorized, "a valid bearer token is required (Authorization: Bearer …)")
				return
			}
			if caller == "" {
				caller = id
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), whoKey{}, caller)))
			return
		}
		if certs {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), whoKey{}, caller)))
			return
		}
		if !loopback(r.RemoteAddr) || !loopbackHost(r.Host) || r.Header.Get("Origin") != "" {
			a.Log.Warn("api: refused: without node.api_token_file only local non-browser clients are served",
				"remote", r.RemoteAddr, "host", r.Host, "origin", r.Header.Get("Origin"), "path", r.URL.Path)
			writeError(w, http.StatusForbidden, "without node.api_token_file the API serves only local clients that are not web pages")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), whoKey{}, "loopback")))
	})
}

func loopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// apiError is every error's body.
type apiError struct {
	Error  string          `json:"error"`
	Result *OperatorResult `json:"result,omitempty"` // a refused operator command: what did happen
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Error: msg})
}

func (a *API) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.Status())
}

// PoolUse is one pool with its utilisation.
type PoolUse struct {
	PoolStatus
	// Utilization is Active / Total: the share of the pool bound to
	// clients (0 for an empty pool).
	Utilization float64 `json:"utilization"`
}

func (a *API) pools(w http.ResponseWriter, _ *http.Request) {
	out := []PoolUse{}
	if a.Pools != nil {
		for _, p := range a.Pools() {
			u := PoolUse{PoolStatus: p}
			if p.Total > 0 {
				u.Utilization = float64(p.Active) / float64(p.Total)
			}
			out = append(out, u)
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Pools []PoolUse `json:"pools"`
	}{out})
}

// write wraps a write endpoint: a JSON body (a content type a web form
// cannot send without the browser asking first), bounded, decoded
// strictly into the endpoint's arguments; then the log line naming the
// caller, whatever the outcome.
func (a *API) write(run func(ctx context.Context, body *json.Decoder) (op string, code int, v any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, "writes take a JSON body (Content-Type: application/json)")
			return
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
		dec.DisallowUnknownFields()
		ctx, cancel := context.WithTimeout(r.Context(), opTimeout)
		defer cancel()
		op, code, v := run(ctx, dec)
		lvl, msg := slog.LevelInfo, ""
		if e, ok := v.(apiError); ok {
			lvl, msg = slog.LevelWarn, e.Error
		}
		a.Log.Log(ctx, lvl, "api write", "op", op, "who", who(r), "remote", r.RemoteAddr, "status", code, "error", msg)
		writeJSON(w, code, v)
	}
}

// decodeBody reads one JSON object into v; an empty body leaves v zero.
func decodeBody(dec *json.Decoder, v any) error {
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("bad JSON body: %v", err)
	}
	if dec.More() {
		return errors.New("bad JSON body: more than one value")
	}
	return nil
}

// operated turns operate's Response into the HTTP answer: a refusal or
// failure is 409 with what did happen.
func operated(resp Response) (int, any) {
	if !resp.OK {
		return http.StatusConflict, apiError{Error: resp.Error, Result: resp.Result}
	}
	return http.StatusOK, resp.Result
}

// MaintenanceRequest is POST /v1/maintenance's body.
type MaintenanceRequest struct {
	Action string `json:"action"` // start | stop
}

func (a *API) maintenance(ctx context.Context, dec *json.Decoder) (string, int, any) {
	var req MaintenanceRequest
	if err := decodeBody(dec, &req); err != nil {
		return "maintenance", http.StatusBadRequest, apiError{Error: err.Error()}
	}
	op := "maintenance " + req.Action
	if req.Action != "start" && req.Action != "stop" {
		return op, http.StatusBadRequest, apiError{Error: fmt.Sprintf("action %q: want start or stop", req.Action)}
	}
	code, v := operated(operate(ctx, a.Ops, Request{Cmd: "maintenance", Arg: req.Action}))
	return op, code, v
}

// PartnerDownRequest is POST /v1/partner-down's body. Confirm must be the
// partner's address (the host of failover.peer): what the command line
// asks the operator to type, so a request meant for another pair, or sent
// by mistake, does nothing. On a box in several failover relationships,
// Relationship names the one whose partner is down (required), and
// Confirm is that relationship's partner.
type PartnerDownRequest struct {
	Confirm      string `json:"confirm"`
	Relationship string `json:"relationship,omitempty"`
}

// Partner is one failover relationship of a box in several: its name and
// its partner's address (the host of its peer).
type Partner struct {
	Relationship string
	Addr         string
}

func (a *API) partnerDown(ctx context.Context, dec *json.Decoder) (string, int, any) {
	op := "partner-down"
	var req PartnerDownRequest
	if err := decodeBody(dec, &req); err != nil {
		return op, http.StatusBadRequest, apiError{Error: err.Error()}
	}
	if req.Relationship != "" {
		op += " relationship=" + req.Relationship
	}
	if a.Ops == nil {
		return op, http.StatusConflict, apiError{Error: fmt.Sprintf("%s: %v", op, ErrNoFailover)}
	}
	want, err := a.partnerOf(req.Relationship)
	if err != nil {
		return op, http.StatusBadRequest, apiError{Error: "partner-down: nothing done: " + err.Error()}
	}
	if req.Confirm == "" || req.Confirm != want {
		return op, http.StatusBadRequest, apiError{Error: fmt.Sprintf(
			"partner-down not confirmed, nothing done: confirm must be the partner's address (%s), got %q", a.partnerKey(req.Relationship), req.Confirm)}
	}
	code, v := operated(operate(ctx, a.Ops, Request{Cmd: "partner-down", Relationship: req.Relationship}))
	return op, code, v
}

// partnerOf is the address confirm must carry for the relationship named
// ("" on a box with one partner).
func (a *API) partnerOf(rel string) (string, error) {
	if len(a.Partners) == 0 {
		if rel != "" {
			return "", fmt.Errorf("relationship %q: this box has a single failover: section (no failover.relationships); leave relationship out", rel)
		}
		return a.PartnerAddr, nil
	}
	if rel == "" {
		return "", fmt.Errorf("%w; relationship must name one of: %s", ErrNoRelationship, PartnerNames(a.Partners))
	}
	for _, p := range a.Partners {
		if p.Relationship == rel {
			return p.Addr, nil
		}
	}
	return "", fmt.Errorf("relationship %q: no such failover relationship on this box; one of: %s", rel, PartnerNames(a.Partners))
}

// partnerKey names the config key confirm is checked against.
func (a *API) partnerKey(rel string) string {
	if rel == "" {
		return "failover.peer's host"
	}
	return "the host of failover.relationships " + rel + "'s peer"
}

// ErrNoRelationship: partner-down on a box in several relationships must
// name one (the partner of another is not known down).
var ErrNoRelationship = errors.New("this box is in several failover relationships: partner-down must name the relationship whose partner is down")

// PartnerNames lists the relationships, in order, each with its partner.
func PartnerNames(ps []Partner) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Relationship + " (partner " + p.Addr + ")"
	}
	return strings.Join(out, ", ")
}

// ReloadResult is POST /v1/reload's answer.
type ReloadResult struct {
	Reloaded bool   `json:"reloaded"`
	Message  string `json:"message"`
}

func (a *API) reload(ctx context.Context, dec *json.Decoder) (string, int, any) {
	const op = "reload"
	var req struct{}
	if err := decodeBody(dec, &req); err != nil {
		return op, http.StatusBadRequest, apiError{Error: err.Error()}
	}
	if a.Reload == nil {
		return op, http.StatusConflict, apiError{Error: "reload: this agent was started without a config file to read again"}
	}
	if err := a.Reload(ctx); err != nil {
		return op, http.StatusConflict, apiError{Error: "reload: " + err.Error()}
	}
	return op, http.StatusOK, ReloadResult{Reloaded: true, Message: "config read again and applied (as SIGHUP)"}
}
