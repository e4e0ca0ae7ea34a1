// Package server is the apiserver's gRPC front: it decodes each request and
// hands it to the request path (apiserver/endpoints: authentication,
// authorization, admission on writes, then the resource's storage), and
// encodes the answer. Errors leave as gRPC statuses carrying a Kubernetes
// Status. The HTTP front (apiserver/rest) is its twin.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/rpc"
	"minik8s/api/scheme"
	"minik8s/apiserver/audit"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/endpoints"
	"minik8s/apiserver/registry/core/pods"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/warning"
)

// MaxObjectBytes is the largest object a request may carry (as Kubernetes
// and etcd's default request limit: 1.5 MiB).
const MaxObjectBytes = 3 << 19

// Config wires the gRPC front to the request path.
type Config struct {
	// API is the request path every RPC goes down.
	API *endpoints.API
	// Store reads the pods and nodes the node proxy needs (after API has
	// authorized the request).
	Store *generic.Store
	// Kubelet is the apiserver's client identity towards kubelets (nil:
	// plain HTTP).
	Kubelet *pods.KubeletClient
	Log     *slog.Logger
}

// Server implements rpc.APIServer.
type Server struct {
	rpc.UnimplementedAPIServer
	cfg Config
}

// New returns a server.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Server{cfg: cfg}
}

// Register adds the service to a gRPC server.
func (s *Server) Register(g *grpc.Server) { rpc.RegisterAPIServer(g, s) }

// ServerOptions are the gRPC options the apiserver needs: room for
// requests a little over the object limit (so the limit is reported as a
// clear API error), the metrics interceptors, and the interceptors that put
// each call's credentials (TLS peer certificates, bearer token) into its
// context for authentication.
func ServerOptions(m *Metrics) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(2 * MaxObjectBytes),
		// Let clients ping idle connections every 10s, so a watch notices a
		// dead apiserver and moves to another.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(m.unary, recoverUnary, credentialsUnary),
		grpc.ChainStreamInterceptor(m.stream, recoverStream, credentialsStream),
	}
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
	if unknown := codec.UnknownProtoFields(obj); len(unknown) > 0 {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("strict decoding error: %s: %s", k.Kind, strings.Join(unknown, "; ")))
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

// target is the request path's name for an RPC's resource.
func target(resource, subresource, ns, name string) endpoints.Target {
	return endpoints.Target{Resource: resource, Subresource: subresource, Namespace: ns, Name: name}
}

// Create implements rpc.APIServer.
func (s *Server) Create(ctx context.Context, req *rpc.CreateRequest) (*rpc.Object, error) {
	ctx, rec := warning.NewContext(ctx)
	out, err := s.create(ctx, req)
	sendWarnings(ctx, rec)
	return out, apierrors.ToGRPC(err)
}

// WarningHeader is the gRPC response header carrying the request path's
// warnings (admission's), one value each: the REST front's Warning
// header for gRPC clients.
const WarningHeader = "warning"

func sendWarnings(ctx context.Context, rec *warning.Recorder) {
	if texts := rec.Texts(); len(texts) > 0 {
		md := metadata.MD{}
		md.Append(WarningHeader, texts...)
		_ = grpc.SetHeader(ctx, md)
	}
}

func (s *Server) create(ctx context.Context, req *rpc.CreateRequest) (*rpc.Object, error) {
	t := target(req.Resource, req.Subresource, req.Namespace, req.Name)
	bk, err := s.cfg.API.BodyKind(t)
	if err != nil {
		return nil, err
	}
	obj, err := decode(bk, req.Object)
	if err != nil {
		return nil, err
	}
	// gRPC clients may leave the namespace to the object, as a manifest
	// does; with neither, it is "default".
	if t.Namespace == "" {
		t.Namespace = obj.GetMetadata().GetNamespace()
	}
	if t.Namespace == "" {
		t.Namespace = "default"
	}
	created, err := s.cfg.API.Create(ctx, t, obj, rest.WriteOptions{DryRun: req.DryRun, FieldManager: fieldManager(ctx)})
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
	obj, err := s.cfg.API.Get(ctx, target(req.Resource, "", req.Namespace, req.Name))
	if err != nil {
		return nil, err
	}
	return encode(obj)
}

