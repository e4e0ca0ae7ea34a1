package app

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/scheduler/framework"
)

func parse(t *testing.T, args ...string) (*Options, error) {
	t.Helper()
	o := NewOptions()
	fs := flag.NewFlagSet("scheduler", flag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o, o.Complete(fs)
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOptionsDefaults(t *testing.T) {
	o, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if o.SchedulerName != "default-scheduler" || !o.LeaderElect || o.Port != 10259 || o.BindAddress != "127.0.0.1" {
		t.Fatalf("defaults: %+v", o)
	}
	if o.LeaseNameOrDefault() != "scheduler" || o.ResourceNamespace != "kube-system" || o.Identity == "" {
		t.Fatalf("lease: %q/%q identity %q", o.ResourceNamespace, o.LeaseNameOrDefault(), o.Identity)
	}
	if o.Weights.String() != framework.DefaultWeights().String() {
		t.Fatalf("weights %s", o.Weights)
	}
	o2, _ := parse(t, "--scheduler-name", "gpu-scheduler")
	if o2.LeaseNameOrDefault() != "gpu-scheduler" {
		t.Fatalf("second scheduler's lease %q", o2.LeaseNameOrDefault())
	}
}

func TestConfigFileAndFlagPrecedence(t *testing.T) {
	cfg := writeConfig(t, `
schedulerName: from-file
percentageOfNodesToScore: 30
podMaxBackoffSeconds: 20
scoreWeights:
  LeastAllocated: 7
  TaintToleration: 0
leaderElection:
  leaseDuration: 30s
  renewDeadline: 20s
  resourceName: my-lease
`)
	o, err := parse(t, "--config", cfg, "--percentage-of-nodes-to-score", "50", "--score-weights", "TaintToleration=9")
	if err != nil {
		t.Fatal(err)
	}
	if o.SchedulerName != "from-file" || o.PodMaxBackoff != 20*time.Second || o.LeaseDuration != 30*time.Second ||
		o.RenewDeadline != 20*time.Second || o.LeaseNameOrDefault() != "my-lease" {
		t.Fatalf("file values not applied: %+v", o)
	}
	if o.PercentageOfNodesToScore != 50 {
		t.Fatalf("explicit flag lost to the file: %d", o.PercentageOfNodesToScore)
	}
	if o.Weights[framework.LeastAllocated] != 7 || o.Weights[framework.TaintToleration] != 9 || o.Weights[framework.NodeAffinity] != 2 {
		t.Fatalf("weights %s", o.Weights)
	}
}

func TestKubeconfigFlagAndFile(t *testing.T) {
	o, err := parse(t, "--kubeconfig", "/etc/a.conf")
	if err != nil || o.Kubeconfig != "/etc/a.conf" || o.Server != "" {
		t.Fatalf("--kubeconfig: %+v %v", o, err)
	}
	cfg := writeConfig(t, "clientConnection:\n  kubeconfig: /etc/from-file.conf\n")
	if o, err = parse(t, "--config", cfg); err != nil || o.Kubeconfig != "/etc/from-file.conf" {
		t.Fatalf("clientConnection.kubeconfig: %q %v", o.Kubeconfig, err)
	}
	if o, err = parse(t, "--config", cfg, "--kubeconfig", "/etc/flag.conf"); err != nil || o.Kubeconfig != "/etc/flag.conf" {
		t.Fatalf("--kubeconfig over the file: %q %v", o.Kubeconfig, err)
	}
}

func TestOptionsRejected(t *testing.T) {
	cases := []struct {
		args []string
		file string
		want string
	}{
		{args: []string{"--lease-duration", "2s", "--renew-deadline", "3s"}, want: "must be less than --leader-elect-lease-duration"},
		{args: []string{"--lease-duration", "500ms", "--renew-deadline", "300ms", "--retry-period", "100ms"}, want: "at least 1s"},
		{args: []string{"--score-weights", "Bogus=1"}, want: "unknown score plugin"},
		{args: []string{"--percentage-of-nodes-to-score", "101"}, want: "want 0-100"},
		{args: []string{"--scheduler-name", ""}, want: "must not be empty"},
		{file: "unknownField: 1\n", want: "unknownField"},
		{file: "scoreWeights:\n  Nope: 1\n", want: "unknown score plugin"},
		{file: "leaderElection:\n  leaseDuration: soon\n", want: "lease-duration"},
	}
	for _, tc := range cases {
		args := tc.args
		if tc.file != "" {
			args = append(args, "--config", writeConfig(t, tc.file))
		}
		_, err := parse(t, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %q: got %v, want %q", tc.args, tc.file, err, tc.want)
		}
	}
	// Without leader election the lease timings do not matter.
	if _, err := parse(t, "--leader-elect=false", "--lease-duration", "1s", "--renew-deadline", "5s"); err != nil {
		t.Errorf("leader election off: %v", err)
	}
}

// newTestScheduler builds a scheduler whose informers never run: the
// handlers are driven by hand.
func newTestScheduler(t *testing.T) *Scheduler {
	t.Helper()
	c, err := client.New([]string{"127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s := New(c, Config{SchedulerName: "default-scheduler"})
	t.Cleanup(s.Close)
	return s
}

func pendingPod(name, scheduler string) *corev1.Pod {
	return &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name},
		Spec:     &corev1.PodSpec{SchedulerName: scheduler, Containers: []*corev1.Container{{Name: "c", Image: "i"}}},
		Status:   &corev1.PodStatus{Phase: "Pending"},
	}
}

func TestHandlersRoutePods(t *testing.T) {
	s := newTestScheduler(t)
	mine := pendingPod("mine", "default-scheduler")
	other := pendingPod("other", "other-scheduler")
	s.onPodAdd(mine)
	s.onPodAdd(other)
	if a, _, _ := s.queue.Pending(); a != 1 {
		t.Fatalf("queued %d pods, want only ours", a)
	}
	// The binding lands: out of the queue, into the cache.
	bound := proto.Clone(mine).(*corev1.Pod)
	bound.Spec.NodeName = "n1"
	s.onPodUpdate(mine, bound)
	if a, _, _ := s.queue.Pending(); a != 0 || !s.cache.Has("uid-mine") {
		t.Fatalf("after binding: queued %d, cached %v", a, s.cache.Has("uid-mine"))
	}
	// A finished pod no longer takes room.
	done := proto.Clone(bound).(*corev1.Pod)
	done.Status.Phase = "Succeeded"
	s.onPodUpdate(bound, done)
	if s.cache.Has("uid-mine") {
		t.Fatal("finished pod still in the cache")
	}
	// A pending pod being deleted leaves the queue.
	p := pendingPod("doomed", "default-scheduler")
	s.onPodAdd(p)
	deleting := proto.Clone(p).(*corev1.Pod)
	deleting.Metadata.DeletionTimestamp = timestamppb.Now()
	s.onPodUpdate(p, deleting)
	if a, _, _ := s.queue.Pending(); a != 0 {
		t.Fatalf("pod being deleted still queued")
	}
	// Pods bound by anyone are accounted, whatever their scheduler.
	placed := pendingPod("placed", "other-scheduler")
	placed.Spec.NodeName = "n2"
	s.onPodAdd(placed)
	if !s.cache.Has("uid-placed") {
		t.Fatal("pod bound by another scheduler not accounted")
	}
	s.onPodDelete(placed)
	if s.cache.Has("uid-placed") {
		t.Fatal("deleted pod still accounted")
	}
}

func TestSnapshotIncludesServices(t *testing.T) {
	s := newTestScheduler(t)
	s.onNodeAdd(&corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n1"}})
	snap := s.snapshot()
	if len(snap.Nodes) != 1 || snap.NamespaceLabels("default") != nil {
		t.Fatalf("snapshot: %+v", snap)
	}
}
