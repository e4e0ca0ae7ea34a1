package podautoscaler

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	autoscalingv2 "minik8s/api/autoscaling/v2"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	kubelet "minik8s/api/kubelet"
	metav1 "minik8s/api/meta/v1"
	"minik8s/controller-manager/controller"
	"minik8s/controller-manager/controller/fake"
)

// fakeStats serves summaries built from per-pod millicores, by node.
type fakeStats struct {
	mu    sync.Mutex
	cpu   map[string]int64 // pod name -> millicores
	uids  map[string]string
	nodes map[string][]string // node -> pod names
	fail  error
	calls []string
}

func (f *fakeStats) NodeStats(_ context.Context, node string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, node)
	if f.fail != nil {
		return nil, f.fail
	}
	s := kubelet.Summary{Node: kubelet.NodeStats{NodeName: node}}
	for _, name := range f.nodes[node] {
		m, ok := f.cpu[name]
		if !ok {
			continue
		}
		s.Pods = append(s.Pods, kubelet.PodStats{PodRef: kubelet.PodRef{Name: name, Namespace: "default", UID: f.uids[name]},
			CPU: &kubelet.CPU{UsageNanoCores: uint64(m) * 1e6}, Memory: &kubelet.Memory{WorkingSetBytes: 64 << 20}})
	}
	return json.Marshal(s)
}

func (f *fakeStats) set(name string, milli int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cpu[name] = milli
}

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func webPod(name, node string, request string) *corev1.Pod {
	res := &corev1.ResourceRequirements{Requests: map[string]string{"cpu": request, "memory": "128Mi"}}
	if request == "" {
		res = nil
	}
	return &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name, Labels: map[string]string{"app": "web"}},
		Spec:     &corev1.PodSpec{NodeName: node, Containers: []*corev1.Container{{Name: "app", Image: "img", Resources: res}}},
		Status: &corev1.PodStatus{Phase: "Running", StartTime: timestamppb.New(start.Add(-time.Hour)),
			Conditions: []*corev1.PodCondition{{Type: "Ready", Status: "True", LastTransitionTime: timestamppb.New(start.Add(-time.Hour))}}},
	}
}

func webDeployment(replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &appsv1.DeploymentSpec{Replicas: proto.Int32(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
}

func webHPA(kind string, minR, maxR int32, metrics ...*autoscalingv2.MetricSpec) *HPA {
	return &HPA{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Uid: "hpa-uid", Generation: 1},
		Spec: &autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: &autoscalingv2.CrossVersionObjectReference{ApiVersion: "apps/v1", Kind: kind, Name: "web"},
			MinReplicas:    proto.Int32(minR), MaxReplicas: maxR, Metrics: metrics,
		},
	}
}

func cpuUtilization(percent int32) *autoscalingv2.MetricSpec {
	return &autoscalingv2.MetricSpec{Type: "Resource", Resource: &autoscalingv2.ResourceMetricSource{Name: "cpu",
		Target: &autoscalingv2.MetricTarget{Type: "Utilization", AverageUtilization: proto.Int32(percent)}}}
}

type fixture struct {
	c     *Controller
	hpas  *fake.API[*HPA]
	deps  *fake.API[*appsv1.Deployment]
	stats *fakeStats
	rec   *controller.FakeRecorder
	clock time.Time
}

func setup(t *testing.T, hpa *HPA, dep *appsv1.Deployment, pods []*corev1.Pod, cpu map[string]int64) *fixture {
	t.Helper()
	f := &fixture{hpas: fake.NewAPI(hpa), deps: fake.NewAPI(dep), rec: &controller.FakeRecorder{}, clock: start,
		stats: &fakeStats{cpu: cpu, uids: map[string]string{}, nodes: map[string][]string{}}}
	for _, p := range pods {
		f.stats.nodes[p.Spec.NodeName] = append(f.stats.nodes[p.Spec.NodeName], p.Metadata.Name)
		f.stats.uids[p.Metadata.Name] = p.Metadata.Uid
	}
	f.c = New(Config{
		HPAs: f.hpas, HPAInformer: fake.Informer(t, hpa), PodInformer: fake.Informer(t, pods...),
		Targets: Targets{Deployments: f.deps}, Stats: f.stats, Recorder: f.rec,
		SyncPeriod: 15 * time.Second, DownscaleStabilization: 5 * time.Minute, Tolerance: 0.1,
		CPUInitializationPeriod: 5 * time.Minute, InitialReadinessDelay: 30 * time.Second,
		Now: func() time.Time { return f.clock },
	})
	t.Cleanup(f.c.queue.ShutDown)
	return f
}

