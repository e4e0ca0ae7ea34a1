package storage_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/storage"
	"minik8s/test/etcdtest"
)

// TestEtcdNoSpace: once etcd's database reached its quota (the NOSPACE
// alarm), a create fails with the one-line out-of-space error and a get
// and a delete still work; after the operator's recovery - delete,
// compact, defragment, disarm - creates work again.
func TestEtcdNoSpace(t *testing.T) {
	if testing.Short() {
		t.Skip("needs an etcd binary (-short)")
	}
	// Its own member: the package's shared one must never fill up.
	c, err := etcdtest.RunWith(1, t.TempDir(), etcdtest.Options{QuotaBackendBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	cli, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := storage.NewEtcd(cli)
	k, _ := scheme.ByResource("configmaps")
	cm := func(name string) *corev1.ConfigMap {
		return &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"}, Data: map[string]string{"a": "1"}}
	}
	if _, err := s.Create(ctx, k, cm("kept")); err != nil {
		t.Fatal(err)
	}
	removed, err := s.Create(ctx, k, cm("removed"))
	if err != nil {
		t.Fatal(err)
	}
	rv, _ := storage.ParseRV(scheme.Meta(removed).ResourceVersion)

	value := make([]byte, 512<<10)
	if _, err := rand.Read(value); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		_, err := cli.Put(ctx, fmt.Sprintf("/fill/%03d", i), string(value))
		if errors.Is(err, rpctypes.ErrNoSpace) {
			break
		}
		if err != nil || i > 40 {
			t.Fatalf("fill %d: %v (no NOSPACE alarm)", i, err)
		}
	}

	_, err = s.Create(ctx, k, cm("refused"))
	if apierrors.ReasonOf(err) != apierrors.ReasonInternal || !strings.Contains(err.Error(), "etcd is out of space (NOSPACE alarm") {
		t.Fatalf("create during the alarm: %v, want the out-of-space error", err)
	}
	if _, err := s.Get(ctx, k, "default", "kept"); err != nil {
		t.Errorf("get during the alarm: %v", err)
	}
	if _, err := s.Delete(ctx, k, "default", "removed", rv); err != nil {
		t.Errorf("delete during the alarm: %v", err)
	}

	if _, err := cli.Delete(ctx, "/fill/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	st, err := cli.Status(ctx, c.ClientURLs[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, st.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Defragment(ctx, c.ClientURLs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.AlarmDisarm(ctx, &clientv3.AlarmMember{MemberID: st.Header.MemberId, Alarm: etcdserverpb.AlarmType_NOSPACE}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, k, cm("after")); err != nil {
		t.Errorf("create after the recovery: %v", err)
	}
}
