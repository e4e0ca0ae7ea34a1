// Package server is the apiserver's gRPC front: it decodes each request and
// walks it down the path the seed draws - authentication, authorization,
// admission (writes only), then the generic store, which validates and
// writes etcd. Errors leave as gRPC statuses carrying a Kubernetes Status.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/fields"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/rpc"
	"minik8s/api/scheme"
	"minik8s/apiserver/admission"
	"minik8s/apiserver/allocator"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/componentstatus"
	"minik8s/apiserver/storage"
	"minik8s/apiserver/store"
)

// MaxObjectBytes is the largest object a request may carry (as Kubernetes
// and etcd's default request limit: 1.5 MiB).
const MaxObjectBytes = 3 << 19

// Config wires the request-path stages.
type Config struct {
	Store         *store.Store
	Authenticator auth.Authenticator
	Authorizer    auth.Authorizer
	Admission     admission.Chain
	// Components answers componentstatuses, which are probed, not stored.
	Components *componentstatus.Prober
	// Services allocates cluster IPs and node ports around Service
	// writes; nil stores Services as they come.
	Services *allocator.Services
	Log      *slog.Logger
}

// Server implements rpc.APIServer.
type Server struct {
	rpc.UnimplementedAPIServer
	cfg Config
}

// New returns a server; nil stages default to Anonymous, AlwaysAllow and
// the NamespaceLifecycle admission plugin.
func New(cfg Config) *Server {
	if cfg.Authenticator == nil {
		cfg.Authenticator = auth.Anonymous{}
	}
	if cfg.Authorizer == nil {
		cfg.Authorizer = auth.AlwaysAllow{}
	}
	if cfg.Admission == nil {
		cfg.Admission = admission.Chain{DefaultNamespaceLifecycle(cfg.Store)}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Server{cfg: cfg}
}

// DefaultNamespaceLifecycle reads namespaces from the watch cache, and from
// etcd when the cache has not seen one yet (it was created a moment ago).
func DefaultNamespaceLifecycle(st *store.Store) admission.Plugin {
	nsKind, _ := scheme.ByResource("namespaces")
	return admission.NamespaceLifecycle{Get: func(ctx context.Context, name string) (*corev1.Namespace, error) {
		if obj, ok := st.Cache(nsKind).Get("", name); ok {
			return obj.(*corev1.Namespace), nil
		}
		obj, err := st.Get(ctx, nsKind, "", name)
		if err != nil {
			return nil, err
		}
		return obj.(*corev1.Namespace), nil
	}}
}

// Register adds the service to a gRPC server.
func (s *Server) Register(g *grpc.Server) { rpc.RegisterAPIServer(g, s) }

// ServerOptions are the gRPC options the apiserver needs: room for
// requests a little over the object limit (so the limit is reported as a
// clear API error) and the metrics interceptors.
func ServerOptions(m *Metrics) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(2 * MaxObjectBytes),
		// Let clients ping idle connections every 10s, so a watch notices a
		// dead apiserver and moves to another.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(m.unary, recoverUnary),
		grpc.ChainStreamInterceptor(m.stream, recoverStream),
	}
}

func kindOf(resource string) (*scheme.Kind, error) {
	k, err := scheme.ByResource(resource)
	if err != nil {
		return nil, apierrors.NewNotFound("resource", resource)
	}
	return k, nil
}

// computed is true for kinds that are probed, not stored.
func computed(k *scheme.Kind) bool { return k.Resource == "componentstatuses" }

// specialVerbs are the only verbs of kinds that are not plain stored
// objects: componentstatuses are probed, bindings only ever bind a pod.
var specialVerbs = map[string][]string{
	"componentstatuses": {"get", "list"},
	"bindings":          {"create"},
}

// served refuses a verb a kind does not serve.
func served(k *scheme.Kind, verb string) error {
	verbs, special := specialVerbs[k.Resource]
	if !special {
		return nil
	}
	for _, v := range verbs {
		if v == verb {
			return nil
		}
	}
	return apierrors.NewMethodNotSupported(k.GroupResource(), verb)
}

