package cmd

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"minik8s/api/client"
	apierrors "minik8s/api/errors"
	"minik8s/api/fields"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/rpc"
	"minik8s/api/scheme"
)

// fakeCluster is an in-memory stand-in for the apiserver with its
// optimistic concurrency and error reasons, for testing command logic
// (what is sent, what is printed) without a cluster. The real wire path is
// covered by the end-to-end tests.
type fakeCluster struct {
	mu      sync.Mutex
	rv      int
	objects map[string]scheme.Object // resource/ns/name
	now     time.Time
}

func newFakeCluster(now time.Time) *fakeCluster {
	return &fakeCluster{objects: map[string]scheme.Object{}, now: now}
}

func (f *fakeCluster) Close() error { return nil }

func (f *fakeCluster) Discovery(context.Context) ([]*rpc.APIResource, error) {
	var out []*rpc.APIResource
	for _, k := range scheme.All() {
		out = append(out, &rpc.APIResource{Name: k.Resource, ShortNames: k.ShortNames, Group: k.Group, Version: k.Version, Kind: k.Kind, Namespaced: k.Namespaced,
			Verbs: []string{"create", "delete", "get", "list", "update", "watch"}})
	}
	return out, nil
}

func (f *fakeCluster) Resource(k *scheme.Kind) (ResourceAPI, error) {
	return &fakeResource{f: f, k: k}, nil
}

// add stores objects as if created earlier.
func (f *fakeCluster) add(objs ...scheme.Object) {
	for _, o := range objs {
		k, err := scheme.KindOf(o)
		if err != nil {
			panic(err)
		}
		r := &fakeResource{f: f, k: k}
		if _, err := r.Create(context.Background(), o); err != nil {
			panic(err)
		}
	}
}

func (f *fakeCluster) get(resource, ns, name string) scheme.Object {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.objects[resource+"/"+ns+"/"+name]
}

type fakeResource struct {
	f *fakeCluster
	k *scheme.Kind
}

func (r *fakeResource) key(ns, name string) string {
	if !r.k.Namespaced {
		ns = ""
	}
	return r.k.Resource + "/" + ns + "/" + name
}

func (r *fakeResource) Create(_ context.Context, obj scheme.Object) (scheme.Object, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	o := proto.Clone(obj).(scheme.Object)
	md := scheme.Meta(o)
	key := r.key(md.GetNamespace(), md.GetName())
	if _, exists := r.f.objects[key]; exists {
		return nil, apierrors.NewAlreadyExists(r.k.GroupResource(), md.GetName())
	}
	r.f.rv++
	md.ResourceVersion = strconv.Itoa(r.f.rv)
	md.Uid = fmt.Sprintf("uid-%d", r.f.rv)
	md.CreationTimestamp = timestamppb.New(r.f.now)
	scheme.SetTypeMeta(o, r.k)
	r.f.objects[key] = o
	return proto.Clone(o).(scheme.Object), nil
}

func (r *fakeResource) Get(_ context.Context, ns, name string) (scheme.Object, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	o, ok := r.f.objects[r.key(ns, name)]
	if !ok {
		return nil, apierrors.NewNotFound(r.k.GroupResource(), name)
	}
	return proto.Clone(o).(scheme.Object), nil
}

func (r *fakeResource) List(_ context.Context, ns string, opts client.ListOptions) (*client.List[scheme.Object], error) {
	ls, err := labels.Parse(opts.LabelSelector)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	fs, err := fields.Parse(opts.FieldSelector)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	var keys []string
	for k, o := range r.f.objects {
		md := o.GetMetadata()
		if r.key(md.GetNamespace(), md.GetName()) != k || (ns != "" && md.GetNamespace() != ns) {
			continue
		}
		if !ls.Matches(md.GetLabels()) || !fs.Matches(fields.ObjectGetter(o)) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := &client.List[scheme.Object]{ResourceVersion: strconv.Itoa(r.f.rv)}
	for _, k := range keys {
		out.Items = append(out.Items, proto.Clone(r.f.objects[k]).(scheme.Object))
	}
	return out, nil
}

func (r *fakeResource) Update(_ context.Context, obj scheme.Object) (scheme.Object, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	md := obj.GetMetadata()
	key := r.key(md.GetNamespace(), md.GetName())
	live, ok := r.f.objects[key]
	if !ok {
		return nil, apierrors.NewNotFound(r.k.GroupResource(), md.GetName())
	}
	if md.GetResourceVersion() != live.GetMetadata().GetResourceVersion() {
		return nil, apierrors.NewConflict(r.k.GroupResource(), md.GetName(), "the object has been modified; please apply your changes to the latest version and try again")
	}
	o := proto.Clone(obj).(scheme.Object)
	r.f.rv++
	scheme.Meta(o).ResourceVersion = strconv.Itoa(r.f.rv)
	r.f.objects[key] = o
	return proto.Clone(o).(scheme.Object), nil
}

func (r *fakeResource) Delete(_ context.Context, ns, name string, _ *metav1.DeleteOptions) (scheme.Object, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	key := r.key(ns, name)
	o, ok := r.f.objects[key]
	if !ok {
		return nil, apierrors.NewNotFound(r.k.GroupResource(), name)
	}
	delete(r.f.objects, key)
	return o, nil
}

func (r *fakeResource) Watch(context.Context, string, client.ListOptions) (client.Watch[scheme.Object], error) {
	return nil, fmt.Errorf("watch is not supported by the fake cluster")
}
