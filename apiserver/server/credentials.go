package server

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"minik8s/apiserver/auth"
)

// credentialsOf is what a gRPC call presents: the peer's certificates from
// the TLS handshake (whether the call came over the native transport or
// through ServeHTTP, both record TLSInfo) and the bearer token of the
// "authorization" metadata.
func credentialsOf(ctx context.Context) auth.Credentials {
	var c auth.Credentials
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			c.Certificates = ti.State.PeerCertificates
		}
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for _, v := range md.Get("authorization") {
			if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
				c.BearerToken = strings.TrimSpace(v[7:])
				break
			}
		}
		c.Impersonate = auth.ImpersonationFrom(md)
	}
	return c
}

func credentialsUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	return h(auth.WithCredentials(ctx, credentialsOf(ctx)), req)
}

func credentialsStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, &credStream{ServerStream: ss, ctx: auth.WithCredentials(ss.Context(), credentialsOf(ss.Context()))})
}

type credStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *credStream) Context() context.Context { return s.ctx }