func (f *fixture) sync(t *testing.T) {
	t.Helper()
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) replicas(t *testing.T) int32 {
	t.Helper()
	d, err := f.deps.Get(context.Background(), "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	return d.GetSpec().GetReplicas()
}

func (f *fixture) status(t *testing.T) *autoscalingv2.HorizontalPodAutoscalerStatus {
	t.Helper()
	h, err := f.hpas.Get(context.Background(), "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	return h.GetStatus()
}

func condition(st *autoscalingv2.HorizontalPodAutoscalerStatus, typ string) string {
	for _, c := range st.GetConditions() {
		if c.GetType() == typ {
			return c.GetStatus() + " " + c.GetReason()
		}
	}
	return "<none>"
}

func TestScaleUpOnCPU(t *testing.T) {
	pods := []*corev1.Pod{webPod("web-a", "n1", "100m"), webPod("web-b", "n2", "100m")}
	f := setup(t, webHPA("Deployment", 1, 10, cpuUtilization(100)), webDeployment(2), pods, map[string]int64{"web-a": 200, "web-b": 200})
	f.sync(t)
	if got := f.replicas(t); got != 4 {
		t.Fatalf("replicas %d, want 4", got)
	}
	want := "Normal SuccessfulRescale New size: 4; reason: cpu resource utilization (percentage of request) above target"
	if ev := f.rec.Events(); !slices.Contains(ev, want) {
		t.Fatalf("events %q, want %q", ev, want)
	}
	st := f.status(t)
	if st.GetCurrentReplicas() != 2 || st.GetDesiredReplicas() != 4 || st.GetLastScaleTime() == nil || st.GetObservedGeneration() != 1 {
		t.Fatalf("status %v", st)
	}
	cur := st.GetCurrentMetrics()[0].GetResource()
	if cur.GetName() != "cpu" || cur.GetCurrent().GetAverageUtilization() != 200 || cur.GetCurrent().GetAverageValue() != "200m" {
		t.Fatalf("current metrics %v", st.GetCurrentMetrics())
	}
	for typ, want := range map[string]string{AbleToScale: "True SucceededRescale", ScalingActive: "True ValidMetricFound", ScalingLimited: "False DesiredWithinRange"} {
		if got := condition(st, typ); got != want {
			t.Errorf("%s: %s, want %s", typ, got, want)
		}
	}
	// One summary per node hosting the pods.
	if slices.Sort(f.stats.calls); !slices.Equal(f.stats.calls, []string{"n1", "n2"}) {
		t.Errorf("NodeStats calls %v", f.stats.calls)
	}
}

func TestScaleDownWaitsForStabilizationWindow(t *testing.T) {
	pods := []*corev1.Pod{webPod("web-a", "n1", "100m"), webPod("web-b", "n1", "100m"), webPod("web-c", "n1", "100m"), webPod("web-d", "n1", "100m")}
	cpu := map[string]int64{"web-a": 100, "web-b": 100, "web-c": 100, "web-d": 100}
	f := setup(t, webHPA("Deployment", 1, 10, cpuUtilization(100)), webDeployment(4), pods, cpu)
	f.sync(t)
	for _, p := range pods {
		f.stats.set(p.Metadata.Name, 20)
	}
	// Low usage, noisy or not, for less than the window: no change.
	for i := range 19 {
		f.clock = f.clock.Add(15 * time.Second)
		if i%2 == 0 {
			f.stats.set("web-a", 60)
		} else {
			f.stats.set("web-a", 20)
		}
		f.sync(t)
		if got := f.replicas(t); got != 4 {
			t.Fatalf("after %s: replicas %d, want 4 until the window passes", f.clock.Sub(start), got)
		}
	}
	if got := condition(f.status(t), AbleToScale); got != "True ScaleDownStabilized" {
		t.Fatalf("AbleToScale %s", got)
	}
	// Five minutes after the last recommendation of 4 the size goes
	// down, to the highest recommendation still within the window: the
	// noisy web-a made it ceil(0.3*4) = 2 rather than ceil(0.2*4) = 1.
	f.clock = start.Add(5*time.Minute + time.Second)
	f.stats.set("web-a", 20)
	f.sync(t)
	if got := f.replicas(t); got != 2 {
		t.Fatalf("replicas %d, want 2 once the window has passed", got)
	}
	if ev := f.rec.Events(); !slices.Contains(ev, "Normal SuccessfulRescale New size: 2; reason: All metrics below target") {
		t.Fatalf("events %q", ev)
	}
}

func TestNoisyMetricsWithinToleranceDoNotRescale(t *testing.T) {
	pods := []*corev1.Pod{webPod("web-a", "n1", "100m"), webPod("web-b", "n1", "100m")}
	f := setup(t, webHPA("Deployment", 1, 10, cpuUtilization(50)), webDeployment(2), pods, map[string]int64{})
	for i := range 20 {
		v := int64(46)
		if i%2 == 1 {
			v = 54
		}
		f.stats.set("web-a", v)
		f.stats.set("web-b", v)
		f.clock = f.clock.Add(15 * time.Second)
		f.sync(t)
	}
	if got := f.replicas(t); got != 2 {
		t.Fatalf("replicas %d", got)
	}
	if acts := f.deps.Actions(); len(acts) != 0 {
		t.Fatalf("target written: %v", acts)
	}
	if ev := f.rec.Events(); len(ev) != 0 {
		t.Fatalf("events %q", ev)
	}
}

func TestMetricErrorsBecomeConditionsAndEvents(t *testing.T) {
	t.Run("missing requests", func(t *testing.T) {
		pods := []*corev1.Pod{webPod("web-a", "n1", "")}
		f := setup(t, webHPA("Deployment", 1, 10, cpuUtilization(50)), webDeployment(1), pods, map[string]int64{"web-a": 500})
		f.sync(t)
		st := f.status(t)
		if got := condition(st, ScalingActive); got != "False FailedGetResourceMetric" {
			t.Fatalf("ScalingActive %s", got)
		}
		ev := strings.Join(f.rec.Events(), "\n")
		for _, want := range []string{
			"Warning FailedGetResourceMetric failed to get cpu utilization: missing request for cpu in container app of Pod web-a",
			"Warning FailedComputeMetricsReplicas invalid metrics (1 invalid out of 1), first error is: failed to get cpu utilization: missing request for cpu",
		} {
			if !strings.Contains(ev, want) {
				t.Errorf("events:\n%s\nwant %q", ev, want)
			}
		}
		if st.GetCurrentReplicas() != 1 || f.replicas(t) != 1 {
			t.Fatalf("status %v", st)
		}
	})
	t.Run("kubelets unreachable", func(t *testing.T) {
		pods := []*corev1.Pod{webPod("web-a", "n1", "100m")}
		f := setup(t, webHPA("Deployment", 1, 10, cpuUtilization(50)), webDeployment(1), pods, map[string]int64{"web-a": 500})
		f.stats.fail = errors.New("cannot reach the kubelet of node n1")
		f.sync(t)
		if got := condition(f.status(t), ScalingActive); got != "False FailedGetResourceMetric" {
			t.Fatalf("ScalingActive %s", got)
		}
		if ev := strings.Join(f.rec.Events(), "\n"); !strings.Contains(ev, "unable to get metrics for resource cpu: node n1: cannot reach") {
			t.Fatalf("events:\n%s", ev)
		}
	})
	t.Run("no pods report", func(t *testing.T) {
		pods := []*corev1.Pod{webPod("web-a", "n1", "100m")}
		f := setup(t, webHPA("Deployment", 1, 10, cpuUtilization(50)), webDeployment(1), pods, map[string]int64{})
		f.sync(t)
		if ev := strings.Join(f.rec.Events(), "\n"); !strings.Contains(ev, "did not receive metrics for targeted pods") {
			t.Fatalf("events:\n%s", ev)
		}
	})
	t.Run("unsupported target", func(t *testing.T) {
		f := setup(t, webHPA("DaemonSet", 1, 10, cpuUtilization(50)), webDeployment(1), nil, nil)
		f.sync(t)
		if got := condition(f.status(t), AbleToScale); got != "False FailedGetScale" {
			t.Fatalf("AbleToScale %s", got)
		}
	})
	t.Run("missing target", func(t *testing.T) {
		hpa := webHPA("Deployment", 1, 10, cpuUtilization(50))
		hpa.Spec.ScaleTargetRef.Name = "nope"
		f := setup(t, hpa, webDeployment(1), nil, nil)
		f.sync(t)
		if ev := strings.Join(f.rec.Events(), "\n"); !strings.Contains(ev, "Warning FailedGetScale") {
			t.Fatalf("events:\n%s", ev)
		}
	})
}

func TestOutOfRangeAndDisabled(t *testing.T) {
	pods := []*corev1.Pod{webPod("web-a", "n1", "100m")}
	f := setup(t, webHPA("Deployment", 2, 5, cpuUtilization(50)), webDeployment(9), pods, map[string]int64{"web-a": 50})
	f.sync(t)
	if got := f.replicas(t); got != 5 {
		t.Fatalf("replicas %d, want max 5", got)
	}
	if ev := f.rec.Events(); !slices.Contains(ev, "Normal SuccessfulRescale New size: 5; reason: Current number of replicas above Spec.MaxReplicas") {
		t.Fatalf("events %q", ev)
	}

	z := setup(t, webHPA("Deployment", 2, 5, cpuUtilization(50)), webDeployment(0), pods, map[string]int64{"web-a": 500})
	z.sync(t)
	if got := z.replicas(t); got != 0 {
		t.Fatalf("replicas %d: a target scaled to zero is left alone", got)
	}
	if got := condition(z.status(t), ScalingActive); got != "False ScalingDisabled" {
		t.Fatalf("ScalingActive %s", got)
	}
}

func TestMemoryAverageValue(t *testing.T) {
	pods := []*corev1.Pod{webPod("web-a", "n1", "100m"), webPod("web-b", "n1", "100m")}
	// The fake reports 64Mi of working set per pod; a 32Mi target doubles.
	m := &autoscalingv2.MetricSpec{Type: "Resource", Resource: &autoscalingv2.ResourceMetricSource{Name: "memory",
		Target: &autoscalingv2.MetricTarget{Type: "AverageValue", AverageValue: "32Mi"}}}
	f := setup(t, webHPA("Deployment", 1, 10, m, cpuUtilization(100)), webDeployment(2), pods, map[string]int64{"web-a": 100, "web-b": 100})
	f.sync(t)
	if got := f.replicas(t); got != 4 {
		t.Fatalf("replicas %d, want 4 (the larger of memory's 4 and cpu's 2)", got)
	}
	if ev := f.rec.Events(); !slices.Contains(ev, "Normal SuccessfulRescale New size: 4; reason: memory resource above target") {
		t.Fatalf("events %q", ev)
	}
	st := f.status(t)
	if v := st.GetCurrentMetrics()[0].GetResource().GetCurrent().GetAverageValue(); v != "67108864" {
		t.Fatalf("memory average %q", v)
	}
}

func TestStatefulSetPodOfOtherUIDIsMissing(t *testing.T) {
	pods := []*corev1.Pod{webPod("web-a", "n1", "100m")}
	f := setup(t, webHPA("Deployment", 1, 10, cpuUtilization(100)), webDeployment(1), pods, map[string]int64{"web-a": 900})
	f.stats.uids["web-a"] = "uid-of-a-previous-pod"
	f.sync(t)
	if got := f.replicas(t); got != 1 {
		t.Fatalf("replicas %d: the numbers of another pod of the same name were used", got)
	}
}

func TestScalesStatefulSetRetryingConflicts(t *testing.T) {
	pods := []*corev1.Pod{webPod("web-0", "n1", "100m")}
	set := &appsv1.StatefulSet{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &appsv1.StatefulSetSpec{Replicas: proto.Int32(1), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	sets := fake.NewAPI(set)
	conflicts := 0
	sets.Fail = func(verb string, _ *appsv1.StatefulSet) error {
		if verb == "update" && conflicts < 2 {
			conflicts++
			return apierrors.NewConflict("statefulsets.apps", "web", "the object has been modified")
		}
		return nil
	}
	hpa := webHPA("StatefulSet", 1, 10, cpuUtilization(50))
	rec := &controller.FakeRecorder{}
	stats := &fakeStats{cpu: map[string]int64{"web-0": 150}, uids: map[string]string{"web-0": "uid-web-0"}, nodes: map[string][]string{"n1": {"web-0"}}}
	c := New(Config{HPAs: fake.NewAPI(hpa), HPAInformer: fake.Informer(t, hpa), PodInformer: fake.Informer(t, pods...),
		Targets: Targets{StatefulSets: sets}, Stats: stats, Recorder: rec, Tolerance: 0.1, Now: func() time.Time { return start }})
	t.Cleanup(c.queue.ShutDown)
	if err := c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	got, _ := sets.Get(context.Background(), "default", "web")
	if got.GetSpec().GetReplicas() != 3 || conflicts != 2 {
		t.Fatalf("replicas %d after %d conflicts, want 3 (150%% of a 50%% target)", got.GetSpec().GetReplicas(), conflicts)
	}
	if ev := rec.Events(); !slices.Contains(ev, "Normal SuccessfulRescale New size: 3; reason: cpu resource utilization (percentage of request) above target") {
		t.Fatalf("events %q", ev)
	}
}
