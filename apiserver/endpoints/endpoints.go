// Package endpoints is the apiserver's one request path, shared by the gRPC
// and the HTTP front: find the storage of the resource, authenticate the
// caller, authorize the verb, run admission on writes, then call the
// storage. The fronts only decode requests into a Target and an object,
// and encode what comes back; neither knows any kind.
package endpoints

import (
	"context"
	"fmt"
	"sort"
	"strings"

	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/admission"
	"minik8s/apiserver/audit"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/registry/rest"
)

// Target names what a request acts on.
type Target struct {
	// Group is the API group ("" core, "apps", "metrics.k8s.io"). Empty
	// with a Resource of the scheme means that resource's group, so
	// callers that know only resource names (the gRPC front) find every
	// stored kind; a Resource written "nodes.metrics.k8s.io" carries its
	// group.
	Group       string
	Resource    string // "pods"
	Subresource string // "", "status", "binding", "log", ...
	Namespace   string
	Name        string
}

func (t Target) path() string {
	if t.Subresource == "" {
		return t.Resource
	}
	return t.Resource + "/" + t.Subresource
}

// groupResource is a resource of one group.
type groupResource struct{ group, resource string }

// served is one registered resource or subresource.
type served struct {
	kind    *scheme.Kind // the kind the resource belongs to
	storage rest.Storage
}

// API holds the resources and the stages of the request path.
type API struct {
	Authenticator auth.Authenticator
	Authorizer    auth.Authorizer
	Admission     admission.Chain

	// resources are keyed by group and path ("pods", "pods/status").
	resources map[groupResource]served
	// kinds are the resources' kinds by group and resource name.
	kinds map[groupResource]*scheme.Kind
	// limits bound requests that are not long-running (SetLimits).
	limits *limiter
}

// New returns an API with no resources; nil stages default to Anonymous
// and AlwaysAllow, and an empty admission chain.
func New(authn auth.Authenticator, authz auth.Authorizer, adm admission.Chain) *API {
	if authn == nil {
		authn = auth.Anonymous{}
	}
	if authz == nil {
		authz = auth.AlwaysAllow{}
	}
	return &API{Authenticator: authn, Authorizer: authz, Admission: adm,
		resources: map[groupResource]served{}, kinds: map[groupResource]*scheme.Kind{}}
}

// Register serves path ("pods" or "pods/status") with s. The resource
// part must be a kind of the scheme. Registering a path twice panics.
func (a *API) Register(path string, s rest.Storage) {
	res, _, _ := strings.Cut(path, "/")
	k, err := scheme.ByResource(res)
	if err != nil {
		panic("endpoints: register " + path + ": " + err.Error())
	}
	a.register(k, path, s)
}

// RegisterComputed serves path ("nodes", "pods") of a resource the scheme
// does not store, described by k: metrics.k8s.io's nodes and pods, whose
// names other groups use too. Registering a path twice panics.
func (a *API) RegisterComputed(k *scheme.Kind, path string, s rest.Storage) {
	if res, _, _ := strings.Cut(path, "/"); res != k.Resource {
		panic("endpoints: register " + path + ": not a path of " + k.GroupResource())
	}
	a.register(k, path, s)
}

func (a *API) register(k *scheme.Kind, path string, s rest.Storage) {
	key := groupResource{k.Group, path}
	if _, dup := a.resources[key]; dup {
		panic("endpoints: registered twice: " + path + " of group " + k.Group)
	}
	a.resources[key] = served{kind: k, storage: s}
	a.kinds[groupResource{k.Group, k.Resource}] = k
}

// Resource describes one served resource or subresource, for discovery.
type Resource struct {
	Path  string       // "pods", "pods/status"
	Kind  *scheme.Kind // the kind the resource belongs to (Pod for pods/status)
	Body  *scheme.Kind // the kind the storage takes and returns
	Verbs []string
}

