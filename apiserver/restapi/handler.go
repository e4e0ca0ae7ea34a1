// Package restapi is the apiserver's HTTP front: the Kubernetes REST API
// (discovery, CRUD, watch, patch, subresources, Status errors) that kubectl
// and client-go speak. Like the gRPC front (apiserver/server) it only
// decodes a request into a Target and an object, hands it to the request
// path (apiserver/endpoints) and encodes the answer; it knows no kind.
package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/audit"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/endpoints"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/warning"
)

// MaxBodyBytes is the largest request body (Kubernetes' 3 MiB).
const MaxBodyBytes = 3 << 20

// Config wires the front.
type Config struct {
	API *endpoints.API
	// Extra serves paths that are not resources (health, metrics, OpenAPI,
	// version); nil answers 404 for them.
	Extra http.Handler
	// Connect serves the subresources that are streams, not objects
	// (pods/log, pods/exec, pods/attach, pods/portforward, nodes/proxy),
	// after the request path has authorized them; nil refuses them.
	Connect func(w http.ResponseWriter, r *http.Request, t endpoints.Target, rest string)
	// Patch applies a patch of the given content type to an object's JSON.
	Patch PatchFunc
	Log   *slog.Logger
}

// PatchFunc applies patch (of content type patchType) to the JSON of the
// current object; current is nil when the object does not exist (only
// server-side apply creates).
type PatchFunc func(k *scheme.Kind, current []byte, patchType string, patch []byte, o PatchOptions) ([]byte, error)

// PatchOptions carry what server-side apply needs.
type PatchOptions struct {
	FieldManager string
	Force        bool
}

// Handler serves the REST API.
type Handler struct {
	cfg Config
}

// New returns the handler.
func New(cfg Config) *Handler {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Handler{cfg: cfg}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.cfg.Log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p)
			audit.From(r.Context()).Panic(p)
			writeError(w, apierrors.NewInternal(fmt.Errorf("panic: %v", p)))
		}
	}()
	path := r.URL.Path
	switch {
	case path == "/api" || path == "/api/":
		h.serveLegacyVersions(w, r)
		return
	case path == "/apis" || path == "/apis/":
		h.serveGroups(w, r)
		return
	}
	rt, ok, err := parsePath(h.cfg.API, path)
	if !ok {
		if h.serveGroupDiscovery(w, r) {
			return
		}
		if h.cfg.Extra != nil {
			h.cfg.Extra.ServeHTTP(w, r)
			return
		}
		writeError(w, apierrors.NewNotFound("", path))
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	h.serveResource(w, r, rt)
}

// connectSubresources are streams, served by Config.Connect.
var connectSubresources = map[string]string{
	"log": "get", "exec": "create", "attach": "create", "portforward": "create", "proxy": "get",
}

var proxyVerbs = map[string]string{
	http.MethodGet: "get", http.MethodHead: "get", http.MethodPost: "create", http.MethodPut: "update",
	http.MethodPatch: "patch", http.MethodDelete: "delete", http.MethodOptions: "get",
}

func (h *Handler) serveResource(w http.ResponseWriter, r *http.Request, rt route) {
	// Warnings of the request path (admission) become Warning headers
	// of the answer (writeObject).
	wctx, _ := warning.NewContext(r.Context())
	r = r.WithContext(wctx)
	q := r.URL.Query()
	ctx := r.Context()
	api := h.cfg.API
	t := rt.target
	if verb, ok := connectSubresources[t.Subresource]; ok {
		if h.cfg.Connect == nil {
			writeError(w, apierrors.NewNotFound(rt.kind.GroupResource()+"/"+t.Subresource, t.Name))
			return
		}
		if t.Subresource == "proxy" {
			// Authorized by the method, as Kubernetes does: GET is get,
			// POST create, PUT update, PATCH patch, DELETE delete.
			verb = proxyVerbs[r.Method]
			if verb == "" {
				writeError(w, apierrors.NewMethodNotSupported(rt.kind.GroupResource()+"/proxy", r.Method))
				return
			}
		}
		if _, err := api.Authorize(ctx, verb, t); err != nil {
			writeError(w, err)
			return
		}
		h.cfg.Connect(w, r, t, rt.rest)
		return
	}
	watch := boolParam(q, "watch")
	switch verbOf(r.Method, rt, watch) {
	case "get":
		obj, err := api.Get(ctx, t)
		h.writeObject(w, r, http.StatusOK, obj, err)
	case "list":
		h.list(w, r, rt)
	case "watch":
		h.watch(w, r, rt)
	case "create":
		h.create(w, r, rt)
	case "update":
		h.update(w, r, rt)
	case "patch":
		h.patch(w, r, rt)
	case "delete":
		opts, err := deleteOptions(r)
		if err != nil {
			writeError(w, err)
			return
		}
		obj, err := api.Delete(ctx, t, opts, rest.WriteOptions{DryRun: dryRun(opts.GetDryRun()) || dryRun(q["dryRun"])})
		h.writeObject(w, r, http.StatusOK, obj, err)
	case "deletecollection":
		h.deleteCollection(w, r, rt)
	default:
		writeError(w, apierrors.NewMethodNotSupported(rt.kind.GroupResource(), r.Method))
	}
}

