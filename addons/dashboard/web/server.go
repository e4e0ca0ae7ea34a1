// Package web is the dashboard's HTTP side: a login page, the embedded
// single-page app (plain HTML, CSS and JavaScript) and the JSON and
// server-sent-event endpoints it calls. The server holds no rights of its
// own: the user's bearer token, kept in an HttpOnly, SameSite=Strict
// cookie, goes with every apiserver call it makes for them, so RBAC
// decides what each user sees and may change.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	apierrors "minik8s/api/errors"
)

//go:embed static
var static embed.FS

// CookieName is the session cookie: the user's bearer token.
const CookieName = "minik8s-dashboard-token"

// Options configure a Server.
type Options struct {
	API API
	// Logger logs requests and failures, never a token (default slog.Default()).
	Logger *slog.Logger
	// Metrics, when set, gets the dashboard's request and stream metrics.
	Metrics prometheus.Registerer
	// Now is the clock for ages (default time.Now).
	Now func() time.Time
	// Heartbeat is the interval of keep-alive comments on event streams
	// (default 15s), so proxies keep an idle stream open.
	Heartbeat time.Duration
}

// Server serves the dashboard. Its zero value is not usable; call New.
type Server struct {
	api       API
	log       *slog.Logger
	now       func() time.Time
	heartbeat time.Duration
	mux       *http.ServeMux
	assets    fs.FS
	login     *template.Template
	metrics   *metrics
}

// New returns a Server over o.API.
func New(o Options) *Server {
	s := &Server{api: o.API, log: o.Logger, now: o.Now, heartbeat: o.Heartbeat, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.heartbeat <= 0 {
		s.heartbeat = 15 * time.Second
	}
	s.assets, _ = fs.Sub(static, "static")
	s.login = template.Must(template.ParseFS(s.assets, "login.html"))
	s.metrics = newMetrics(o.Metrics)

	// Public: the login page, its stylesheet and the login/logout forms.
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.doLogin)
	s.mux.HandleFunc("POST /logout", s.logout)
	s.mux.HandleFunc("GET /static/style.css", s.asset("style.css"))
	// Everything else needs a session.
	s.mux.HandleFunc("GET /static/app.js", s.authed(s.asset("app.js")))
	s.mux.HandleFunc("GET /api/whoami", s.authed(s.whoami))
	s.mux.HandleFunc("GET /api/overview", s.authed(s.overview))
	s.mux.HandleFunc("GET /api/namespaces", s.authed(s.namespaces))
	s.mux.HandleFunc("GET /api/pods", s.authed(s.listPods))
	s.mux.HandleFunc("GET /api/pods/watch", s.authed(s.watchPods))
	s.mux.HandleFunc("GET /api/namespaces/{namespace}/pods/{name}", s.authed(s.podDetail))
	s.mux.HandleFunc("GET /api/namespaces/{namespace}/pods/{name}/log", s.authed(s.podLog))
	s.mux.HandleFunc("GET /api/deployments", s.authed(s.listDeployments))
	s.mux.HandleFunc("POST /api/namespaces/{namespace}/deployments/{name}/scale", s.authed(s.scaleDeployment))
	s.mux.HandleFunc("GET /api/services", s.authed(s.listServices))
	s.mux.HandleFunc("GET /api/ingresses", s.authed(s.listIngresses))
	s.mux.HandleFunc("GET /api/replicasets", s.authed(s.listReplicaSets))
	s.mux.HandleFunc("GET /api/events", s.authed(s.listEvents))
	s.mux.HandleFunc("GET /api/events/watch", s.authed(s.watchEvents))
	s.mux.HandleFunc("GET /api/metrics/nodes", s.authed(s.nodeMetrics))
	s.mux.HandleFunc("GET /api/metrics/pods", s.authed(s.podMetrics))
	return s
}

