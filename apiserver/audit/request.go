package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"minik8s/api/codec"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
)

// Annotation keys the request path sets, as Kubernetes names them.
const (
	AnnotationDecision = "authorization.k8s.io/decision"
	AnnotationReason   = "authorization.k8s.io/reason"
)

// Auditor records requests under a policy into a backend. A nil *Auditor
// records nothing.
type Auditor struct {
	policy  *Policy
	backend Backend
	now     func() time.Time
	newID   func() string
}

// New returns an auditor; nil (auditing off) when policy or backend is
// nil, as kube-apiserver logs nothing without a policy file.
func New(policy *Policy, backend Backend) *Auditor {
	if policy == nil || backend == nil {
		return nil
	}
	return &Auditor{policy: policy, backend: backend, now: time.Now, newID: NewID}
}

// NewID returns a new audit ID (a random UUID).
func NewID() string { return uuid.NewString() }

// Shutdown writes every event the backend accepted and closes it; call it
// after the servers stopped.
func (a *Auditor) Shutdown() {
	if a != nil {
		a.backend.Shutdown()
	}
}

// RequestInfo is what the front knows of a request before anything
// authenticates it.
type RequestInfo struct {
	// AuditID the client sent (REST: the Audit-Id header); empty makes a
	// new one when the request is recorded.
	AuditID    string
	RequestURI string
	SourceIPs  []string
	UserAgent  string
	// Received is when the request arrived; zero means now.
	Received time.Time
}

// Request is the audit record of one request in flight. Its methods are
// safe on a nil *Request (auditing off) and for concurrent use.
type Request struct {
	mu   sync.Mutex
	a    *Auditor
	info RequestInfo

	user       *auth.User
	imp        *auth.User
	attrs      auth.Attributes
	apiVersion string
	authFailed string // the message, once authentication failed

	evaluated bool
	rule      *PolicyRule
	ev        *Event // nil unless recorded (level above None)

	started   bool
	completed bool
	panicked  any
}

type requestKey struct{}

// Begin starts the audit record of a request and returns the context
// carrying it; with a nil Auditor it returns ctx and a nil Request.
func (a *Auditor) Begin(ctx context.Context, info RequestInfo) (context.Context, *Request) {
	if a == nil {
		return ctx, nil
	}
	if info.Received.IsZero() {
		info.Received = a.now()
	}
	if len(info.UserAgent) > maxUserAgent {
		info.UserAgent = info.UserAgent[:maxUserAgent] + "...TRUNCATED"
	}
	r := &Request{a: a, info: info}
	return context.WithValue(ctx, requestKey{}, r), r
}

// maxUserAgent is where Kubernetes truncates a user agent.
const maxUserAgent = 1024

// From returns the audit record in ctx, nil when the request is not
// audited.
func From(ctx context.Context) *Request {
	r, _ := ctx.Value(requestKey{}).(*Request)
	return r
}

// AddAnnotation records key=value on the request's event (admission
// plugins, authorizers); nothing when the request is not recorded. A key
// keeps its first value.
func AddAnnotation(ctx context.Context, key, value string) { From(ctx).Annotate(key, value) }

// SetUser records the authenticated user (the front's authentication at
// the door, or the request path's).
func (r *Request) SetUser(u *auth.User) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.user = u
	if r.ev != nil && u != nil {
		r.ev.User = userInfo(u)
	}
}

// SetImpersonatedUser records whom an authenticated user acts as (the
// Impersonate-User headers): the event's user stays the authenticated one.
func (r *Request) SetImpersonatedUser(u *auth.User) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.imp = u
	if r.ev != nil && u != nil {
		ui := userInfo(u)
		r.ev.ImpersonatedUser = &ui
	}
}

// AuthenticationFailed marks a request refused because its credentials
// did not authenticate. Kubernetes records such a request with no user,
// as one event at stage ResponseStarted whose status says which
// credentials were tried; Complete does the same.
func (r *Request) AuthenticationFailed(ctx context.Context) {
	if r == nil {
		return
	}
	c := auth.CredentialsFrom(ctx)
	var tried []string
	if c.BearerToken != "" {
		tried = append(tried, "bearer")
	}
	if len(c.Certificates) > 0 {
		tried = append(tried, "x509")
	}
	msg := "Authentication failed, no credentials provided"
	if len(tried) > 0 {
		msg = "Authentication failed, attempted: " + joinComma(tried)
	}
	r.mu.Lock()
	r.authFailed = msg
	r.mu.Unlock()
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ", "
		}
		out += v
	}
	return out
}