// gate runs authentication and authorization.
func (s *Server) gate(ctx context.Context, a auth.Attributes, k *scheme.Kind) (*auth.User, error) {
	user, err := s.cfg.Authenticator.Authenticate(ctx)
	if err != nil {
		return nil, err
	}
	a.User, a.Group, a.Resource = user, k.Group, k.Resource
	if !k.Namespaced {
		a.Namespace = ""
	}
	if err := s.cfg.Authorizer.Authorize(ctx, a); err != nil {
		return nil, err
	}
	return user, nil
}

func decode(k *scheme.Kind, o *rpc.Object) (scheme.Object, error) {
	if o == nil || len(o.Raw) == 0 {
		return nil, apierrors.NewBadRequest("request has no object")
	}
	if len(o.Raw) > MaxObjectBytes {
		return nil, apierrors.NewTooLarge(fmt.Sprintf("Request entity too large: %s object is %d bytes, limit is %d", k.Kind, len(o.Raw), MaxObjectBytes))
	}
	obj := k.New()
	if err := proto.Unmarshal(o.Raw, obj); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot decode %s: %v", k.Kind, err))
	}
	return obj, nil
}

func encode(obj scheme.Object) (*rpc.Object, error) {
	raw, err := proto.Marshal(obj)
	if err != nil {
		return nil, apierrors.NewInternal(err)
	}
	return &rpc.Object{Raw: raw}, nil
}

// Create implements rpc.APIServer.
func (s *Server) Create(ctx context.Context, req *rpc.CreateRequest) (*rpc.Object, error) {
	out, err := s.create(ctx, req)
	return out, apierrors.ToGRPC(err)
}

func (s *Server) create(ctx context.Context, req *rpc.CreateRequest) (*rpc.Object, error) {
	if (req.Subresource == "binding" && req.Resource == "pods") || req.Resource == "bindings" {
		return s.bind(ctx, req)
	}
	if req.Subresource != "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("create is not supported on %s/%s", req.Resource, req.Subresource))
	}
	k, err := kindOf(req.Resource)
	if err != nil {
		return nil, err
	}
	if err := served(k, "create"); err != nil {
		return nil, err
	}
	obj, err := decode(k, req.Object)
	if err != nil {
		return nil, err
	}
	ns := req.Namespace
	if ns == "" && k.Namespaced {
		ns = obj.GetMetadata().GetNamespace()
	}
	if ns == "" && k.Namespaced {
		ns = "default"
	}
	user, err := s.gate(ctx, auth.Attributes{Verb: "create", Namespace: ns, Name: obj.GetMetadata().GetName()}, k)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Admission.Admit(ctx, &admission.Attributes{
		Operation: admission.Create, Kind: k, Namespace: ns, Name: obj.GetMetadata().GetName(), Object: obj, User: user,
	}); err != nil {
		return nil, err
	}
	write := func(ctx context.Context) (scheme.Object, error) { return s.cfg.Store.Create(ctx, k, ns, obj) }
	var created scheme.Object
	if svc, ok := obj.(*corev1.Service); ok && s.cfg.Services != nil {
		created, err = s.cfg.Services.Create(ctx, ns, svc, write)
	} else {
		created, err = write(ctx)
	}
	if err != nil {
		return nil, err
	}
	return encode(created)
}

// Get implements rpc.APIServer.
func (s *Server) Get(ctx context.Context, req *rpc.GetRequest) (*rpc.Object, error) {
	out, err := s.get(ctx, req)
	return out, apierrors.ToGRPC(err)
}