// Describe tells the audit record of r (if any) which verb and resource
// its URL asks for, as Kubernetes knows it before authentication, so a
// request refused before the request path evaluates it (401, a bad body)
// is recorded with its objectRef. The door calls it before authenticating.
func (h *Handler) Describe(r *http.Request) {
	ar := audit.From(r.Context())
	if ar == nil {
		return
	}
	rt, ok, err := parsePath(h.cfg.API, r.URL.Path)
	if !ok || err != nil {
		return
	}
	verb := verbOf(r.Method, rt, boolParam(r.URL.Query(), "watch"))
	if v, ok := connectSubresources[rt.target.Subresource]; ok {
		verb = v
		if rt.target.Subresource == "proxy" {
			verb = proxyVerbs[r.Method]
		}
	}
	t := rt.target
	if !rt.kind.Namespaced {
		t.Namespace = ""
	}
	ar.Describe(auth.Attributes{Verb: verb, Group: rt.kind.Group, Resource: rt.kind.Resource,
		Subresource: t.Subresource, Namespace: t.Namespace, Name: t.Name}, rt.kind.Version)
}

func boolParam(q map[string][]string, name string) bool {
	v := ""
	if vs := q[name]; len(vs) > 0 {
		v = vs[0]
	}
	return v == "1" || v == "true" || v == "True"
}

func dryRun(vs []string) bool {
	for _, v := range vs {
		if v == "All" {
			return true
		}
	}
	return false
}

func listOptions(r *http.Request) (rest.ListOptions, error) {
	q := r.URL.Query()
	o := rest.ListOptions{
		LabelSelector:        q.Get("labelSelector"),
		FieldSelector:        q.Get("fieldSelector"),
		ResourceVersion:      q.Get("resourceVersion"),
		ResourceVersionMatch: q.Get("resourceVersionMatch"),
		Continue:             q.Get("continue"),
		AllowBookmarks:       boolParam(q, "allowWatchBookmarks"),
		SendInitialEvents:    boolParam(q, "sendInitialEvents"),
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.ParseInt(l, 10, 64)
		if err != nil || n < 0 {
			return o, apierrors.NewBadRequest(fmt.Sprintf("invalid limit %q: must be a non-negative integer", l))
		}
		o.Limit = n
	}
	return o, nil
}

// readBody reads a request body up to MaxBodyBytes.
func readBody(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, apierrors.NewBadRequest("reading the request body: " + err.Error())
	}
	if len(data) > MaxBodyBytes {
		return nil, apierrors.NewTooLarge(fmt.Sprintf("Request entity too large: limit is %d", MaxBodyBytes))
	}
	return data, nil
}

// decodeBody decodes a request body as kind k, with the request's field
// validation: Strict (unknown or duplicate fields are errors), Warn (they
// become Warning headers) or Ignore.
func decodeBody(w http.ResponseWriter, r *http.Request, k *scheme.Kind, data []byte) (scheme.Object, error) {
	if len(data) == 0 {
		return nil, apierrors.NewBadRequest("the request has no body: a " + k.Kind + " is required")
	}
	ct := r.Header.Get("Content-Type")
	if isProtobuf(r) {
		j, err := protobufToJSON(data)
		if err != nil {
			return nil, err
		}
		data = j
	} else if strings.Contains(ct, "yaml") {
		j, err := codec.YAMLToJSON(data)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		data = j
	}
	obj := k.New()
	mode := r.URL.Query().Get("fieldValidation")
	switch mode {
	case "", "Strict":
		if err := codec.UnmarshalJSON(data, obj); err != nil {
			return nil, decodeError(k, err, mode == "Strict")
		}
	case "Warn", "Ignore":
		warnings, err := codec.UnmarshalJSONLenient(data, obj)
		if err != nil {
			return nil, decodeError(k, err, false)
		}
		if mode == "Warn" {
			for _, wn := range warnings {
				w.Header().Add("Warning", warning.Header(wn))
			}
		}
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("fieldValidation %q: must be Ignore, Warn or Strict", mode))
	}
	if av, kind := obj.GetApiVersion(), obj.GetKind(); (av != "" && av != k.APIVersion()) || (kind != "" && kind != k.Kind) {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s), or the kind (%s) is not %s", av, k.APIVersion(), kind, k.Kind))
	}
	return obj, nil
}