// Describe records what the front parsed: the verb and the resource (or
// the path of a non-resource request) and the resource's API version.
// The request path's Evaluate refines it; a request that never gets there
// (a bad URL, an unknown resource, a body that does not decode) is
// recorded as described.
func (r *Request) Describe(a auth.Attributes, apiVersion string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.evaluated {
		return
	}
	a.User = nil
	r.attrs, r.apiVersion = a, apiVersion
}

// Evaluate decides the request's level from the policy with a (the
// authenticated user, verb and resource, as authorization sees them) and,
// unless the level is None, builds the event and writes its
// RequestReceived stage. Only the first call counts (a patch authorizes
// a get and then an update; it is recorded once, as the front's verb).
func (r *Request) Evaluate(a auth.Attributes, apiVersion string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.evaluated {
		return
	}
	if r.attrs.Verb != "" {
		a.Verb = r.attrs.Verb
	}
	if a.User != nil {
		r.user = a.User
	}
	r.attrs, r.apiVersion = a, apiVersion
	r.evaluate(true)
}

// evaluate runs the policy once; mu is held.
func (r *Request) evaluate(received bool) {
	r.evaluated = true
	a := r.attrs
	a.User = r.user
	if r.authFailed != "" {
		a.User = nil
	}
	r.rule = r.a.policy.ruleFor(&a)
	if r.rule == nil || r.rule.Level == LevelNone {
		return
	}
	if r.info.AuditID == "" {
		r.info.AuditID = r.a.newID()
	}
	ev := &Event{
		Kind: "Event", APIVersion: "audit.k8s.io/v1",
		Level: r.rule.Level, AuditID: r.info.AuditID,
		RequestURI: r.info.RequestURI, Verb: a.Verb,
		SourceIPs: r.info.SourceIPs, UserAgent: r.info.UserAgent,
		RequestReceivedTimestamp: MicroTime(r.info.Received),
	}
	if a.User != nil {
		ev.User = userInfo(a.User)
	}
	if r.imp != nil {
		ui := userInfo(r.imp)
		ev.ImpersonatedUser = &ui
	}
	if a.IsResourceRequest() && a.Resource != "" {
		ev.ObjectRef = &ObjectReference{
			Resource: a.Resource, Namespace: a.Namespace, Name: a.Name,
			APIGroup: a.Group, APIVersion: r.apiVersion, Subresource: a.Subresource,
		}
	}
	r.ev = ev
	if received {
		r.emit(StageRequestReceived)
	}
}

func userInfo(u *auth.User) UserInfo {
	return UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups, Extra: u.Extra}
}

