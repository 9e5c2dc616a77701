package control

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

type fakeWriter struct {
	calls []string
	err   error
}

func (f *fakeWriter) Release(_ context.Context, a netip.Addr, by string) (ReleaseResult, error) {
	f.calls = append(f.calls, a.String()+" by "+by)
	if f.err != nil {
		return ReleaseResult{IP: a.String()}, f.err
	}
	return ReleaseResult{IP: a.String(), State: "RELEASED", PartnerAcked: true, Message: "released on both boxes"}, nil
}

// TestAPIDeleteLease: DELETE /v1/leases/{ip} releases through the
// LeaseWriter with the caller's identity, answers 404 for no binding and
// 409 for a refusal, and logs every attempt with who made it.
func TestAPIDeleteLease(t *testing.T) {
	ta := newTestAPI(t, []byte(testToken), nil)
	fw := &fakeWriter{}
	ta.api.LeaseWriter = fw
	ta.h = ta.api.Handler()
	id := TokenID([]byte(testToken))

	if w := ta.do("DELETE", "/v1/leases/192.0.2.10", "", ""); w.Code != http.StatusUnauthorized || len(fw.calls) != 0 {
		t.Fatalf("without the token: %d, calls %v", w.Code, fw.calls)
	}
	w := ta.do("DELETE", "/v1/leases/192.0.2.10", "", testToken)
	res := decode[ReleaseResult](t, w)
	if w.Code != 200 || res.State != "RELEASED" || !res.PartnerAcked || res.IP != "192.0.2.10" {
		t.Fatalf("release: %d %+v", w.Code, res)
	}
	if len(fw.calls) != 1 || fw.calls[0] != "192.0.2.10 by "+id {
		t.Errorf("writer calls %v, want the caller %s", fw.calls, id)
	}
	if log := ta.log.String(); !strings.Contains(log, `op="lease release"`) || !strings.Contains(log, "who="+id) || !strings.Contains(log, "ip=192.0.2.10") {
		t.Errorf("write not logged with who made it:\n%s", log)
	}
	for _, c := range []struct {
		err  error
		code int
	}{
		{ErrNoLease, http.StatusNotFound},
		{fmt.Errorf("%w: COMMUNICATIONS-INTERRUPTED", ErrLeaseRefused), http.StatusConflict},
	} {
		fw.err = c.err
		w := ta.do("DELETE", "/v1/leases/192.0.2.11", "", testToken)
		if e := decode[apiError](t, w); w.Code != c.code || !strings.Contains(e.Error, c.err.Error()) {
			t.Errorf("%v: %d %q, want %d", c.err, w.Code, e.Error, c.code)
		}
	}
	n := len(fw.calls)
	for _, bad := range []string{"x", "2001:db8::1", "192.0.2.300"} {
		if w := ta.do("DELETE", "/v1/leases/"+bad, "", testToken); w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, w.Code)
		}
	}
	if len(fw.calls) != n {
		t.Error("a bad address reached the writer")
	}
	ta.api.LeaseWriter = nil
	ta.h = ta.api.Handler()
	if w := ta.do("DELETE", "/v1/leases/192.0.2.10", "", testToken); w.Code != http.StatusConflict {
		t.Errorf("without a writer: %d, want 409", w.Code)
	}
}
