package server

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"google.golang.org/grpc"

	apierrors "minik8s/api/errors"
)

// A bug in one request's handling must not take the apiserver down: a
// panic becomes an InternalError for that request and a logged stack.
func recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("panic serving request", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			err = apierrors.ToGRPC(apierrors.NewInternal(fmt.Errorf("panic: %v", r)))
		}
	}()
	return h(ctx, req)
}

func recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("panic serving stream", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			err = apierrors.ToGRPC(apierrors.NewInternal(fmt.Errorf("panic: %v", r)))
		}
	}()
	return h(srv, ss)
}
