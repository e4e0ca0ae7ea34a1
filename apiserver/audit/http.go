package audit

import (
	"bufio"
	"net"
	"net/http"
	"strings"

	"minik8s/api/codec"
	metav1 "minik8s/api/meta/v1"
)

// HTTPRequestInfo is what an HTTP request tells the audit log: its
// Audit-Id header, URI, source IPs (X-Forwarded-For, X-Real-Ip, then the
// peer, as Kubernetes lists them) and user agent.
func HTTPRequestInfo(req *http.Request) RequestInfo {
	return RequestInfo{
		AuditID:    req.Header.Get(HeaderAuditID),
		RequestURI: req.URL.RequestURI(),
		SourceIPs:  sourceIPs(req),
		UserAgent:  req.UserAgent(),
	}
}

func sourceIPs(req *http.Request) []string {
	var ips []string
	for _, part := range strings.Split(req.Header.Get("X-Forwarded-For"), ",") {
		if ip := net.ParseIP(strings.TrimSpace(part)); ip != nil {
			ips = append(ips, ip.String())
		}
	}
	if len(ips) == 0 {
		if ip := net.ParseIP(strings.TrimSpace(req.Header.Get("X-Real-Ip"))); ip != nil {
			ips = append(ips, ip.String())
		}
	}
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && (len(ips) == 0 || ips[len(ips)-1] != ip.String()) {
		ips = append(ips, ip.String())
	}
	return ips
}

// Handler wraps the REST front's door: it answers every request with an
// Audit-Id header (the client's, or a new one), and, when a records
// anything, puts the request's audit record in its context, watches the
// response code and Status, and completes the record when h returns (the
// Panic stage when h panics, which it then re-panics). h authenticates and
// calls SetUser or AuthenticationFailed; the request path evaluates.
func (a *Auditor) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		info := HTTPRequestInfo(req)
		if info.AuditID == "" {
			info.AuditID = NewID()
		}
		if w.Header().Get(HeaderAuditID) == "" {
			w.Header().Set(HeaderAuditID, info.AuditID)
		}
		ctx, r := a.Begin(req.Context(), info)
		if r == nil {
			h.ServeHTTP(w, req)
			return
		}
		rw := &responseWriter{ResponseWriter: w, r: r}
		defer func() {
			if p := recover(); p != nil {
				r.Panic(p)
				r.Complete(http.StatusInternalServerError, nil)
				panic(p)
			}
			r.Complete(rw.code, rw.status())
		}()
		h.ServeHTTP(rw, req.WithContext(ctx))
	})
}

// maxErrorBody is how much of an error response is kept to read its Status.
const maxErrorBody = 16 << 10

// responseWriter notes the code (writing ResponseStarted for long-running
// requests) and keeps the start of an error body, the Status the client
// got, for responseStatus.
type responseWriter struct {
	http.ResponseWriter
	r    *Request
	code int
	body []byte
}

func (w *responseWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
		w.r.ResponseStarted(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.code >= 300 && len(w.body) < maxErrorBody {
		n := min(len(p), maxErrorBody-len(w.body))
		w.body = append(w.body, p[:n]...)
	}
	return w.ResponseWriter.Write(p)
}

// Flush passes on to the writer (watch streams flush each batch).
func (w *responseWriter) Flush() {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack passes on (exec, attach, port-forward upgrade the connection);
// the response is then 101 Switching Protocols, as Kubernetes records it.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.code == 0 {
		w.code = http.StatusSwitchingProtocols
		w.r.ResponseStarted(w.code)
	}
	return c, brw, err
}

// Unwrap lets http.ResponseController reach the writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status is the Status of an error response; nil for success or a body
// that is not one.
func (w *responseWriter) status() *metav1.Status {
	if w.code < 300 || len(w.body) == 0 {
		return nil
	}
	st := &metav1.Status{}
	if _, err := codec.UnmarshalJSONLenient(w.body, st); err != nil || st.GetKind() != "Status" {
		return nil
	}
	return st
}
