// Package client is the typed gRPC client of the minik8s apiserver: one
// connection (with failover across several apiservers), a Resource per kind
// with create/get/list/update/delete/watch, and RetryOnConflict for the
// read-modify-write loop of optimistic concurrency.
//
// Every error a call returns is passed through errors.FromGRPC, so callers
// branch with errors.IsNotFound, IsConflict, IsExpired and friends.
package client

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	authenticationv1 "minik8s/api/authentication/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/rpc"
	"minik8s/api/scheme"
)

// Client is a connection to one or several apiservers. It is safe for
// concurrent use; share one per process.
type Client struct {
	conn  *grpc.ClientConn
	api   rpc.APIClient
	retry Backoff
	log   *slog.Logger
}

type options struct {
	dialTimeout time.Duration
	keepalive   keepalive.ClientParameters
	userAgent   string
	log         *slog.Logger
	retry       Backoff
	dialOpts    []grpc.DialOption
}

// Option configures New.
type Option func(*options)

// WithDialTimeout bounds each connection attempt to one apiserver (default
// 5s), so an address that black-holes packets is given up for the next one.
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// WithKeepalive pings the apiserver after interval without traffic while a
// call (a watch) is open, and drops the connection - failing over to
// another apiserver - if no answer comes within timeout. The default is
// 6 minutes / 20s, which gRPC servers accept without configuration (they
// refuse pings more often than every 5 minutes unless their keepalive
// EnforcementPolicy allows it); with a permissive apiserver use ~30s.
func WithKeepalive(interval, timeout time.Duration) Option {
	return func(o *options) { o.keepalive = keepalive.ClientParameters{Time: interval, Timeout: timeout} }
}

// WithUserAgent names the caller in the gRPC user-agent ("scheduler/v0.1").
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// WithLogger sets the logger for retries and watch ends (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithRetry sets the back-off for retrying idempotent calls (Get, List,
// Watch, Discovery) that fail with Unavailable. Steps 1 disables retrying.
func WithRetry(b Backoff) Option { return func(o *options) { o.retry = b } }

// WithDialOptions appends raw gRPC dial options (transport credentials once
// TLS lands, interceptors, custom dialers in tests). Later options win.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// defaultRetry spans about 3s: an apiserver restart or a failover to the
// next address usually completes within that.
var defaultRetry = Backoff{Steps: 5, Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.2, Cap: 2 * time.Second}

// maxMessageSize allows lists far larger than gRPC's 4 MiB default.
const maxMessageSize = 256 << 20

