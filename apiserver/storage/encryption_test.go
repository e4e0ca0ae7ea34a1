package storage_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"
	"time"

	_ "minik8s/api/all"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/cache"
	_ "minik8s/apiserver/registry/all"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/storage"
	"minik8s/apiserver/storage/encryption"
)

func encConfig(t *testing.T, providers string) encryption.Config {
	t.Helper()
	c, err := encryption.Parse([]byte("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [\"*.*\"]\n  providers:\n" + providers))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func aesgcm(name, secret string) string {
	return "  - aesgcm: {keys: [{name: " + name + ", secret: " + base64.StdEncoding.EncodeToString([]byte(secret)) + "}]}\n"
}

// TestEtcdContractEncrypted holds the etcd storage, every kind encrypted,
// to the same contract as the plain one.
func TestEtcdContractEncrypted(t *testing.T) {
	if testing.Short() {
		t.Skip("needs an etcd binary (-short)")
	}
	cfg := encConfig(t, aesgcm("k1", "0123456789abcdef"))
	runContract(t, func(s *storage.Etcd) { s.Encrypt(cfg) })
}

// TestEncryptionAtRest: etcd holds ciphertext (what etcdctl shows), the
// API returns the plain object, and a no-op rewrite under a new first key
// moves the stored value to that key (rotation).
func TestEncryptionAtRest(t *testing.T) {
	if testing.Short() {
		t.Skip("needs an etcd binary (-short)")
	}
	cli := etcdClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k, _ := scheme.ByResource("secrets")
	key := storage.Key(k, "default", "db")
	raw := func() []byte {
		resp, err := cli.Get(ctx, key)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("etcd get %s: %v", key, err)
		}
		return resp.Kvs[0].Value
	}
	open := func(providers string) *generic.Store {
		s := storage.NewEtcd(cli)
		s.Encrypt(encConfig(t, providers))
		return generic.New(s, cache.Options{})
	}

	// Before encryption: plain JSON.
	st := open("  - identity: {}\n")
	sec := &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "db", Namespace: "default"}, Data: map[string][]byte{"password": []byte("hunter2")}}
	if _, err := st.Create(ctx, k, "default", sec, rest.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if v := raw(); !bytes.HasPrefix(v, []byte("{")) {
		t.Fatalf("identity stored %q", v)
	}

	// Encryption on (identity still reads the old value); rewriting the
	// unchanged object encrypts it.
	for _, step := range []struct{ providers, prefix string }{
		{aesgcm("key1", "0123456789abcdef") + "  - identity: {}\n", "k8s:enc:aesgcm:v1:key1:"},
		{aesgcm("key2", "fedcba9876543210") + aesgcm("key1", "0123456789abcdef"), "k8s:enc:aesgcm:v1:key2:"},
	} {
		st = open(step.providers)
		cur, err := st.Get(ctx, k, "default", "db")
		if err != nil {
			t.Fatal(err)
		}
		if string(cur.(*corev1.Secret).Data["password"]) != "hunter2" {
			t.Fatalf("read back %v", cur)
		}
		rev := cur.GetMetadata().GetResourceVersion()
		if _, err := st.Update(ctx, k, "default", cur, "", rest.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		v := raw()
		if !bytes.HasPrefix(v, []byte(step.prefix)) || bytes.Contains(v, []byte(base64.StdEncoding.EncodeToString([]byte("hunter2")))) {
			t.Fatalf("after rewrite etcd holds %.60q, want prefix %s", v, step.prefix)
		}
		// Once current, a no-op update writes nothing.
		again, _ := st.Get(ctx, k, "default", "db")
		if again.GetMetadata().GetResourceVersion() == rev {
			t.Fatalf("the stale value was not rewritten")
		}
		same, err := st.Update(ctx, k, "default", again, "", rest.WriteOptions{})
		if err != nil || same.GetMetadata().GetResourceVersion() != again.GetMetadata().GetResourceVersion() {
			t.Fatalf("no-op update of a current value wrote: %v %v", same.GetMetadata().GetResourceVersion(), err)
		}
	}

	// Without the key the value was written with, reads fail clearly
	// instead of returning ciphertext.
	st = open(aesgcm("key3", "0000000000000000"))
	if _, err := st.Get(ctx, k, "default", "db"); err == nil {
		t.Fatal("read with an unknown key succeeded")
	}
}
