package storage_test

import (
	"os"
	"sync"
	"testing"

	"minik8s/test/etcdtest"
)

// One etcd serves every test of the package, one after another: starting
// a member per test is what made them slow - and, on a loaded machine,
// time out waiting for it to become healthy.
var shared struct {
	once sync.Once
	dir  string
	c    *etcdtest.Cluster
	err  error
}

// sharedEtcd returns the package's etcd, starting it on first use.
func sharedEtcd(t *testing.T) *etcdtest.Cluster {
	t.Helper()
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "storage-etcd-"); shared.err == nil {
			shared.c, shared.err = etcdtest.Run(1, shared.dir)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.c
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.c != nil {
		shared.c.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}