// New returns a client for the apiservers at servers ("host:port", or one
// comma-separated string as --server takes it). It does not wait for a
// connection: calls fail with ServiceUnavailable (after retries for the
// idempotent ones) while no apiserver answers. The connection uses
// pick_first over a shuffled address list, so clients spread over the
// apiservers and move to another when theirs dies.
func New(servers []string, opts ...Option) (*Client, error) {
	o := options{
		dialTimeout: 5 * time.Second,
		keepalive:   keepalive.ClientParameters{Time: 6 * time.Minute, Timeout: 20 * time.Second},
		log:         slog.Default(),
		retry:       defaultRetry,
	}
	for _, opt := range opts {
		opt(&o)
	}
	var addrs []resolver.Address
	for _, s := range servers {
		for _, a := range strings.Split(s, ",") {
			if a = strings.TrimSpace(a); a != "" {
				// Each address is verified as its own host over TLS, not
				// as the target's placeholder authority.
				host, _, err := net.SplitHostPort(a)
				if err != nil {
					host = a
				}
				addrs = append(addrs, resolver.Address{Addr: a, ServerName: host})
			}
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("new apiserver client: no server address given")
	}
	r := manual.NewBuilderWithScheme("minik8s")
	r.InitialState(resolver.State{Addresses: addrs})
	dial := []grpc.DialOption{
		grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"pick_first":{"shuffleAddressList":true}}]}`),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 200 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second},
			MinConnectTimeout: o.dialTimeout,
		}),
		grpc.WithKeepaliveParams(o.keepalive),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize)),
		// retryTooMany repeats attempts; reportAmbiguous judges each one.
		grpc.WithChainUnaryInterceptor(retryTooMany, reportAmbiguous),
		grpc.WithStatsHandler(sentTracker{}),
	}
	if o.userAgent != "" {
		dial = append(dial, grpc.WithUserAgent(o.userAgent))
	}
	dial = append(dial, o.dialOpts...)
	conn, err := grpc.NewClient(r.Scheme()+":///apiserver", dial...)
	if err != nil {
		return nil, fmt.Errorf("new apiserver client for %v: %w", servers, err)
	}
	return &Client{conn: conn, api: rpc.NewAPIClient(conn), retry: o.retry, log: o.log}, nil
}

// Close closes the connection; watches end and later calls fail.
func (c *Client) Close() error { return c.conn.Close() }

// RPC returns the raw generated gRPC client, for callers that need a request
// field this package does not expose.
func (c *Client) RPC() rpc.APIClient { return c.api }

// Discovery lists the kinds the apiserver serves.
func (c *Client) Discovery(ctx context.Context) ([]*rpc.APIResource, error) {
	var out []*rpc.APIResource
	err := c.idempotent(ctx, "discovery", func() error {
		resp, err := c.api.Discovery(ctx, &rpc.DiscoveryRequest{})
		out = resp.GetResources()
		return err
	})
	return out, err
}

// Bind assigns a pod to a node by creating its "binding" subresource;
// binding is a v1 Binding whose target names the node. A pod already bound
// gives a Conflict.
func (c *Client) Bind(ctx context.Context, namespace, podName string, binding scheme.Object) error {
	raw, err := marshal(binding)
	if err != nil {
		return fmt.Errorf("bind pod %s/%s: %w", namespace, podName, err)
	}
	_, err = c.api.Create(ctx, &rpc.CreateRequest{
		Resource: "pods", Namespace: namespace, Name: podName, Subresource: "binding", Object: raw,
	})
	return apierrors.FromGRPC(err)
}

// CreateToken asks for a token of service account namespace/name through
// its serviceaccounts/token subresource (what kubectl create token and the
// kubelet's projected volumes use); the answer carries it in
// status.token.
func (c *Client) CreateToken(ctx context.Context, namespace, name string, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	req = proto.Clone(req).(*authenticationv1.TokenRequest)
	scheme.SetTypeMeta(req, authenticationv1.TokenRequestKind) // an empty request still has a body
	raw, err := marshal(req)
	if err != nil {
		return nil, fmt.Errorf("create token for %s/%s: %w", namespace, name, err)
	}
	resp, err := c.api.Create(ctx, &rpc.CreateRequest{
		Resource: "serviceaccounts", Namespace: namespace, Name: name, Subresource: "token", Object: raw,
	})
	if err != nil {
		return nil, apierrors.FromGRPC(err)
	}
	out := &authenticationv1.TokenRequest{}
	if err := proto.Unmarshal(resp.GetRaw(), out); err != nil {
		return nil, fmt.Errorf("create token for %s/%s: decode: %w", namespace, name, err)
	}
	return out, nil
}

// isUnavailable reports a call that did not reach a working apiserver.
func isUnavailable(err error) bool {
	if status.Code(err) == codes.Unavailable {
		return true
	}
	return apierrors.ReasonOf(err) == apierrors.ReasonUnavailable
}

// idempotent runs a call that is safe to repeat, retrying on Unavailable
// with c.retry; the error it returns has passed through FromGRPC.
func (c *Client) idempotent(ctx context.Context, what string, call func() error) error {
	attempt := 0
	err := c.retry.Retry(ctx, isUnavailable, func() error {
		attempt++
		err := call()
		if err != nil && isUnavailable(err) && ctx.Err() == nil {
			c.log.Debug("apiserver unavailable, retrying", "call", what, "attempt", attempt, "err", err)
		}
		return err
	})
	return apierrors.FromGRPC(err)
}