// Resources lists everything served, sorted by group and path.
func (a *API) Resources() []Resource {
	out := make([]Resource, 0, len(a.resources))
	for key, sv := range a.resources {
		out = append(out, Resource{Path: key.resource, Kind: sv.kind, Body: sv.storage.Kind(), Verbs: rest.Verbs(sv.storage)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind.Group != out[j].Kind.Group {
			return out[i].Kind.Group < out[j].Kind.Group
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// Kind returns the kind a resource belongs to: "pods", "deployments"
// (a stored kind, in its group) or "nodes.metrics.k8s.io" (group
// given); an unknown one is NotFound.
func (a *API) Kind(resource string) (*scheme.Kind, error) {
	return a.KindOf("", resource)
}

// KindOf returns the kind of resource in group; an empty group also finds
// a stored kind by its resource name alone (see Target.Group).
func (a *API) KindOf(group, resource string) (*scheme.Kind, error) {
	if group == "" {
		if res, g, ok := strings.Cut(resource, "."); ok {
			resource, group = res, g
		}
	}
	if k, ok := a.kinds[groupResource{group, resource}]; ok {
		return k, nil
	}
	if group == "" {
		if k, err := scheme.ByResource(resource); err == nil {
			if k, ok := a.kinds[groupResource{k.Group, k.Resource}]; ok {
				return k, nil
			}
		}
	}
	return nil, apierrors.NewNotFound("resource", resource)
}

// BodyKind is the kind of the object a write to t carries.
func (a *API) BodyKind(t Target) (*scheme.Kind, error) {
	s, _, err := a.storage(t)
	if err != nil {
		return nil, err
	}
	return s.Kind(), nil
}

// storage finds the storage of t and the kind it belongs to.
func (a *API) storage(t Target) (rest.Storage, *scheme.Kind, error) {
	k, err := a.KindOf(t.Group, t.Resource)
	if err != nil {
		return nil, nil, err
	}
	t.Resource = k.Resource
	sv, ok := a.resources[groupResource{k.Group, t.path()}]
	if !ok {
		if t.Subresource != "" {
			return nil, nil, apierrors.NewNotFound(k.GroupResource()+"/"+t.Subresource, t.Name)
		}
		return nil, nil, apierrors.NewNotFound("resource", t.Resource)
	}
	return sv.storage, k, nil
}

func notSupported(k *scheme.Kind, t Target, verb string) error {
	r := k.GroupResource()
	if t.Subresource != "" {
		r += "/" + t.Subresource
	}
	return apierrors.NewMethodNotSupported(r, verb)
}

// Authorize authenticates the caller and checks that it may do verb on t.
// The fronts call it themselves only for what does not go through a
// storage (pods/log, pods/exec, nodes/proxy).
func (a *API) Authorize(ctx context.Context, verb string, t Target) (*auth.User, error) {
	k, err := a.KindOf(t.Group, t.Resource)
	if err != nil {
		return nil, err
	}
	return a.gate(ctx, verb, t, k)
}

// gate authenticates and authorizes; lists and watches also pass their
// field selector (for the Node authorizer).
func (a *API) gate(ctx context.Context, verb string, t Target, k *scheme.Kind, fieldSelector ...string) (*auth.User, error) {
	ar := audit.From(ctx)
	user, ok, err := a.Authenticator.Authenticate(ctx)
	if err == nil && !ok {
		err = apierrors.NewUnauthorized("Unauthorized")
	}
	if err != nil {
		ar.AuthenticationFailed(ctx)
		return nil, err
	}
	attrs := auth.Attributes{User: user, Verb: verb, Group: k.Group, Resource: k.Resource,
		Subresource: t.Subresource, Namespace: t.Namespace, Name: t.Name}
	if !k.Namespaced {
		attrs.Namespace = ""
	}
	if len(fieldSelector) > 0 {
		attrs.FieldSelector = fieldSelector[0]
	}
	// The audit policy decides with the user and the resource, before
	// authorization, whose decision it then records.
	ar.Evaluate(attrs, k.Version)
	if err := auth.Check(ctx, ar.Authorizer(a.Authorizer), attrs); err != nil {
		return nil, err
	}
	return user, nil
}

// admit runs the admission chain on a write to t; s is the storage the
// write goes to, which reads the old object for the plugins that ask.
func (a *API) admit(ctx context.Context, op string, t Target, k *scheme.Kind, s rest.Storage, obj scheme.Object, user *auth.User, o rest.WriteOptions) error {
	if len(a.Admission) == 0 {
		return nil
	}
	attrs := &admission.Attributes{
		Operation: op, Kind: k, Namespace: t.Namespace, Name: t.Name, Subresource: t.Subresource, Object: obj, User: user, DryRun: o.DryRun,
	}
	if g, ok := s.(rest.Getter); ok && op != admission.Create {
		attrs.OldObject = func(ctx context.Context) (scheme.Object, error) { return g.Get(ctx, t.Namespace, t.Name) }
	}
	return a.Admission.Admit(ctx, attrs)
}

// Get reads one object.
func (a *API) Get(ctx context.Context, t Target) (scheme.Object, error) {
	s, k, err := a.storage(t)
	if err != nil {
		return nil, err
	}
	g, ok := s.(rest.Getter)
	if !ok {
		return nil, notSupported(k, t, "get")
	}
	user, err := a.gate(ctx, "get", t, k)
	if err != nil {
		return nil, err
	}
	ctx, done, err := a.begin(ctx, user, false)
	if err != nil {
		return nil, err
	}
	defer done()
	obj, err := g.Get(ctx, ns(k, t), t.Name)
	audit.From(ctx).LogResponseObject(s.Kind(), obj)
	return obj, err
}

func ns(k *scheme.Kind, t Target) string {
	if !k.Namespaced {
		return ""
	}
	return t.Namespace
}

// List reads a page of objects.
func (a *API) List(ctx context.Context, t Target, o rest.ListOptions) (*rest.ListResult, error) {
	s, k, err := a.storage(t)
	if err != nil {
		return nil, err
	}
	l, ok := s.(rest.Lister)
	if !ok {
		return nil, notSupported(k, t, "list")
	}
	user, err := a.gate(ctx, "list", t, k, o.FieldSelector)
	if err != nil {
		return nil, err
	}
	ctx, done, err := a.begin(ctx, user, false)
	if err != nil {
		return nil, err
	}
	defer done()
	res, err := l.List(ctx, ns(k, t), o)
	if ar := audit.From(ctx); err == nil && ar.Level() == audit.LevelRequestResponse {
		items := make([]scheme.Object, len(res.Items))
		for i, it := range res.Items {
			items[i] = it.Object
		}
		ar.LogResponseList(s.Kind(), items, res.ResourceVersion, res.Continue)
	}
	return res, err
}

// Watch opens a watch; the caller stops it. A target with a name watches
// only that object.
func (a *API) Watch(ctx context.Context, t Target, o rest.ListOptions) (*cache.Watcher, error) {
	s, k, err := a.storage(t)
	if err != nil {
		return nil, err
	}
	w, ok := s.(rest.Watcher)
	if !ok {
		return nil, notSupported(k, t, "watch")
	}
	if _, err := a.gate(ctx, "watch", t, k, o.FieldSelector); err != nil {
		return nil, err
	}
	if t.Name != "" {
		// A watch of one object (GET .../pods/NAME?watch=1, still served
		// by Kubernetes) is the collection's watch narrowed to the name.
		sel := "metadata.name=" + t.Name
		if o.FieldSelector != "" {
			sel = o.FieldSelector + "," + sel
		}
		o.FieldSelector = sel
	}
	return w.Watch(ctx, ns(k, t), o)
}

// Create stores obj. For a subresource (pods/binding) t.Name is the
// object the subresource belongs to; otherwise it is obj's name.
func (a *API) Create(ctx context.Context, t Target, obj scheme.Object, o rest.WriteOptions) (scheme.Object, error) {
	s, k, err := a.storage(t)
	if err != nil {
		return nil, err
	}
	if t.Name == "" {
		t.Name = obj.GetMetadata().GetName()
	}
	t.Namespace = ns(k, t)
	// Kubernetes authorizes a create without the new object's name (a
	// rule with resourceNames never allows it); a create on a
	// subresource (pods/NAME/binding) names its object.
	gt := t
	if t.Subresource == "" {
		gt.Name = ""
	}
	user, err := a.gate(ctx, "create", gt, k)
	if err != nil {
		return nil, err
	}
	ctx, done, err := a.begin(ctx, user, true)
	if err != nil {
		return nil, err
	}
	defer done()
	ctx = auth.WithUser(ctx, user) // for storages that decide by caller (RBAC escalation)
	ar := audit.From(ctx)
	var out scheme.Object
	switch c := s.(type) {
	case rest.Creater:
		ar.LogRequestObject(s.Kind(), obj)
		if err := a.admit(ctx, admission.Create, t, k, s, obj, user, o); err != nil {
			return nil, err
		}
		out, err = c.Create(ctx, t.Namespace, obj, o)
	case rest.NamedCreater:
		ar.LogRequestObject(s.Kind(), obj)
		if err := a.admit(ctx, admission.Create, t, k, s, obj, user, o); err != nil {
			return nil, err
		}
		out, err = c.CreateNamed(ctx, t.Namespace, t.Name, obj, o)
	default:
		return nil, notSupported(k, t, "create")
	}
	ar.LogResponseObject(s.Kind(), out)
	return out, err
}

// Update replaces obj (or its status, for t.Subresource "status").
func (a *API) Update(ctx context.Context, t Target, obj scheme.Object, o rest.WriteOptions) (scheme.Object, error) {
	s, k, err := a.storage(t)
	if err != nil {
		return nil, err
	}
	u, ok := s.(rest.Updater)
	if !ok {
		return nil, notSupported(k, t, "update")
	}
	if t.Name == "" {
		t.Name = obj.GetMetadata().GetName()
	}
	if n := obj.GetMetadata().GetName(); n != "" && n != t.Name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", n, t.Name))
	}
	t.Namespace = ns(k, t)
	user, err := a.gate(ctx, "update", t, k)
	if err != nil {
		return nil, err
	}
	ctx, done, err := a.begin(ctx, user, true)
	if err != nil {
		return nil, err
	}
	defer done()
	ctx = auth.WithUser(ctx, user) // for storages that decide by caller (RBAC escalation)
	ar := audit.From(ctx)
	ar.LogRequestObject(s.Kind(), obj)
	if err := a.admit(ctx, admission.Update, t, k, s, obj, user, o); err != nil {
		return nil, err
	}
	out, err := u.Update(ctx, t.Namespace, obj, o)
	ar.LogResponseObject(s.Kind(), out)
	return out, err
}

// Delete removes the named object.
func (a *API) Delete(ctx context.Context, t Target, opts *metav1.DeleteOptions, o rest.WriteOptions) (scheme.Object, error) {
	s, k, err := a.storage(t)
	if err != nil {
		return nil, err
	}
	d, ok := s.(rest.Deleter)
	if !ok {
		return nil, notSupported(k, t, "delete")
	}
	t.Namespace = ns(k, t)
	user, err := a.gate(ctx, "delete", t, k)
	if err != nil {
		return nil, err
	}
	ctx, done, err := a.begin(ctx, user, true)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := a.admit(ctx, admission.Delete, t, k, s, nil, user, o); err != nil {
		return nil, err
	}
	out, err := d.Delete(ctx, t.Namespace, t.Name, opts, o)
	audit.From(ctx).LogResponseObject(s.Kind(), out)
	return out, err
}

// DeleteCollection deletes every object a list selects and returns them.
func (a *API) DeleteCollection(ctx context.Context, t Target, lo rest.ListOptions, opts *metav1.DeleteOptions, o rest.WriteOptions) ([]scheme.Object, error) {
	s, k, err := a.storage(t)
	if err != nil {
		return nil, err
	}
	d, ok := s.(rest.Deleter)
	l, lok := s.(rest.Lister)
	if !ok || !lok {
		return nil, notSupported(k, t, "deletecollection")
	}
	t.Namespace = ns(k, t)
	user, err := a.gate(ctx, "deletecollection", t, k)
	if err != nil {
		return nil, err
	}
	ctx, done, err := a.begin(ctx, user, true)
	if err != nil {
		return nil, err
	}
	defer done()
	list, err := l.List(ctx, t.Namespace, lo)
	if err != nil {
		return nil, err
	}
	var out []scheme.Object
	for _, it := range list.Items {
		md := it.Object.GetMetadata()
		one := Target{Group: k.Group, Resource: k.Resource, Namespace: md.GetNamespace(), Name: md.GetName()}
		if err := a.admit(ctx, admission.Delete, one, k, s, nil, user, o); err != nil {
			return out, err
		}
		obj, err := d.Delete(ctx, one.Namespace, one.Name, opts, o)
		if apierrors.IsNotFound(err) {
			continue // gone meanwhile
		}
		if err != nil {
			return out, err
		}
		out = append(out, obj)
	}
	audit.From(ctx).LogResponseList(k, out, "", "")
	return out, nil
}
