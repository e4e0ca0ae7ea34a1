package storage_test

import (
	"os"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

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

// etcdClient is a client of the package's etcd (started on first use),
// closed when the test ends.
func etcdClient(t *testing.T) *clientv3.Client {
	t.Helper()
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "storage-etcd-"); shared.err == nil {
			shared.c, shared.err = etcdtest.Run(1, shared.dir)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	cli, err := shared.c.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
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