// Level is the request's level; None until Evaluate, and when not
// recorded.
func (r *Request) Level() Level {
	if r == nil {
		return LevelNone
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ev == nil {
		return LevelNone
	}
	return r.ev.Level
}

// ID is the request's audit ID; empty when it is not recorded.
func (r *Request) ID() string {
	if r == nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ev == nil {
		return ""
	}
	return r.ev.AuditID
}

// Annotate records key=value on the event (from Metadata up); a key keeps
// its first value.
func (r *Request) Annotate(key, value string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.annotate(key, value)
}

func (r *Request) annotate(key, value string) {
	if r.ev == nil {
		return
	}
	if r.ev.Annotations == nil {
		r.ev.Annotations = map[string]string{}
	}
	if _, set := r.ev.Annotations[key]; !set {
		r.ev.Annotations[key] = value
	}
}

// Authorizer returns z, recording its decision on the event
// (authorization.k8s.io/decision allow or forbid, and the reason); z
// itself when the request is not recorded.
func (r *Request) Authorizer(z auth.Authorizer) auth.Authorizer {
	if r.Level() == LevelNone {
		return z
	}
	return recorder{z: z, r: r}
}

type recorder struct {
	z auth.Authorizer
	r *Request
}

// Authorize asks z and records its decision. A later decision replaces an
// earlier one: a REST patch is authorized as a get and then an update, and
// the record must say why it was refused.
func (rc recorder) Authorize(ctx context.Context, a auth.Attributes) (auth.Decision, string, error) {
	d, reason, err := rc.z.Authorize(ctx, a)
	decision, note := "forbid", reason
	switch {
	case d == auth.Allow:
		decision = "allow"
	case err != nil && reason == "":
		note = "internal error"
	}
	rc.r.mu.Lock()
	defer rc.r.mu.Unlock()
	if rc.r.ev != nil {
		delete(rc.r.ev.Annotations, AnnotationDecision)
		delete(rc.r.ev.Annotations, AnnotationReason)
		rc.r.annotate(AnnotationDecision, decision)
		rc.r.annotate(AnnotationReason, note)
	}
	return d, reason, err
}

// sensitive reports whether the request's body may carry secret data,
// which is written only at RequestResponse: secrets' data. Kubernetes
// leaves this to the policy; the issue asks for it in code, so a Request
// level rule that catches secrets still never writes their data.
func (r *Request) sensitive() bool {
	return r.attrs.Group == "" && r.attrs.Resource == "secrets"
}

// LogRequestObject records the object a create or update carries, of kind
// k: from Metadata up its uid and resourceVersion (and name and namespace
// when the URL had none) go to objectRef; from Request up the object
// itself, except for secrets below RequestResponse. It is encoded now,
// before admission changes it. Only the first request object counts.
func (r *Request) LogRequestObject(k *scheme.Kind, obj scheme.Object) {
	if r == nil || obj == nil || !obj.ProtoReflect().IsValid() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ev == nil {
		return
	}
	if md := obj.GetMetadata(); md != nil && r.ev.ObjectRef != nil {
		ref := r.ev.ObjectRef
		if ref.Namespace == "" {
			ref.Namespace = md.GetNamespace()
		}
		if ref.Name == "" {
			ref.Name = md.GetName()
		}
		if ref.UID == "" {
			ref.UID = md.GetUid()
		}
		if ref.ResourceVersion == "" {
			ref.ResourceVersion = md.GetResourceVersion()
		}
	}
	if r.ev.Level.Less(LevelRequest) || r.ev.RequestObject != nil {
		return
	}
	if r.sensitive() && r.ev.Level.Less(LevelRequestResponse) {
		return
	}
	r.ev.RequestObject = r.encode(k, obj)
}

// LogRequestPatch records a patch's body as the request object (from
// Request up; not for secrets below RequestResponse), as Kubernetes does
// for PATCH. YAML (apply) patches are converted to JSON.
func (r *Request) LogRequestPatch(patch []byte) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ev == nil || r.ev.Level.Less(LevelRequest) || r.ev.RequestObject != nil {
		return
	}
	if r.sensitive() && r.ev.Level.Less(LevelRequestResponse) {
		return
	}
	if !json.Valid(patch) {
		j, err := codec.YAMLToJSON(patch)
		if err != nil || !json.Valid(j) {
			return
		}
		patch = j
	}
	r.ev.RequestObject = append(json.RawMessage(nil), patch...)
}

// LogResponseObject records the object answered (RequestResponse only).
func (r *Request) LogResponseObject(k *scheme.Kind, obj scheme.Object) {
	if r == nil || obj == nil || !obj.ProtoReflect().IsValid() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ev == nil || r.ev.Level != LevelRequestResponse {
		return
	}
	r.ev.ResponseObject = r.encode(k, obj)
}

// LogResponseList records a list answered, as the KIND+"List" the REST
// front sends (RequestResponse only).
func (r *Request) LogResponseList(k *scheme.Kind, items []scheme.Object, resourceVersion, cont string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ev == nil || r.ev.Level != LevelRequestResponse {
		return
	}
	buf := []byte(`{"kind":`)
	buf = strconv.AppendQuote(buf, k.Kind+"List")
	buf = append(buf, `,"apiVersion":`...)
	buf = strconv.AppendQuote(buf, k.APIVersion())
	meta, _ := json.Marshal(struct {
		ResourceVersion string `json:"resourceVersion,omitempty"`
		Continue        string `json:"continue,omitempty"`
	}{resourceVersion, cont})
	buf = append(buf, `,"metadata":`...)
	buf = append(buf, meta...)
	buf = append(buf, `,"items":[`...)
	for i, it := range items {
		if i > 0 {
			buf = append(buf, ',')
		}
		data, err := codec.MarshalJSON(r.stripped(it))
		if err != nil {
			return
		}
		buf = append(buf, data...)
	}
	buf = append(buf, "]}"...)
	r.ev.ResponseObject = buf
}

// encode writes obj as Kubernetes JSON with its apiVersion and kind; mu
// is held.
func (r *Request) encode(k *scheme.Kind, obj scheme.Object) json.RawMessage {
	o := r.stripped(obj)
	if k != nil && (o.GetKind() == "" || o.GetApiVersion() == "") {
		if o == obj {
			o = proto.Clone(obj).(scheme.Object)
		}
		scheme.SetTypeMeta(o, k)
	}
	data, err := codec.MarshalJSON(o)
	if err != nil {
		slog.Error("audit: encode object", "auditID", r.info.AuditID, "err", err)
		return nil
	}
	return data
}

