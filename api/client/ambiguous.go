package client

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/rpc"
	"minik8s/api/scheme"
)

// A write (Create, Update, Delete) whose connection breaks after its
// request went out may have been applied: an apiserver killed while it
// commits has often written to etcd already. gRPC reports both that and
// a request that never left as Unavailable; the client tells them apart
// with a stats handler that marks a call's context once its request
// message is handed to the connection, and reports the first as an
// ambiguous write (errors.NewAmbiguousWrite, a 504 Timeout saying the
// outcome is unknown) instead of a ServiceUnavailable a caller would
// take for "not done". A deadline that passes after the request went out
// is ambiguous the same way. Reads are idempotent and are retried instead.

// writeMethods are the non-idempotent calls, by gRPC method, with their verb.
var writeMethods = map[string]string{
	rpc.API_Create_FullMethodName: "create",
	rpc.API_Update_FullMethodName: "update",
	rpc.API_Delete_FullMethodName: "delete",
}

type sentKey struct{}

// sentFlag records that a call's request message was written to the
// connection (queued on the transport; it may not have reached the
// server, which only makes the report more cautious than needed).
type sentFlag struct{ sent atomic.Bool }

// sentTracker is the stats handler that sets a call's sentFlag.
type sentTracker struct{}

func (sentTracker) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (sentTracker) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (sentTracker) HandleConn(context.Context, stats.ConnStats) {}
func (sentTracker) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.OutPayload); ok {
		if f, ok := ctx.Value(sentKey{}).(*sentFlag); ok {
			f.sent.Store(true)
		}
	}
}

// reportAmbiguous is the unary interceptor that turns a write's
// transport failure after its request was sent into an ambiguous-write
// error. It runs per attempt (inside retryTooMany), so a 429 refusal
// before a lost connection does not count as sent.
func reportAmbiguous(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	verb, ok := writeMethods[method]
	if !ok {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	f := &sentFlag{}
	err := invoker(context.WithValue(ctx, sentKey{}, f), method, req, reply, cc, opts...)
	if err == nil || !f.sent.Load() || !cutAfterSend(err) {
		return err
	}
	resource, name := writeTarget(req)
	return apierrors.ToGRPC(apierrors.NewAmbiguousWrite(verb, resource, name, errors.New(status.Convert(err).Message())))
}

// cutAfterSend reports a failure of the transport, or of the caller's
// deadline, rather than an answer: the apiserver's own errors carry a
// Status and are its verdict.
func cutAfterSend(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	for _, d := range st.Details() {
		if _, isStatus := d.(*metav1.Status); isStatus {
			return false
		}
	}
	// Internal without a Status: a stream reset, or an answer that could
	// not be decoded - the write may have been applied either way.
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal:
		return true
	}
	return false
}

// writeTarget names what a write request writes, for the error.
func writeTarget(req any) (resource, name string) {
	switch r := req.(type) {
	case *rpc.CreateRequest:
		resource, name = r.GetResource(), r.GetName()
		if name == "" {
			name = objectName(r.GetResource(), r.GetObject())
		}
		if r.GetSubresource() != "" {
			resource += "/" + r.GetSubresource()
		}
	case *rpc.UpdateRequest:
		resource, name = r.GetResource(), objectName(r.GetResource(), r.GetObject())
		if r.GetSubresource() != "" {
			resource += "/" + r.GetSubresource()
		}
	case *rpc.DeleteRequest:
		resource, name = r.GetResource(), r.GetName()
	}
	if k, err := scheme.ByResource(strings.Split(resource, "/")[0]); err == nil && k.Group != "" {
		resource = strings.Replace(resource, k.Resource, k.GroupResource(), 1)
	}
	return resource, name
}

// objectName decodes the name from a request's object ("" when it has
// none: a generateName create).
func objectName(resource string, o *rpc.Object) string {
	k, err := scheme.ByResource(resource)
	if err != nil || o == nil {
		return ""
	}
	obj := k.New()
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(o.GetRaw(), obj); err != nil {
		return ""
	}
	return obj.GetMetadata().GetName()
}
