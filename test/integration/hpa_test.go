package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	appsv1 "minik8s/api/apps/v1"
	autoscalingv2 "minik8s/api/autoscaling/v2"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/controller-manager/app"
	"minik8s/test/fakekubelet"
)

// The HPA tests run etcd, the apiserver and the controller-manager for
// real. Pod usage comes from test/fakekubelet's stats servers, reached
// through the apiserver's node proxy exactly as a kubelet's are: the fake
// stands in for the kubelet because these tests are about the controller;
// the real kubelet's summary is tested in test/integration/kubelet_test.go.

const (
	hpaSyncPeriod    = 200 * time.Millisecond
	hpaStabilization = 3 * time.Second
)

func startHPAEnv(t *testing.T) *cmEnv {
	t.Helper()
	return startCMEnvWith(t, 2, func(c *fakekubelet.Config) { c.ServeStats = true }, func(o *app.Options) {
		o.HPASyncPeriod = hpaSyncPeriod
		o.HPADownscaleStabilization = hpaStabilization
	})
}

// hpaDeployment is a Deployment whose pods request cpu (none if "").
func hpaDeployment(name string, replicas int32, cpuRequest string) *appsv1.Deployment {
	d := cmDeployment("default", name, replicas, "registry.local/kubia:1")
	if cpuRequest != "" {
		d.Spec.Template.Spec.Containers[0].Resources = &corev1.ResourceRequirements{Requests: map[string]string{"cpu": cpuRequest}}
	}
	return d
}

func cpuHPA(name string, minR, maxR, percent int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: &autoscalingv2.CrossVersionObjectReference{ApiVersion: "apps/v1", Kind: "Deployment", Name: name},
			MinReplicas:    proto.Int32(minR), MaxReplicas: maxR,
			Metrics: []*autoscalingv2.MetricSpec{{Type: "Resource", Resource: &autoscalingv2.ResourceMetricSource{Name: "cpu",
				Target: &autoscalingv2.MetricTarget{Type: "Utilization", AverageUtilization: proto.Int32(percent)}}}},
		},
	}
}

// setUsage gives every live pod of app=name the same cpu.
func (e *cmEnv) setUsage(name string, milli int64) []string {
	e.t.Helper()
	var names []string
	for _, p := range e.pods("default", "app="+name) {
		if p.Metadata.DeletionTimestamp == nil {
			e.kubelet.SetPodUsage("default", p.Metadata.Name, fakekubelet.PodUsage{CPUMilli: milli, MemoryBytes: 32 << 20})
			names = append(names, p.Metadata.Name)
		}
	}
	return names
}

func (e *cmEnv) specReplicas(name string) int32 {
	e.t.Helper()
	d, err := client.For[*appsv1.Deployment](e.c).Get(e.ctx, "default", name)
	if err != nil {
		e.t.Fatal(err)
	}
	return d.GetSpec().GetReplicas()
}