// stripped is obj without managedFields when the rule omits them (a copy:
// objects may be shared with the watch cache).
func (r *Request) stripped(obj scheme.Object) scheme.Object {
	if r.rule == nil || r.rule.OmitManagedFields == nil || !*r.rule.OmitManagedFields {
		return obj
	}
	if len(obj.GetMetadata().GetManagedFields()) == 0 {
		return obj
	}
	c := proto.Clone(obj).(scheme.Object)
	c.GetMetadata().ManagedFields = nil
	return c
}

// longRunning: watches and the streaming subresources, which also get a
// ResponseStarted event (Kubernetes' long-running request check).
func (r *Request) longRunning() bool {
	if r.attrs.Verb == "watch" {
		return true
	}
	switch r.attrs.Subresource {
	case "attach", "exec", "proxy", "log", "portforward":
		return true
	}
	return false
}

// ResponseStarted records that a long-running request sent its response
// headers with code (a watch that is now streaming); other requests and
// repeated calls record nothing.
func (r *Request) ResponseStarted(code int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.responseStarted(code)
}

func (r *Request) responseStarted(code int) {
	if r.started || r.completed {
		return
	}
	r.started = true
	if r.ev == nil || !r.longRunning() {
		return
	}
	r.ev.ResponseStatus = &Status{Code: int32(code)}
	r.emit(StageResponseStarted)
}

// Panic records that handling the request panicked with p; Complete then
// writes the Panic stage.
func (r *Request) Panic(p any) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.panicked = p
	r.mu.Unlock()
}

// Complete records the response: its HTTP code and, for errors, the
// Status the client got (nil for success). It writes ResponseComplete
// (Panic after Panic; for a failed authentication the single
// ResponseStarted event Kubernetes writes). A request not evaluated yet
// is evaluated with what the front described. Only the first call counts.
func (r *Request) Complete(code int, st *metav1.Status) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.completed {
		return
	}
	if !r.evaluated {
		r.evaluate(r.authFailed == "")
	}
	if r.ev == nil {
		r.completed = true
		return
	}
	if code == 0 {
		code = http.StatusOK
	}
	status := &Status{Code: int32(code)}
	switch {
	case r.panicked != nil:
		status = &Status{Code: http.StatusInternalServerError, Status: "Failure", Reason: "InternalError",
			Message: fmt.Sprintf("APIServer panic'd: %v", r.panicked)}
	case r.authFailed != "":
		status.Message = r.authFailed
	case st != nil && code >= 300:
		status.Status, status.Message, status.Reason = st.GetStatus(), st.GetMessage(), st.GetReason()
		if st.Details != nil {
			status.Details, _ = codec.MarshalJSON(st.Details)
		}
		if r.ev.Level == LevelRequestResponse {
			// The client got the Status, not an object.
			c := proto.Clone(st).(*metav1.Status)
			c.ApiVersion, c.Kind = "v1", "Status"
			if c.Metadata == nil {
				c.Metadata = &metav1.ListMeta{}
			}
			r.ev.ResponseObject, _ = codec.MarshalJSON(c)
		}
	case code >= 300:
		r.ev.ResponseObject = nil
	}
	if r.authFailed != "" {
		r.ev.ResponseStatus = status
		r.emit(StageResponseStarted)
		r.completed = true
		return
	}
	if !r.started && r.panicked == nil {
		// A long-running request that failed before streaming still
		// gets its ResponseStarted, as Kubernetes writes it.
		r.responseStarted(code)
	}
	r.completed = true
	r.ev.ResponseStatus = status
	if r.panicked != nil {
		r.emit(StagePanic)
		return
	}
	r.emit(StageResponseComplete)
}

// emit writes the event at stage unless the rule omits it; mu is held.
func (r *Request) emit(stage Stage) {
	for _, s := range r.rule.OmitStages {
		if s == stage {
			return
		}
	}
	r.ev.Stage = stage
	if stage == StageRequestReceived {
		r.ev.StageTimestamp = r.ev.RequestReceivedTimestamp
	} else {
		r.ev.StageTimestamp = MicroTime(r.a.now())
	}
	line, err := json.Marshal(r.ev)
	if err != nil {
		slog.Error("audit: encode event", "auditID", r.ev.AuditID, "err", err)
		return
	}
	if !r.a.backend.ProcessEvents(line) {
		slog.Error("audit: event dropped (backend shut down)", "auditID", r.ev.AuditID, "stage", stage)
	}
}