func (s *Server) get(ctx context.Context, req *rpc.GetRequest) (*rpc.Object, error) {
	k, err := kindOf(req.Resource)
	if err != nil {
		return nil, err
	}
	if err := served(k, "get"); err != nil {
		return nil, err
	}
	if _, err := s.gate(ctx, auth.Attributes{Verb: "get", Namespace: req.Namespace, Name: req.Name}, k); err != nil {
		return nil, err
	}
	if computed(k) {
		if s.cfg.Components == nil {
			return nil, apierrors.NewNotFound(k.GroupResource(), req.Name)
		}
		cs, err := s.cfg.Components.Get(ctx, req.Name)
		if err != nil {
			return nil, err
		}
		return encode(cs)
	}
	obj, err := s.cfg.Store.Get(ctx, k, req.Namespace, req.Name)
	if err != nil {
		return nil, err
	}
	return encode(obj)
}

// Update implements rpc.APIServer.
func (s *Server) Update(ctx context.Context, req *rpc.UpdateRequest) (*rpc.Object, error) {
	out, err := s.update(ctx, req)
	return out, apierrors.ToGRPC(err)
}

func (s *Server) update(ctx context.Context, req *rpc.UpdateRequest) (*rpc.Object, error) {
	k, err := kindOf(req.Resource)
	if err != nil {
		return nil, err
	}
	if err := served(k, "update"); err != nil {
		return nil, err
	}
	if req.Subresource != "" && req.Subresource != "status" {
		// "binding" in the store is the bindings resource's own path.
		return nil, apierrors.NewBadRequest(fmt.Sprintf("update is not supported on %s/%s", req.Resource, req.Subresource))
	}
	obj, err := decode(k, req.Object)
	if err != nil {
		return nil, err
	}
	ns := req.Namespace
	if ns == "" {
		ns = obj.GetMetadata().GetNamespace()
	}
	name := obj.GetMetadata().GetName()
	user, err := s.gate(ctx, auth.Attributes{Verb: "update", Namespace: ns, Name: name, Subresource: req.Subresource}, k)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Admission.Admit(ctx, &admission.Attributes{
		Operation: admission.Update, Kind: k, Namespace: ns, Name: name, Subresource: req.Subresource, Object: obj, User: user,
	}); err != nil {
		return nil, err
	}
	var updated scheme.Object
	if svc, ok := obj.(*corev1.Service); ok && s.cfg.Services != nil && req.Subresource == "" {
		updated, err = s.cfg.Services.Update(ctx, ns, svc, func(ctx context.Context, svc *corev1.Service) (scheme.Object, error) {
			return s.cfg.Store.Update(ctx, k, ns, svc, "")
		})
	} else {
		updated, err = s.cfg.Store.Update(ctx, k, ns, obj, req.Subresource)
	}
	if err != nil {
		return nil, err
	}
	return encode(updated)
}

// Delete implements rpc.APIServer.
func (s *Server) Delete(ctx context.Context, req *rpc.DeleteRequest) (*rpc.Object, error) {
	out, err := s.delete(ctx, req)
	return out, apierrors.ToGRPC(err)
}

func (s *Server) delete(ctx context.Context, req *rpc.DeleteRequest) (*rpc.Object, error) {
	k, err := kindOf(req.Resource)
	if err != nil {
		return nil, err
	}
	if err := served(k, "delete"); err != nil {
		return nil, err
	}
	user, err := s.gate(ctx, auth.Attributes{Verb: "delete", Namespace: req.Namespace, Name: req.Name}, k)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Admission.Admit(ctx, &admission.Attributes{
		Operation: admission.Delete, Kind: k, Namespace: req.Namespace, Name: req.Name, User: user,
	}); err != nil {
		return nil, err
	}
	write := func(ctx context.Context) (scheme.Object, error) {
		return s.cfg.Store.Delete(ctx, k, req.Namespace, req.Name, req.Options)
	}
	var obj scheme.Object
	if k.Resource == "services" && s.cfg.Services != nil {
		obj, err = s.cfg.Services.Delete(ctx, write)
	} else {
		obj, err = write(ctx)
	}
	if err != nil {
		return nil, err
	}
	return encode(obj)
}

