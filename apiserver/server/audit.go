package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/audit"
	"minik8s/apiserver/auth"
)

// AuditOptions are the interceptors that audit every call with a: each
// call gets an audit record in its context (the request path evaluates
// the policy and fills it), completed with the call's outcome as an HTTP
// code. The record's requestURI is the gRPC method; its audit ID is the
// caller's "audit-id" metadata or a new one, returned in the "audit-id"
// trailer. Nil a adds nothing. Give them after ServerOptions: they run
// inside its panic recovery, so a panic is recorded as the Panic stage.
func AuditOptions(a *audit.Auditor) []grpc.ServerOption {
	if a == nil {
		return nil
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
			ctx, r := a.Begin(ctx, grpcInfo(ctx, info.FullMethod))
			describe(r, info.FullMethod, req)
			defer func() {
				if p := recover(); p != nil {
					r.Panic(p)
					r.Complete(http.StatusInternalServerError, nil)
					panic(p)
				}
				code, st := httpStatus(info.FullMethod, err)
				r.Complete(code, st)
				if id := r.ID(); id != "" {
					_ = grpc.SetTrailer(ctx, metadata.Pairs("audit-id", id))
				}
			}()
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
			ctx, r := a.Begin(ss.Context(), grpcInfo(ss.Context(), info.FullMethod))
			describe(r, info.FullMethod, nil)
			as := &auditStream{ServerStream: ss, ctx: ctx, r: r, method: info.FullMethod}
			defer func() {
				if p := recover(); p != nil {
					r.Panic(p)
					r.Complete(http.StatusInternalServerError, nil)
					panic(p)
				}
				code, st := httpStatus(info.FullMethod, err)
				r.Complete(code, st)
				if id := r.ID(); id != "" {
					ss.SetTrailer(metadata.Pairs("audit-id", id))
				}
			}()
			return h(srv, as)
		}),
	}
}

// grpcInfo is what a call tells the audit log before it authenticates.
func grpcInfo(ctx context.Context, method string) audit.RequestInfo {
	info := audit.RequestInfo{RequestURI: method}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("audit-id"); len(v) > 0 {
			info.AuditID = v[0]
		}
		if v := md.Get("user-agent"); len(v) > 0 {
			info.UserAgent = v[0]
		}
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		host, _, err := net.SplitHostPort(p.Addr.String())
		if err != nil {
			host = p.Addr.String()
		}
		info.SourceIPs = []string{host}
	}
	return info
}

// methodVerbs are the Kubernetes verbs and subresources of the methods.
var methodVerbs = map[string]struct{ verb, resource, subresource string }{
	"Create": {verb: "create"}, "Get": {verb: "get"}, "List": {verb: "list"}, "Update": {verb: "update"},
	"Delete": {verb: "delete"}, "Watch": {verb: "watch"},
	"PodLogs": {"get", "pods", "log"}, "Exec": {"create", "pods", "exec"}, "NodeStats": {"get", "nodes", "stats"},
}

// describe tells the record what the call asks for from its method and
// (when received) request, in case it fails before the request path
// evaluates it. Methods that are not resources (Discovery) are
// non-resource requests on the method's path.
func describe(r *audit.Request, method string, req any) {
	if r == nil {
		return
	}
	mv, ok := methodVerbs[path.Base(method)]
	if !ok {
		r.Describe(auth.Attributes{Verb: "get", Path: method}, "")
		return
	}
	a := auth.Attributes{Verb: mv.verb, Resource: mv.resource, Subresource: mv.subresource}
	if m, ok := req.(interface{ GetResource() string }); ok {
		a.Resource = m.GetResource()
	}
	if m, ok := req.(interface{ GetSubresource() string }); ok && m.GetSubresource() != "" {
		a.Subresource = m.GetSubresource()
	}
	if m, ok := req.(interface{ GetNamespace() string }); ok {
		a.Namespace = m.GetNamespace()
	}
	if m, ok := req.(interface{ GetName() string }); ok {
		a.Name = m.GetName()
	}
	version := ""
	if k, err := scheme.ByResource(a.Resource); err == nil {
		a.Group, version = k.Group, k.Version
		if !k.Namespaced {
			a.Namespace = ""
		}
	}
	r.Describe(a, version)
}

// httpStatus is the HTTP code (and Status) Kubernetes' REST API would
// have answered: the Status an API error carries; 201 for a create.
func httpStatus(method string, err error) (int, *metav1.Status) {
	if err == nil {
		if path.Base(method) == "Create" {
			return http.StatusCreated, nil
		}
		return http.StatusOK, nil
	}
	var se *apierrors.StatusError
	if errors.As(apierrors.FromGRPC(err), &se) && se.Status != nil {
		code := int(se.Status.GetCode())
		if code == 0 {
			code = http.StatusInternalServerError
		}
		return code, se.Status
	}
	if errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "context canceled") {
		// The client went away: Kubernetes records what was sent, 200.
		return http.StatusOK, nil
	}
	st := apierrors.NewInternal(err).Status
	return int(st.Code), st
}

// auditStream describes the call from its first request message and
// records ResponseStarted when the first response (or header) leaves: a
// watch that is now streaming.
type auditStream struct {
	grpc.ServerStream
	ctx      context.Context
	r        *audit.Request
	method   string
	received bool
}

func (s *auditStream) Context() context.Context { return s.ctx }

func (s *auditStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil && !s.received {
		s.received = true
		if path.Base(s.method) != "Exec" {
			describe(s.r, s.method, m)
		}
	}
	return err
}

func (s *auditStream) SendHeader(md metadata.MD) error {
	s.r.ResponseStarted(http.StatusOK)
	return s.ServerStream.SendHeader(md)
}

func (s *auditStream) SendMsg(m any) error {
	s.r.ResponseStarted(http.StatusOK)
	return s.ServerStream.SendMsg(m)
}