// Update implements rpc.APIServer.
func (s *Server) Update(ctx context.Context, req *rpc.UpdateRequest) (*rpc.Object, error) {
	ctx, rec := warning.NewContext(ctx)
	out, err := s.update(ctx, req)
	sendWarnings(ctx, rec)
	return out, apierrors.ToGRPC(err)
}

func (s *Server) update(ctx context.Context, req *rpc.UpdateRequest) (*rpc.Object, error) {
	t := target(req.Resource, req.Subresource, req.Namespace, "")
	bk, err := s.cfg.API.BodyKind(t)
	if err != nil {
		return nil, err
	}
	obj, err := decode(bk, req.Object)
	if err != nil {
		return nil, err
	}
	if t.Namespace == "" {
		t.Namespace = obj.GetMetadata().GetNamespace()
	}
	updated, err := s.cfg.API.Update(ctx, t, obj, rest.WriteOptions{DryRun: req.DryRun, FieldManager: fieldManager(ctx)})
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
	var dryRun bool
	for _, d := range req.GetOptions().GetDryRun() {
		dryRun = dryRun || d == "All"
	}
	obj, err := s.cfg.API.Delete(ctx, target(req.Resource, "", req.Namespace, req.Name), req.Options, rest.WriteOptions{DryRun: dryRun})
	if err != nil {
		return nil, err
	}
	return encode(obj)
}

// List implements rpc.APIServer.
func (s *Server) List(ctx context.Context, req *rpc.ListRequest) (*rpc.ListResponse, error) {
	out, err := s.list(ctx, req)
	return out, apierrors.ToGRPC(err)
}

func (s *Server) list(ctx context.Context, req *rpc.ListRequest) (*rpc.ListResponse, error) {
	res, err := s.cfg.API.List(ctx, target(req.Resource, "", req.Namespace, ""), rest.ListOptions{
		LabelSelector: req.LabelSelector, FieldSelector: req.FieldSelector,
		ResourceVersion: req.ResourceVersion, Limit: req.Limit, Continue: req.Continue,
	})
	if err != nil {
		return nil, err
	}
	resp := &rpc.ListResponse{
		Metadata: &metav1.ListMeta{ResourceVersion: res.ResourceVersion, Continue: res.Continue},
		Items:    make([]*rpc.Object, len(res.Items)),
	}
	for i, it := range res.Items {
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
	w, err := s.cfg.API.Watch(ctx, target(req.Resource, "", req.Namespace, ""), rest.ListOptions{
		LabelSelector: req.LabelSelector, FieldSelector: req.FieldSelector,
		ResourceVersion: req.ResourceVersion, AllowBookmarks: req.AllowBookmarks,
	})
	if err != nil {
		if apierrors.IsExpired(err) {
			// Said as an ERROR event, as Kubernetes does, so clients relist.
			se := err.(*apierrors.StatusError)
			return stream.Send(&rpc.WatchEvent{Type: "ERROR", Status: se.Status})
		}
		return err
	}
	defer w.Stop()
	// Streaming from here on (the REST front's watch sends its headers now).
	audit.From(ctx).ResponseStarted(http.StatusOK)
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

// Discovery implements rpc.APIServer: every served resource (not the
// subresources), with the verbs its storage serves.
func (s *Server) Discovery(context.Context, *rpc.DiscoveryRequest) (*rpc.DiscoveryResponse, error) {
	resp := &rpc.DiscoveryResponse{}
	for _, r := range s.cfg.API.Resources() {
		if strings.Contains(r.Path, "/") {
			continue
		}
		k := r.Kind
		resp.Resources = append(resp.Resources, &rpc.APIResource{
			Name: k.Resource, ShortNames: k.ShortNames, Group: k.Group, Version: k.Version,
			Kind: k.Kind, Namespaced: k.Namespaced, Verbs: r.Verbs,
		})
	}
	return resp, nil
}

// fieldManager is the manager a gRPC write records in managedFields: the
// caller's user agent up to its first "/" or space ("controller-manager"
// for "controller-manager grpc-go/1.72.0", "kubelet" for
// "kubelet/v1.37.2 grpc-go/..."), as Kubernetes names the writer of a
// request that gives no fieldManager.
func fieldManager(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	ua := md.Get("user-agent")
	if len(ua) == 0 {
		return ""
	}
	m, _, _ := strings.Cut(ua[0], "/")
	m, _, _ = strings.Cut(m, " ")
	if len(m) > 128 {
		m = m[:128]
	}
	return m
}