// bind sets a pod's spec.nodeName through the binding subresource; it
// fails with Conflict when the pod is already bound.
func (s *Server) bind(ctx context.Context, req *rpc.CreateRequest) (*rpc.Object, error) {
	bk, _ := scheme.ByResource("bindings")
	pk, _ := scheme.ByResource("pods")
	obj, err := decode(bk, req.Object)
	if err != nil {
		return nil, err
	}
	b := obj.(*corev1.Binding)
	name := req.Name
	if name == "" {
		name = b.GetMetadata().GetName()
	}
	ns := req.Namespace
	if _, err := s.gate(ctx, auth.Attributes{Verb: "create", Namespace: ns, Name: name, Subresource: "binding"}, pk); err != nil {
		return nil, err
	}
	node := b.GetTarget().GetName()
	if node == "" {
		return nil, apierrors.NewInvalid("Binding", name, []apierrors.FieldError{apierrors.Required("target.name", "")})
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.cfg.Store.Get(ctx, pk, ns, name)
		if err != nil {
			return nil, err
		}
		pod := proto.Clone(cur).(*corev1.Pod)
		if pod.GetMetadata().GetDeletionTimestamp() != nil {
			return nil, apierrors.NewConflict("pods", name, "pod is being deleted, cannot be assigned to a host")
		}
		if pod.GetSpec().GetNodeName() != "" {
			return nil, apierrors.NewConflict("pods", name, fmt.Sprintf("pod %s is already assigned to node %q", name, pod.Spec.NodeName))
		}
		if pod.Spec == nil {
			pod.Spec = &corev1.PodSpec{}
		}
		pod.Spec.NodeName = node
		setPodScheduled(pod, time.Now())
		if _, err := s.cfg.Store.Update(ctx, pk, ns, pod, store.SubresourceBinding); apierrors.IsConflict(err) && attempt < 5 {
			continue // the pod changed (status, labels) between read and write
		} else if err != nil {
			return nil, err
		}
		// The answer is the Binding, as the request's kind; nothing stores it.
		scheme.SetTypeMeta(b, bk)
		md := scheme.Meta(b)
		md.Name, md.Namespace = name, ns
		return encode(b)
	}
}

