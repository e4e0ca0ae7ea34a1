package storage_test

import (
	"context"
	"fmt"
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

// TestEtcdPausedMemberCostsARetry: with one follower of three paused
// (SIGSTOP: its connections open, nothing answered), writes the client
// sends to it are abandoned after commitPut's attempt timeout and taken
// by another member, so every create succeeds well within a deadline of
// 8 s. Without the attempt timeout a third of them waited for the
// deadline and failed.
func TestEtcdPausedMemberCostsARetry(t *testing.T) {
	if testing.Short() {
		t.Skip("needs an etcd binary (-short)")
	}
	c := etcdtest.Start(t, 3)
	cli, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	follower := -1
	for i, ep := range c.ClientURLs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := cli.Status(ctx, ep)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if st.Leader != st.Header.MemberId {
			follower = i
			break
		}
	}
	if follower < 0 {
		t.Fatal("no follower among the members")
	}
	s := storage.NewEtcd(cli)
	k, _ := scheme.ByResource("configmaps")
	create := func(name string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer cancel()
		_, err := s.Create(ctx, k, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"}})
		return err
	}
	// Every member's connection made and used before the pause.
	for i := range 6 {
		if err := create(fmt.Sprintf("warm-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PauseMember(follower); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.ResumeMember(follower) }()
	var failed []string
	slowest := time.Duration(0)
	for i := range 9 {
		start := time.Now()
		if err := create(fmt.Sprintf("cm-%d", i)); err != nil {
			failed = append(failed, err.Error())
		}
		slowest = max(slowest, time.Since(start))
	}
	if len(failed) > 0 {
		t.Errorf("%d of 9 creates failed with member %d paused: %q", len(failed), follower, failed)
	}
	t.Logf("slowest create with member %d paused: %s", follower, slowest)
}