// decodeError words a decode failure as Kubernetes does: strict field
// errors are "strict decoding error: unknown field ..." (BadRequest).
func decodeError(k *scheme.Kind, err error, strict bool) error {
	var fe *codec.FieldError
	if errors.As(err, &fe) && (strings.HasPrefix(fe.Detail, "unknown field") || strings.HasPrefix(fe.Detail, "duplicate field")) {
		what, _, _ := strings.Cut(fe.Detail, " \"")
		return apierrors.NewBadRequest(fmt.Sprintf("strict decoding error: %s %q", what, fe.Path))
	}
	return apierrors.NewBadRequest(fmt.Sprintf("error decoding %s: %v", k.Kind, err))
}

// writeOptions are a write's options; the field manager is the
// fieldManager parameter or, as Kubernetes defaults it, the User-Agent's
// first segment ("kubectl"), so creates and updates record their writer
// in managedFields.
func writeOptions(r *http.Request) rest.WriteOptions {
	q := r.URL.Query()
	m := q.Get("fieldManager")
	if m == "" {
		m = managerFromUserAgent(r.UserAgent())
	}
	return rest.WriteOptions{DryRun: dryRun(q["dryRun"]), FieldManager: m}
}

// readObject decodes the body of a create or update of t as the kind its
// storage takes; it writes the error and reports false when it cannot.
func (h *Handler) readObject(w http.ResponseWriter, r *http.Request, t endpoints.Target) (scheme.Object, bool) {
	bk, err := h.cfg.API.BodyKind(t)
	if err == nil {
		var data []byte
		if data, err = readBody(r); err == nil {
			var obj scheme.Object
			if obj, err = decodeBody(w, r, bk, data); err == nil {
				return obj, true
			}
		}
	}
	writeError(w, err)
	return nil, false
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request, rt route) {
	t := rt.target
	if t.Subresource == "" && rt.kind.Namespaced && t.Namespace == "" {
		writeError(w, apierrors.NewBadRequest("the namespace of the object must be given in the URL: POST /api/v1/namespaces/NAMESPACE/"+rt.kind.Resource))
		return
	}
	obj, ok := h.readObject(w, r, t)
	if !ok {
		return
	}
	out, err := h.cfg.API.Create(r.Context(), t, obj, writeOptions(r))
	h.writeObject(w, r, http.StatusCreated, out, err)
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request, rt route) {
	obj, ok := h.readObject(w, r, rt.target)
	if !ok {
		return
	}
	out, err := h.cfg.API.Update(r.Context(), rt.target, obj, writeOptions(r))
	h.writeObject(w, r, http.StatusOK, out, err)
}

func deleteOptions(r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(data) > 0 && isProtobuf(r) {
		if data, err = protobufToJSON(data); err != nil {
			return nil, err
		}
	}
	if len(strings.TrimSpace(string(data))) > 0 {
		if _, err := codec.UnmarshalJSONLenient(data, opts); err != nil {
			return nil, apierrors.NewBadRequest("invalid DeleteOptions: " + err.Error())
		}
	}
	q := r.URL.Query()
	if g := q.Get("gracePeriodSeconds"); g != "" {
		n, err := strconv.ParseInt(g, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid gracePeriodSeconds %q", g))
		}
		opts.GracePeriodSeconds = &n
	}
	if p := q.Get("propagationPolicy"); p != "" {
		opts.PropagationPolicy = p
	}
	if opts.GetOrphanDependents() && opts.PropagationPolicy == "" {
		opts.PropagationPolicy = "Orphan"
	}
	return opts, nil
}

