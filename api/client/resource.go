package client

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/rpc"
	"minik8s/api/scheme"
)

// ListOptions narrow a List or Watch.
type ListOptions struct {
	// LabelSelector and FieldSelector use the syntax of api/labels and api/fields.
	LabelSelector string
	FieldSelector string
	// ResourceVersion: for List, "" or "0" reads the watch cache and a
	// newer version waits for it; for Watch, the version to start after
	// ("" or "0" starts with ADDED events for every current object).
	ResourceVersion string
	// AllowBookmarks asks a Watch for BOOKMARK events that only advance the
	// resourceVersion.
	AllowBookmarks bool
	// Limit and Continue page a List.
	Limit    int64
	Continue string
}

// List is one page of a List call.
type List[T scheme.Object] struct {
	Items []T
	// ResourceVersion is the version the list is consistent at; watch from it.
	ResourceVersion string
	// Continue is set when more pages follow; pass it in ListOptions.Continue.
	Continue string
}

// Resource is the client of one kind. T is the kind's message pointer
// (*corev1.Pod), or scheme.Object for a Dynamic resource. It is safe for
// concurrent use.
type Resource[T scheme.Object] struct {
	c    *Client
	kind *scheme.Kind
}

// For returns the typed client of the kind whose message is T. It panics
// when T is not a registered kind: that is a missing import of the kind's
// package (or minik8s/api/all), a programming error.
func For[T scheme.Object](c *Client) *Resource[T] {
	var zero T
	k, err := scheme.KindOf(zero)
	if err != nil {
		panic(fmt.Sprintf("client.For: %v (import the kind's package or minik8s/api/all)", err))
	}
	return &Resource[T]{c: c, kind: k}
}

// Dynamic returns an untyped client for a resource by plural name ("pods");
// objects come back as the kind's concrete message behind scheme.Object.
func (c *Client) Dynamic(resource string) (*Resource[scheme.Object], error) {
	k, err := scheme.ByResource(resource)
	if err != nil {
		return nil, err
	}
	return &Resource[scheme.Object]{c: c, kind: k}, nil
}

// Kind returns the kind this resource serves.
func (r *Resource[T]) Kind() *scheme.Kind { return r.kind }

// Create creates obj in the namespace of its metadata and returns the
// stored object (with name, uid, resourceVersion filled in).
func (r *Resource[T]) Create(ctx context.Context, obj T) (T, error) {
	ns, name := r.key(obj)
	raw, err := marshal(obj)
	if err != nil {
		return r.fail("create", ns, name, err)
	}
	resp, err := r.c.api.Create(ctx, &rpc.CreateRequest{Resource: r.kind.Resource, Namespace: ns, Object: raw})
	if err != nil {
		return r.zero(apierrors.FromGRPC(err))
	}
	return r.decode("create", ns, name, resp)
}

// Get reads one object; a missing one gives a NotFound error. Namespace is
// ignored for cluster-scoped kinds.
func (r *Resource[T]) Get(ctx context.Context, namespace, name string) (T, error) {
	var resp *rpc.Object
	err := r.c.idempotent(ctx, "get "+r.kind.Resource, func() (err error) {
		resp, err = r.c.api.Get(ctx, &rpc.GetRequest{Resource: r.kind.Resource, Namespace: r.ns(namespace), Name: name})
		return err
	})
	if err != nil {
		return r.zero(err)
	}
	return r.decode("get", namespace, name, resp)
}

