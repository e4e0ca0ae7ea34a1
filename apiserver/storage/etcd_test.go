package storage_test

import (
	"context"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"minik8s/apiserver/storage"
	"minik8s/apiserver/storage/storagetest"
)

// TestEtcdContract runs the storage contract against a real etcd, the one
// storage/memory is held to.
func TestEtcdContract(t *testing.T) {
	if testing.Short() {
		t.Skip("needs an etcd binary (-short)")
	}
	runContract(t, func(*storage.Etcd) {})
}

// runContract holds a store over the package's etcd, set up by configure,
// to the storage contract; every case starts from an empty keyspace.
func runContract(t *testing.T, configure func(*storage.Etcd)) {
	cli := etcdClient(t)
	storagetest.Run(t, func(t *testing.T) (storage.Interface, func(int64)) {
		ctx := context.Background()
		if _, err := cli.Delete(ctx, storage.Prefix+"/", clientv3.WithPrefix()); err != nil {
			t.Fatal(err)
		}
		s := storage.NewEtcd(cli)
		configure(s)
		return s, func(rev int64) {
			if _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
				t.Fatalf("compact at %d: %v", rev, err)
			}
		}
	},
		// etcd answers a progress request only on a watch stream whose
		// watchers are all synced; with the watches of earlier cases on
		// the same client that does not come within the case's 5 s. The
		// watch cache's bookmarks are what depend on it, and its tests
		// run against etcd.
		"RequestProgress")
}
