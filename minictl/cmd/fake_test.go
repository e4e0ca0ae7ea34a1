package cmd

import (
	"context"
	"time"

	"minik8s/api/client/fake"
	"minik8s/api/rpc"
	"minik8s/api/scheme"
)

// fakeCluster is api/client/fake's in-memory cluster as a Cluster, for
// testing command logic (what is sent, what is printed) without a
// cluster. The real wire path is covered by the end-to-end tests.
type fakeCluster struct{ *fake.Cluster }

func newFakeCluster(now time.Time) fakeCluster {
	return fakeCluster{fake.NewCluster(func() time.Time { return now })}
}

func (f fakeCluster) Close() error { return nil }

func (f fakeCluster) Discovery(context.Context) ([]*rpc.APIResource, error) {
	var out []*rpc.APIResource
	for _, k := range scheme.All() {
		out = append(out, &rpc.APIResource{Name: k.Resource, ShortNames: k.ShortNames, Group: k.Group, Version: k.Version, Kind: k.Kind, Namespaced: k.Namespaced,
			Verbs: []string{"create", "delete", "get", "list", "update", "watch"}})
	}
	return out, nil
}

func (f fakeCluster) Resource(k *scheme.Kind) (ResourceAPI, error) {
	return fakeResource{f.Cluster.Resource(k)}, nil
}

// fakeResource adds the subresource update the real client has; the
// fake stores an approval like a status.
type fakeResource struct{ *fake.API[scheme.Object] }

func (r fakeResource) UpdateSubresource(ctx context.Context, obj scheme.Object, _ string) (scheme.Object, error) {
	return r.UpdateStatus(ctx, obj)
}