// setPodScheduled marks the pod PodScheduled=True, as the binding that
// places it is the moment it is scheduled; the same write sets nodeName,
// so no watcher sees one without the other.
func setPodScheduled(pod *corev1.Pod, now time.Time) {
	if pod.Status == nil {
		pod.Status = &corev1.PodStatus{}
	}
	cond := &corev1.PodCondition{Type: "PodScheduled", Status: "True", LastTransitionTime: timestamppb.New(now.Truncate(time.Second))}
	for i, c := range pod.Status.Conditions {
		if c.GetType() == "PodScheduled" {
			pod.Status.Conditions[i] = cond
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, cond)
}

// filter builds the cache filter of a list or watch request.
func filter(k *scheme.Kind, ns, labelSel, fieldSel string) (cache.Filter, error) {
	ls, err := labels.Parse(labelSel)
	if err != nil {
		return cache.Filter{}, apierrors.NewBadRequest(fmt.Sprintf("invalid label selector %q: %v", labelSel, err))
	}
	fs, err := fields.Parse(fieldSel)
	if err != nil {
		return cache.Filter{}, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector %q: %v", fieldSel, err))
	}
	f := cache.Filter{Namespace: ns}
	if !k.Namespaced {
		f.Namespace = ""
	}
	if !ls.Empty() || !fs.Empty() {
		f.Match = func(o scheme.Object) bool {
			return ls.Matches(o.GetMetadata().GetLabels()) && fs.Matches(fields.ObjectGetter(o))
		}
	}
	return f, nil
}

// List implements rpc.APIServer.
func (s *Server) List(ctx context.Context, req *rpc.ListRequest) (*rpc.ListResponse, error) {
	out, err := s.list(ctx, req)
	return out, apierrors.ToGRPC(err)
}

func (s *Server) list(ctx context.Context, req *rpc.ListRequest) (*rpc.ListResponse, error) {
	k, err := kindOf(req.Resource)
	if err != nil {
		return nil, err
	}
	if err := served(k, "list"); err != nil {
		return nil, err
	}
	if _, err := s.gate(ctx, auth.Attributes{Verb: "list", Namespace: req.Namespace}, k); err != nil {
		return nil, err
	}
	if computed(k) {
		resp := &rpc.ListResponse{Metadata: &metav1.ListMeta{}}
		if s.cfg.Components != nil {
			for _, cs := range s.cfg.Components.List(ctx) {
				o, err := encode(cs)
				if err != nil {
					return nil, err
				}
				resp.Items = append(resp.Items, o)
			}
		}
		return resp, nil
	}
	f, err := filter(k, req.Namespace, req.LabelSelector, req.FieldSelector)
	if err != nil {
		return nil, err
	}
	var minRV int64
	switch req.ResourceVersion {
	case "0":
	case "":
		// A plain list must see every write acknowledged before it: wait
		// for the cache to reach etcd's current revision.
		if minRV, err = s.cfg.Store.ConsistentRV(ctx); err != nil {
			return nil, err
		}
	default:
		if minRV, err = storage.ParseRV(req.ResourceVersion); err != nil {
			return nil, err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	items, rv, next, err := s.cfg.Store.List(wctx, k, f, cache.ListOptions{MinRV: minRV, Limit: req.Limit, Continue: req.Continue})
	if err != nil {
		return nil, err
	}
	resp := &rpc.ListResponse{
		Metadata: &metav1.ListMeta{ResourceVersion: strconv.FormatInt(rv, 10), Continue: next},
		Items:    make([]*rpc.Object, len(items)),
	}
	for i, it := range items {
		resp.Items[i] = &rpc.Object{Raw: it.Raw()}
	}
	return resp, nil
}

// Watch implements rpc.APIServer.
func (s *Server) Watch(req *rpc.WatchRequest, stream rpc.API_WatchServer) error {
	return apierrors.ToGRPC(s.watch(req, stream))
}

func (s *Server) watch(req *rpc.WatchRequest, stream rpc.API_WatchServer) error {
	ctx := stream.Context()
	k, err := kindOf(req.Resource)
	if err != nil {
		return err
	}
	if err := served(k, "watch"); err != nil {
		return err
	}
	if _, err := s.gate(ctx, auth.Attributes{Verb: "watch", Namespace: req.Namespace}, k); err != nil {
		return err
	}
	f, err := filter(k, req.Namespace, req.LabelSelector, req.FieldSelector)
	if err != nil {
		return err
	}
	rv, err := storage.ParseRV(req.ResourceVersion)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	w, err := s.cfg.Store.Watch(wctx, k, f, rv, req.AllowBookmarks)
	cancel()
	if err != nil {
		if apierrors.IsExpired(err) {
			// Said as an ERROR event, as Kubernetes does, so clients relist.
			se := err.(*apierrors.StatusError)
			return stream.Send(&rpc.WatchEvent{Type: "ERROR", Status: se.Status})
		}
		return err
	}
	defer w.Stop()
	send := func(ev *cache.Event) error {
		return stream.Send(&rpc.WatchEvent{Type: ev.Type, Object: &rpc.Object{Raw: ev.Raw()}})
	}
	for _, ev := range w.Initial() {
		if err := send(ev); err != nil {
			return err
		}
	}
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return nil // stopped or cut off: the client resumes from its last version
			}
			if err := send(ev); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// Discovery implements rpc.APIServer.
func (s *Server) Discovery(context.Context, *rpc.DiscoveryRequest) (*rpc.DiscoveryResponse, error) {
	resp := &rpc.DiscoveryResponse{}
	for _, k := range scheme.All() {
		verbs := []string{"create", "delete", "get", "list", "update", "watch"}
		if special, ok := specialVerbs[k.Resource]; ok {
			verbs = special
		}
		resp.Resources = append(resp.Resources, &rpc.APIResource{
			Name: k.Resource, ShortNames: k.ShortNames, Group: k.Group, Version: k.Version,
			Kind: k.Kind, Namespaced: k.Namespaced, Verbs: verbs,
		})
	}
	return resp, nil
}
