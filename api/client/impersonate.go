package client

import (
	"context"
	"net/url"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Impersonation is whom a client acts as (kubectl's --as, --as-group,
// --as-uid): the apiserver checks that the authenticated caller may
// impersonate them, then runs every call as that user.
type Impersonation struct {
	User   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// WithImpersonation sends im's impersonate-* metadata with every call; a
// zero im sends nothing.
func WithImpersonation(im Impersonation) Option {
	return func(o *options) {
		md := impersonationMD(im)
		if md.Len() == 0 {
			return
		}
		o.dialOpts = append(o.dialOpts,
			grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				return invoker(withMD(ctx, md), method, req, reply, cc, opts...)
			}),
			grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				return streamer(withMD(ctx, md), desc, cc, method, opts...)
			}))
	}
}

func withMD(ctx context.Context, md metadata.MD) context.Context {
	if have, ok := metadata.FromOutgoingContext(ctx); ok {
		md = metadata.Join(have, md)
	}
	return metadata.NewOutgoingContext(ctx, md)
}

// impersonationMD is im as the lower-case keys of the apiserver's
// Impersonate-* headers.
func impersonationMD(im Impersonation) metadata.MD {
	md := metadata.MD{}
	if im.User != "" {
		md.Set("impersonate-user", im.User)
	}
	if im.UID != "" {
		md.Set("impersonate-uid", im.UID)
	}
	if len(im.Groups) > 0 {
		md.Set("impersonate-group", im.Groups...)
	}
	for k, vs := range im.Extra {
		md.Set("impersonate-extra-"+strings.ToLower(url.PathEscape(k)), vs...)
	}
	return md
}