// ServeHTTP serves the dashboard.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// The app loads only its own script and stylesheet; nothing may frame it.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: with no-referrer the browser sends
	// "Origin: null" on the login form, which sameOrigin must refuse.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	s.mux.ServeHTTP(rec, r)
	s.metrics.request(r, rec.code)
}

// statusRecorder remembers the status code for the metrics; Unwrap lets
// http.ResponseController reach the Flusher underneath.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) asset(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, s.assets, name)
	}
}

// token returns the session's bearer token, "" when there is none.
func token(r *http.Request) string {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(c.Value)
}

// authed runs h with the user's token on the request's context; without a
// session it answers 401 (the app then shows the login page).
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := token(r)
		if tok == "" {
			writeError(w, apierrors.NewUnauthorized("log in with a bearer token first"))
			return
		}
		h(w, r.WithContext(WithToken(r.Context(), tok)))
	}
}

// index serves the app to a user whose token the apiserver still
// accepts, and the login page to everyone else.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	tok := token(r)
	if tok == "" {
		s.renderLogin(w, http.StatusOK, "")
		return
	}
	if _, err := s.api.WhoAmI(WithToken(r.Context(), tok)); err != nil {
		clearSession(w, r)
		s.renderLogin(w, http.StatusUnauthorized, "Your session ended: "+err.Error())
		return
	}
	http.ServeFileFS(w, r, s.assets, "index.html")
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, http.StatusOK, "")
}

func (s *Server) renderLogin(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := s.login.Execute(w, struct{ Error string }{msg}); err != nil {
		s.log.Error("render login page", "err", err)
	}
}

// doLogin checks the posted token with a SelfSubjectReview made with it
// and, if the apiserver accepts it, keeps it in the session cookie.
func (s *Server) doLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, apierrors.NewForbidden("", "", "cross-origin login refused"))
		return
	}
	tok := strings.TrimSpace(r.PostFormValue("token"))
	tok = strings.TrimSpace(strings.TrimPrefix(tok, "Bearer "))
	if tok == "" {
		s.renderLogin(w, http.StatusBadRequest, "Paste a bearer token.")
		return
	}
	u, err := s.api.WhoAmI(WithToken(r.Context(), tok))
	if err != nil {
		s.log.Info("login refused", "err", err)
		s.renderLogin(w, http.StatusUnauthorized, "Login refused by the apiserver: "+err.Error())
		return
	}
	s.log.Info("login", "user", u.GetUsername())
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: tok, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r),
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	clearSession(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r)})
}

// secure reports a request that reached us over HTTPS (directly or through
// a proxy such as the ingress controller): only then is the cookie marked
// Secure, since a browser drops a Secure cookie set over plain HTTP.
func secure(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

// sameOrigin refuses a form posted from another site. SameSite=Strict
// already keeps the cookie off such requests; this guards the login form
// against login CSRF.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return o == ""
	}
	host := o[strings.Index(o, "://")+3:]
	return host == r.Host || host == r.Header.Get("X-Forwarded-Host")
}

// APIError is the JSON body of a failed call: the apiserver's own message
// (a Forbidden names the user, the verb and the resource) and reason.
type APIError struct {
	Error  string `json:"error"`
	Reason string `json:"reason,omitempty"`
	Code   int    `json:"code"`
}

// errorOf is err as the dashboard passes it on: an apiserver Status keeps
// its code, reason and message; anything else is a 500.
func errorOf(err error) APIError {
	var se *apierrors.StatusError
	if errors.As(err, &se) && se.Status.GetCode() != 0 {
		return APIError{Error: se.Status.GetMessage(), Reason: se.Status.GetReason(), Code: int(se.Status.GetCode())}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return APIError{Error: err.Error(), Reason: apierrors.ReasonTimeout, Code: http.StatusGatewayTimeout}
	}
	return APIError{Error: err.Error(), Reason: apierrors.ReasonInternal, Code: http.StatusInternalServerError}
}

func writeError(w http.ResponseWriter, err error) {
	e := errorOf(err)
	writeJSON(w, e.Code, e)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
