package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

// TestThreeMemberEtcd: the apiserver keeps working with one of three etcd
// members down, refuses writes without quorum, and recovers with it.
func TestThreeMemberEtcd(t *testing.T) {
	etcd := etcdtest.Start(t, 3)
	s := apiservertest.Start(t, etcd, apiservertest.Options{})
	cms := client.For[*corev1.ConfigMap](s.Client(t))
	ctx := ctxT(t)
	create := func(ctx context.Context, name string) error {
		_, err := cms.Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"}, Data: map[string]string{"k": "v"}})
		return err
	}
	if err := create(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	etcd.StopMember(2)
	if err := create(ctx, "one-down"); err != nil {
		t.Fatalf("write with 2 of 3 members: %v", err)
	}
	etcd.StopMember(1)
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	err := create(short, "no-quorum")
	cancel()
	if err == nil {
		t.Fatal("write without quorum succeeded")
	}
	t.Logf("without quorum: %v", err)
	if err := etcd.RestartMember(1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := create(ctx, fmt.Sprintf("recovered-%d", time.Now().UnixNano()))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after member restart: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	l, err := cms.List(ctx, "default", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, cm := range l.Items {
		names[cm.Metadata.Name] = true
	}
	if !names["before"] || !names["one-down"] {
		t.Fatalf("acknowledged writes missing after recovery: %v", names)
	}
}

// TestAPIServerFailover: a client given two apiservers keeps working when
// the one it uses stops.
func TestAPIServerFailover(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	a := apiservertest.Start(t, etcd, apiservertest.Options{})
	b := apiservertest.Start(t, etcd, apiservertest.Options{PKI: a.PKI})
	c, err := client.New([]string{a.Addr + "," + b.Addr}, a.ClientOptions(t)...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nss := client.For[*corev1.Namespace](c)
	ctx := ctxT(t)
	if _, err := nss.Get(ctx, "", "default"); err != nil {
		t.Fatal(err)
	}
	a.Stop()
	for i := 0; i < 5; i++ {
		if _, err := nss.Get(ctx, "", "default"); err != nil {
			t.Fatalf("get %d after one apiserver stopped: %v", i, err)
		}
	}
	b.Stop()
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := nss.Get(short, "", "default"); err == nil {
		t.Fatal("get succeeded with both apiservers stopped")
	}
}