func (h *Handler) deleteCollection(w http.ResponseWriter, r *http.Request, rt route) {
	lo, err := listOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	opts, err := deleteOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	objs, err := h.cfg.API.DeleteCollection(r.Context(), rt.target, lo, opts, rest.WriteOptions{DryRun: dryRun(opts.GetDryRun()) || dryRun(r.URL.Query()["dryRun"])})
	if err != nil {
		writeError(w, err)
		return
	}
	items := make([]cache.Item, len(objs))
	for i, o := range objs {
		items[i] = cache.NewItem(o)
	}
	h.writeList(w, r, rt, &rest.ListResult{Items: items})
}

// writeObject writes obj as JSON (or a one-row Table when asked), or err.
func (h *Handler) writeObject(w http.ResponseWriter, r *http.Request, code int, obj scheme.Object, err error) {
	for _, text := range warning.FromContext(r.Context()) {
		w.Header().Add("Warning", warning.Header(text))
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if wantsTable(r) {
		k, kerr := scheme.KindOf(obj)
		if kerr == nil {
			h.writeTable(w, r, k, []scheme.Object{obj}, obj.GetMetadata().GetResourceVersion(), "")
			return
		}
	}
	data, merr := codec.MarshalJSON(obj)
	if merr != nil {
		writeError(w, apierrors.NewInternal(merr))
		return
	}
	writeJSONFor(w, r, code, data)
}

func writeJSON(w http.ResponseWriter, code int, data []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

// writeError writes err as a metav1.Status with its HTTP code.
// WriteError answers with err as a metav1.Status (its code, or 500), as
// every error of this front is answered; the apiserver's authentication
// at the door uses it for its 401s.
func WriteError(w http.ResponseWriter, err error) { writeError(w, err) }

func writeError(w http.ResponseWriter, err error) {
	st := statusOf(err)
	if s := st.GetDetails().GetRetryAfterSeconds(); s > 0 {
		// What client-go and kubectl wait for before trying again.
		w.Header().Set("Retry-After", strconv.Itoa(int(s)))
	}
	data, _ := codec.MarshalJSON(st)
	writeJSON(w, int(st.Code), data)
}

func statusOf(err error) *metav1.Status {
	var se *apierrors.StatusError
	if errors.As(err, &se) && se.Status != nil {
		st := se.Status
		if st.Code == 0 {
			st.Code = http.StatusInternalServerError
		}
		st.ApiVersion, st.Kind, st.Status = "v1", "Status", "Failure"
		if st.Metadata == nil {
			st.Metadata = &metav1.ListMeta{}
		}
		return st
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return apierrors.NewTimeout(err.Error()).Status
	}
	return apierrors.NewInternal(err).Status
}

// list answers a collection GET: a KIND+"List", or a Table when asked.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, rt route) {
	o, err := listOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := h.cfg.API.List(r.Context(), rt.target, o)
	if err != nil {
		writeError(w, err)
		return
	}
	h.writeList(w, r, rt, res)
}

func (h *Handler) writeList(w http.ResponseWriter, r *http.Request, rt route, res *rest.ListResult) {
	if wantsTable(r) {
		objs := make([]scheme.Object, len(res.Items))
		for i, it := range res.Items {
			objs[i] = it.Object
		}
		h.writeTable(w, r, rt.kind, objs, res.ResourceVersion, res.Continue)
		return
	}
	k := rt.kind
	buf := listBuffer(256 + len(res.Items)*1024)
	buf = append(buf, `{"kind":`...)
	buf = strconv.AppendQuote(buf, k.Kind+"List")
	buf = append(buf, `,"apiVersion":`...)
	buf = strconv.AppendQuote(buf, k.APIVersion())
	meta, _ := json.Marshal(listMeta{ResourceVersion: res.ResourceVersion, Continue: res.Continue})
	buf = append(buf, `,"metadata":`...)
	buf = append(buf, meta...)
	buf = append(buf, `,"items":[`...)
	itemsStart := len(buf)
	for i, it := range res.Items {
		if i > 0 {
			buf = append(buf, ',')
		}
		if i == 1 {
			buf = growFor(buf, itemsStart, 1, len(res.Items))
		}
		var err error
		if buf, err = codec.AppendJSON(buf, it.Object); err != nil {
			writeError(w, apierrors.NewInternal(err))
			return
		}
	}
	buf = append(buf, "]}"...)
	writePooledJSON(w, r, http.StatusOK, buf)
}

type listMeta struct {
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Continue        string `json:"continue,omitempty"`
}
