package storage_test

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/storage"
	"minik8s/test/etcdtest"
)

// TestEtcdNoLeaderFailsFast: a member without a leader (here the last of
// three, the other two stopped) refuses a write and a read at once
// instead of holding them for its 7 s request timeout, so a member cut
// off from its peers costs a request a retry on another member, not its
// deadline. With no member to retry on, the write ends after commitPut's
// retries (about 3 s) as an ambiguous write, the read as unavailable.
func TestEtcdNoLeaderFailsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("needs an etcd binary (-short)")
	}
	c := etcdtest.Start(t, 3)
	c.StopMember(1)
	c.StopMember(2)
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.ClientURLs[:1], DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	// The survivor gives up its leader after an election timeout (1 s).
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := cli.Status(ctx, c.ClientURLs[0])
		cancel()
		if err == nil && st.Leader == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("member 0 still has a leader: %v %v", st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s := storage.NewEtcd(cli)
	k, _ := scheme.ByResource("configmaps")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	start := time.Now()
	_, err = s.Create(ctx, k, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "x", Namespace: "default"}})
	if took := time.Since(start); err == nil || took > 6*time.Second {
		t.Errorf("create without a leader: %v after %s; want an error within 6 s", err, took)
	}
	start = time.Now()
	_, err = s.Get(ctx, k, "default", "x")
	if took := time.Since(start); err == nil || took > 6*time.Second {
		t.Errorf("get without a leader: %v after %s; want an error within 6 s", err, took)
	}
}