// hpaEvents returns "Type Reason Message" of the events about an
// autoscaler written by the controller.
func (e *cmEnv) hpaEvents(name string) []string {
	e.t.Helper()
	evs, err := client.For[*corev1.Event](e.c).List(e.ctx, "default", client.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs.Items {
		io := ev.GetInvolvedObject()
		if io.GetKind() == "HorizontalPodAutoscaler" && io.GetName() == name && ev.GetSource().GetComponent() == "horizontal-pod-autoscaler" {
			out = append(out, ev.Type+" "+ev.Reason+" "+ev.Message)
		}
	}
	return out
}

func countPrefix(list []string, prefix string) int {
	n := 0
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

func (e *cmEnv) hpa(name string) *autoscalingv2.HorizontalPodAutoscaler {
	e.t.Helper()
	h, err := client.For[*autoscalingv2.HorizontalPodAutoscaler](e.c).Get(e.ctx, "default", name)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func hpaCondition(h *autoscalingv2.HorizontalPodAutoscaler, typ string) string {
	for _, c := range h.GetStatus().GetConditions() {
		if c.GetType() == typ {
			return c.GetStatus() + " " + c.GetReason()
		}
	}
	return "<none>"
}

// TestHPAScalesDeploymentOnCPU: two pods requesting 100m and using 200m
// against a 100% target scale to four; noise within the tolerance changes
// nothing; when usage drops the deployment scales down only after the
// stabilization window.
func TestHPAScalesDeploymentOnCPU(t *testing.T) {
	e := startHPAEnv(t)
	if _, err := client.For[*appsv1.Deployment](e.c).Create(e.ctx, hpaDeployment("web", 2, "100m")); err != nil {
		t.Fatal(err)
	}
	e.waitReady("default", "app=web", 2)
	first := e.setUsage("web", 200)
	if out, err := e.minictl("top", "pod"); err != nil || !strings.Contains(out, first[0]) || !strings.Contains(out, "200m") {
		t.Fatalf("top pod through the node proxy: %q %v", out, err)
	}
	if _, err := client.For[*autoscalingv2.HorizontalPodAutoscaler](e.c).Create(e.ctx, cpuHPA("web", 1, 10, 100)); err != nil {
		t.Fatal(err)
	}

	// 2 x 200% of a 100% target: 4 replicas. The two new pods report no
	// numbers (the test never sets theirs yet): missing pods count as idle
	// on a scale up, so the size stays 4 rather than climbing further.
	e.eventually(20*time.Second, "scale up to 4", func() (bool, string) {
		n := e.specReplicas("web")
		return n == 4, fmt.Sprintf("spec.replicas %d", n)
	})
	e.waitReady("default", "app=web", 4)
	e.eventually(10*time.Second, "rescale event and status", func() (bool, string) {
		evs := e.hpaEvents("web")
		h := e.hpa("web")
		st := h.GetStatus()
		cur := st.GetCurrentMetrics()
		ok := countPrefix(evs, "Normal SuccessfulRescale New size: 4; reason: cpu resource utilization (percentage of request) above target") == 1 &&
			st.GetCurrentReplicas() == 4 && st.GetDesiredReplicas() == 4 && st.GetLastScaleTime() != nil &&
			len(cur) == 1 && cur[0].GetResource().GetCurrent().GetAverageUtilization() == 200 && cur[0].GetResource().GetCurrent().GetAverageValue() == "200m" &&
			hpaCondition(h, "AbleToScale") == "True ReadyForNewScale" && hpaCondition(h, "ScalingActive") == "True ValidMetricFound" &&
			hpaCondition(h, "ScalingLimited") == "False DesiredWithinRange"
		return ok, fmt.Sprintf("events %q status %v", evs, st)
	})
	if out, err := e.minictl("get", "hpa"); err != nil || !strings.Contains(out, "NAME   REFERENCE        TARGETS          MINPODS   MAXPODS   REPLICAS   AGE") ||
		!strings.Contains(out, "web    Deployment/web   cpu: 200%/100%   1         10        4") {
		t.Fatalf("get hpa: %q %v", out, err)
	}

	// Noise: every pod alternates between 92% and 108% of its request,
	// within the 10% tolerance, for many sync periods: no rescale.
	before := countPrefix(e.hpaEvents("web"), "Normal SuccessfulRescale")
	four := e.setUsage("web", 100)
	for i := range 30 {
		for _, p := range four {
			e.kubelet.SetPodUsage("default", p, fakekubelet.PodUsage{CPUMilli: []int64{92, 108}[i%2]})
		}
		time.Sleep(hpaSyncPeriod / 2)
		if n := e.specReplicas("web"); n != 4 {
			t.Fatalf("noise within tolerance rescaled to %d", n)
		}
	}
	if after := countPrefix(e.hpaEvents("web"), "Normal SuccessfulRescale"); after != before {
		t.Fatalf("noise within tolerance: %d rescale events, want %d: %q", after, before, e.hpaEvents("web"))
	}

	// Usage drops to 20%: ceil(0.2 x 4) = 1, but only once the window of
	// earlier recommendations of 4 has passed.
	dropped := time.Now()
	e.setUsage("web", 20)
	var sawStabilized bool
	var scaledAt time.Time
	deadline := dropped.Add(hpaStabilization + 10*time.Second)
	for time.Now().Before(deadline) {
		if n := e.specReplicas("web"); n != 4 {
			scaledAt = time.Now()
			if n != 1 {
				t.Fatalf("scaled down to %d, want 1", n)
			}
			break
		}
		sawStabilized = sawStabilized || hpaCondition(e.hpa("web"), "AbleToScale") == "True ScaleDownStabilized"
		time.Sleep(50 * time.Millisecond)
	}
	if scaledAt.IsZero() {
		t.Fatalf("no scale down within %s of the drop", hpaStabilization+10*time.Second)
	}
	// The last recommendation of 4 came at most a sync period (plus the
	// controller's stats cache of half a period) before the drop.
	if waited := scaledAt.Sub(dropped); waited < hpaStabilization-2*hpaSyncPeriod {
		t.Fatalf("scaled down %s after the drop, before the %s stabilization window", waited, hpaStabilization)
	}
	if !sawStabilized {
		t.Error("AbleToScale never reported ScaleDownStabilized while waiting")
	}
	e.waitReady("default", "app=web", 1)
	e.eventually(10*time.Second, "scale down event", func() (bool, string) {
		evs := e.hpaEvents("web")
		return countPrefix(evs, "Normal SuccessfulRescale New size: 1; reason: All metrics below target") == 1, fmt.Sprintf("%q", evs)
	})
}

// TestHPAReportsMetricErrors: pods without cpu requests cannot have a
// utilization; the autoscaler says so in its conditions and events and
// leaves the target alone.
func TestHPAReportsMetricErrors(t *testing.T) {
	e := startHPAEnv(t)
	if _, err := client.For[*appsv1.Deployment](e.c).Create(e.ctx, hpaDeployment("noreq", 2, "")); err != nil {
		t.Fatal(err)
	}
	e.waitReady("default", "app=noreq", 2)
	e.setUsage("noreq", 500)
	if _, err := client.For[*autoscalingv2.HorizontalPodAutoscaler](e.c).Create(e.ctx, cpuHPA("noreq", 1, 10, 50)); err != nil {
		t.Fatal(err)
	}
	e.eventually(20*time.Second, "ScalingActive=False with warnings", func() (bool, string) {
		h := e.hpa("noreq")
		evs := strings.Join(e.hpaEvents("noreq"), "\n")
		ok := hpaCondition(h, "ScalingActive") == "False FailedGetResourceMetric" && hpaCondition(h, "AbleToScale") == "True SucceededGetScale" &&
			strings.Contains(evs, "Warning FailedGetResourceMetric failed to get cpu utilization: missing request for cpu in container app of Pod noreq-") &&
			strings.Contains(evs, "Warning FailedComputeMetricsReplicas invalid metrics (1 invalid out of 1)") &&
			h.GetStatus().GetCurrentReplicas() == 2
		return ok, fmt.Sprintf("conditions %v events %s", h.GetStatus().GetConditions(), evs)
	})
	if out, err := e.minictl("get", "hpa", "noreq"); err != nil || !strings.Contains(out, "cpu: <unknown>/50%") {
		t.Fatalf("get hpa: %q %v", out, err)
	}
	time.Sleep(5 * hpaSyncPeriod)
	if n := e.specReplicas("noreq"); n != 2 {
		t.Fatalf("an autoscaler without metrics rescaled to %d", n)
	}
}