// List reads the objects of a namespace ("" for all namespaces).
func (r *Resource[T]) List(ctx context.Context, namespace string, opts ListOptions) (*List[T], error) {
	var resp *rpc.ListResponse
	err := r.c.idempotent(ctx, "list "+r.kind.Resource, func() (err error) {
		resp, err = r.c.api.List(ctx, &rpc.ListRequest{
			Resource: r.kind.Resource, Namespace: r.ns(namespace),
			LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector,
			ResourceVersion: opts.ResourceVersion, Limit: opts.Limit, Continue: opts.Continue,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &List[T]{
		Items:           make([]T, 0, len(resp.GetItems())),
		ResourceVersion: resp.GetMetadata().GetResourceVersion(),
		Continue:        resp.GetMetadata().GetContinue(),
	}
	for i, it := range resp.GetItems() {
		obj, err := r.unmarshal(it)
		if err != nil {
			return nil, fmt.Errorf("list %s in %q: item %d: %w", r.kind.Resource, namespace, i, err)
		}
		out.Items = append(out.Items, obj)
	}
	return out, nil
}

// Update replaces obj (status changes are ignored for kinds with a status
// subresource). metadata.resourceVersion must be the version read; a stale
// one gives a Conflict (see RetryOnConflict).
func (r *Resource[T]) Update(ctx context.Context, obj T) (T, error) {
	return r.update(ctx, obj, "")
}

// UpdateStatus replaces only obj's status, with the same concurrency check as Update.
func (r *Resource[T]) UpdateStatus(ctx context.Context, obj T) (T, error) {
	return r.update(ctx, obj, "status")
}

// UpdateSubresource replaces the part of obj a subresource serves
// (a CertificateSigningRequest's "approval": client-go's UpdateApproval),
// with the same concurrency check as Update.
func (r *Resource[T]) UpdateSubresource(ctx context.Context, obj T, subresource string) (T, error) {
	return r.update(ctx, obj, subresource)
}

func (r *Resource[T]) update(ctx context.Context, obj T, sub string) (T, error) {
	ns, name := r.key(obj)
	verb := "update"
	if sub != "" {
		verb += " " + sub
	}
	raw, err := marshal(obj)
	if err != nil {
		return r.fail(verb, ns, name, err)
	}
	resp, err := r.c.api.Update(ctx, &rpc.UpdateRequest{Resource: r.kind.Resource, Namespace: ns, Object: raw, Subresource: sub})
	if err != nil {
		return r.zero(apierrors.FromGRPC(err))
	}
	return r.decode(verb, ns, name, resp)
}

// Delete deletes an object (opts may be nil) and returns its last state, or
// the state now carrying deletionTimestamp when deletion is graceful. The
// object is the zero T if the server returned none.
func (r *Resource[T]) Delete(ctx context.Context, namespace, name string, opts *metav1.DeleteOptions) (T, error) {
	resp, err := r.c.api.Delete(ctx, &rpc.DeleteRequest{Resource: r.kind.Resource, Namespace: r.ns(namespace), Name: name, Options: opts})
	if err != nil {
		return r.zero(apierrors.FromGRPC(err))
	}
	if len(resp.GetRaw()) == 0 {
		var zero T
		return zero, nil
	}
	return r.decode("delete", namespace, name, resp)
}

func (r *Resource[T]) ns(namespace string) string {
	if !r.kind.Namespaced {
		return ""
	}
	return namespace
}

func (r *Resource[T]) key(obj T) (ns, name string) {
	md := obj.GetMetadata()
	return r.ns(md.GetNamespace()), md.GetName()
}

func (r *Resource[T]) zero(err error) (T, error) {
	var zero T
	return zero, err
}

func (r *Resource[T]) fail(verb, ns, name string, err error) (T, error) {
	return r.zero(fmt.Errorf("%s %s %s: %w", verb, r.kind.Resource, objKey(ns, name), err))
}

func (r *Resource[T]) decode(verb, ns, name string, o *rpc.Object) (T, error) {
	obj, err := r.unmarshal(o)
	if err != nil {
		return r.fail(verb, ns, name, err)
	}
	return obj, nil
}

func (r *Resource[T]) unmarshal(o *rpc.Object) (T, error) {
	msg := r.kind.New()
	if err := proto.Unmarshal(o.GetRaw(), msg); err != nil {
		return r.zero(fmt.Errorf("decode %s: %w", r.kind.Kind, err))
	}
	obj, ok := msg.(T)
	if !ok {
		return r.zero(fmt.Errorf("decode %s: got %T, want %T", r.kind.Kind, msg, *new(T)))
	}
	return obj, nil
}

func marshal(obj scheme.Object) (*rpc.Object, error) {
	raw, err := proto.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", obj, err)
	}
	return &rpc.Object{Raw: raw}, nil
}

func objKey(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}
