package podautoscaler

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	autoscalingv2 "minik8s/api/autoscaling/v2"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

// pod samples for the tables: counted with a value, missing, unready,
// ignored; every pod requests 100 (100m of cpu).
func used(v int64) PodSample { return PodSample{Name: "p", HasValue: true, Value: v, Request: 100} }
func missing() PodSample     { return PodSample{Name: "p", Request: 100} }
func unready(v int64) PodSample {
	return PodSample{Name: "p", State: PodUnready, HasValue: true, Value: v, Request: 100}
}
func ignored() PodSample {
	return PodSample{Name: "p", State: PodIgnored, HasValue: true, Value: 900, Request: 100}
}
func pods(ps ...PodSample) []PodSample {
	return ps
}

func TestUtilizationReplicas(t *testing.T) {
	for _, tt := range []struct {
		name     string
		current  int32
		pods     []PodSample
		target   int32
		want     int32
		wantUtil int32
		err      string
	}{
		{name: "scale up by the ratio", current: 2, pods: pods(used(200), used(200)), target: 100, want: 4, wantUtil: 200},
		{name: "within tolerance above", current: 2, pods: pods(used(109), used(109)), target: 100, want: 2, wantUtil: 109},
		{name: "within tolerance below", current: 4, pods: pods(used(91), used(91), used(92), used(91)), target: 100, want: 4, wantUtil: 91},
		{name: "just beyond tolerance", current: 2, pods: pods(used(112), used(112)), target: 100, want: 3, wantUtil: 112},
		{name: "scale down", current: 4, pods: pods(used(20), used(20), used(20), used(20)), target: 100, want: 1, wantUtil: 20},
		{name: "uneven pods average", current: 3, pods: pods(used(10), used(50), used(240)), target: 50, want: 6, wantUtil: 100},
		{name: "ignored pods do not count", current: 2, pods: pods(used(50), used(50), ignored()), target: 50, want: 2, wantUtil: 50},
		// A missing pod may be busy: on a scale down it counts as using
		// its whole request, which here cancels the scale down...
		{name: "missing on scale down damps to no change", current: 3, pods: pods(used(20), used(20), missing()), target: 50, want: 3, wantUtil: 20},
		// ...and here makes it smaller (ceil(0.2*3)=1 without it).
		{name: "missing on scale down damps", current: 4, pods: pods(used(10), used(10), used(10), missing()), target: 50, want: 3, wantUtil: 10},
		// A missing pod may be idle: on a scale up it counts as using nothing.
		{name: "missing on scale up damps to no change", current: 4, pods: pods(used(200), used(200), missing(), missing()), target: 100, want: 4, wantUtil: 200},
		{name: "missing on scale up damps", current: 3, pods: pods(used(300), used(300), missing()), target: 100, want: 6, wantUtil: 300},
		// Unready pods' start-up CPU is ignored; on a scale up they count
		// as idle, which may cancel the scale up altogether.
		{name: "unready on scale up counts as idle", current: 3, pods: pods(used(150), unready(900), unready(900)), target: 100, want: 3, wantUtil: 150},
		{name: "unready on scale up damps", current: 3, pods: pods(used(300), used(300), unready(900)), target: 100, want: 6, wantUtil: 300},
		{name: "unready left out on scale down", current: 3, pods: pods(used(20), used(20), unready(900)), target: 100, want: 1, wantUtil: 20},
		{name: "no samples", current: 2, pods: pods(missing(), unready(50)), target: 100, err: "did not receive metrics"},
		{name: "missing request", current: 2, pods: pods(used(50), PodSample{Name: "web-1", HasValue: true, Value: 50, MissingRequest: "app"}), target: 100,
			err: "missing request for cpu in container app of Pod web-1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UtilizationReplicas("cpu", tt.current, tt.pods, tt.target, 0.1)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Replicas != tt.want || got.Utilization != tt.wantUtil {
				t.Fatalf("got %d replicas at %d%%, want %d at %d%%", got.Replicas, got.Utilization, tt.want, tt.wantUtil)
			}
		})
	}
}

func TestAverageValueReplicas(t *testing.T) {
	for _, tt := range []struct {
		name    string
		current int32
		pods    []PodSample
		target  int64
		want    int32
		wantAvg int64
	}{
		{"scale up", 2, pods(used(200), used(200)), 100, 4, 200},
		{"tolerance", 2, pods(used(105), used(95)), 100, 2, 100},
		{"scale down", 4, pods(used(50), used(50), used(50), used(50)), 100, 2, 50},
		// Missing pods are taken at the target on a scale down:
		// (25+25+100)/3 = 50 -> ceil(0.5*3) = 2 rather than ceil(0.25*2) = 1.
		{"missing on scale down", 3, pods(used(25), used(25), missing()), 100, 2, 25},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AverageValueReplicas(tt.current, tt.pods, tt.target, 0.1)
			if err != nil {
				t.Fatal(err)
			}
			if got.Replicas != tt.want || got.AverageValue != tt.wantAvg {
				t.Fatalf("got %d replicas at %d, want %d at %d", got.Replicas, got.AverageValue, tt.want, tt.wantAvg)
			}
		})
	}
	if _, err := AverageValueReplicas(1, pods(missing()), 100, 0.1); !errors.Is(err, ErrNoMetrics) {
		t.Fatalf("no samples: %v", err)
	}
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func classifyPod(phase string, opts ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p"}, Status: &corev1.PodStatus{Phase: phase}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func started(ago time.Duration) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Status.StartTime = timestamppb.New(t0.Add(-ago)) }
}

func readyCond(status string, ago time.Duration) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, &corev1.PodCondition{Type: "Ready", Status: status, LastTransitionTime: timestamppb.New(t0.Add(-ago))})
	}
}

func TestClassify(t *testing.T) {
	const cpuInit, delay = 5 * time.Minute, 30 * time.Second
	terminating := func(p *corev1.Pod) { p.Metadata.DeletionTimestamp = timestamppb.New(t0) }
	for _, tt := range []struct {
		name     string
		pod      *corev1.Pod
		resource string
		sample   bool
		want     PodState
	}{
		{"terminating", classifyPod("Running", terminating, started(time.Hour), readyCond("True", time.Hour)), "cpu", true, PodIgnored},
		{"failed", classifyPod("Failed"), "cpu", true, PodIgnored},
		{"succeeded", classifyPod("Succeeded"), "memory", true, PodIgnored},
		{"pending", classifyPod("Pending"), "memory", true, PodUnready},
		{"pending without sample", classifyPod("Pending"), "cpu", false, PodUnready},
		{"running without sample is missing", classifyPod("Running", started(time.Minute), readyCond("False", time.Minute)), "cpu", false, PodCounted},
		{"ready", classifyPod("Running", started(time.Hour), readyCond("True", time.Hour)), "cpu", true, PodCounted},
		{"young and ready", classifyPod("Running", started(time.Minute), readyCond("True", 50*time.Second)), "cpu", true, PodCounted},
		{"young and not ready", classifyPod("Running", started(time.Minute), readyCond("False", time.Minute)), "cpu", true, PodUnready},
		{"young and not ready, memory", classifyPod("Running", started(time.Minute), readyCond("False", time.Minute)), "memory", true, PodCounted},
		{"no ready condition", classifyPod("Running", started(time.Hour)), "cpu", true, PodUnready},
		{"old, never ready", classifyPod("Running", started(time.Hour), readyCond("False", time.Hour-10*time.Second)), "cpu", true, PodUnready},
		{"old, was ready once", classifyPod("Running", started(time.Hour), readyCond("False", 10*time.Minute)), "cpu", true, PodCounted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.pod, tt.resource, tt.sample, t0, cpuInit, delay); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// step is one evaluation in a behavior sequence: at offset, with the
// target at current replicas, the metrics recommend recommended; want is
// the size to scale to, and reason the ScalingLimited reason when limited.
type step struct {
	at          time.Duration
	current     int32
	recommended int32
	want        int32
	able        string
	limited     string
}

func runSteps(t *testing.T, b Behavior, minR, maxR int32, initial int32, steps []step) {
	t.Helper()
	var h History
	h.Recommend(t0, initial)
	for i, s := range steps {
		now := t0.Add(s.at)
		d := h.Normalize(now, b, s.current, s.recommended, minR, maxR)
		if d.Replicas != s.want {
			t.Fatalf("step %d (t+%s, current %d, recommended %d): got %d, want %d (%+v)", i, s.at, s.current, s.recommended, d.Replicas, s.want, d)
		}
		if s.able != "" && d.AbleReason != s.able {
			t.Fatalf("step %d: AbleToScale reason %s, want %s", i, d.AbleReason, s.able)
		}
		if s.limited != "" && (d.LimitedReason != s.limited || !d.Limited) {
			t.Fatalf("step %d: ScalingLimited %v %s, want %s", i, d.Limited, d.LimitedReason, s.limited)
		}
		if s.limited == "" && d.Limited {
			t.Fatalf("step %d: unexpectedly limited: %+v", i, d)
		}
		if d.Replicas != s.current {
			h.RecordScale(now, b, s.current, d.Replicas)
		}
	}
}

func TestNormalizeStabilizesNoisyScaleDown(t *testing.T) {
	b := BehaviorFor(nil, time.Minute)
	runSteps(t, b, 1, 10, 4, []step{
		// Noisy recommendations below the current size do not scale down
		// while a higher one is within the minute...
		{at: 10 * time.Second, current: 4, recommended: 2, want: 4, able: "ScaleDownStabilized"},
		// ...a higher one scales up at once...
		{at: 20 * time.Second, current: 4, recommended: 5, want: 5, able: "ReadyForNewScale"},
		{at: 30 * time.Second, current: 5, recommended: 3, want: 5, able: "ScaleDownStabilized"},
		{at: 40 * time.Second, current: 5, recommended: 4, want: 5, able: "ScaleDownStabilized"},
		{at: 50 * time.Second, current: 5, recommended: 2, want: 5, able: "ScaleDownStabilized"},
		// ...and once the 5 has left the window, the highest
		// recommendation still within it (4 at t+40s) wins,
		{at: 85 * time.Second, current: 5, recommended: 2, want: 4, able: "ScaleDownStabilized"},
		// then, once everything in the window is low, the low value.
		{at: 105 * time.Second, current: 4, recommended: 2, want: 2, able: "ReadyForNewScale"},
		{at: 115 * time.Second, current: 2, recommended: 2, want: 2, able: "ReadyForNewScale"},
	})
}

func TestNormalizeBoundsAndRates(t *testing.T) {
	noWindow := BehaviorFor(nil, 0)
	t.Run("max", func(t *testing.T) {
		runSteps(t, noWindow, 1, 5, 4, []step{{at: time.Second, current: 4, recommended: 7, want: 5, limited: "TooManyReplicas"}})
	})
	t.Run("min", func(t *testing.T) {
		runSteps(t, noWindow, 2, 5, 4, []step{{at: time.Second, current: 4, recommended: 0, want: 2, limited: "TooFewReplicas"}})
	})
	t.Run("within range", func(t *testing.T) {
		runSteps(t, noWindow, 1, 10, 3, []step{{at: time.Second, current: 3, recommended: 6, want: 6}})
	})
	// Default scale up: by at most max(4 pods, 100%) per 15s.
	t.Run("scale up rate", func(t *testing.T) {
		runSteps(t, noWindow, 1, 100, 2, []step{
			{at: time.Second, current: 2, recommended: 40, want: 6, limited: "ScaleUpLimit"},
			// 4 added within the last 15s: from 2, at most 6 for now.
			{at: 6 * time.Second, current: 6, recommended: 40, want: 6, limited: "ScaleUpLimit"},
			{at: 17 * time.Second, current: 6, recommended: 40, want: 12, limited: "ScaleUpLimit"},
			{at: 33 * time.Second, current: 12, recommended: 40, want: 24, limited: "ScaleUpLimit"},
			{at: 49 * time.Second, current: 24, recommended: 40, want: 40},
		})
	})
	t.Run("policies from spec", func(t *testing.T) {
		spec := &autoscalingv2.HorizontalPodAutoscalerBehavior{
			ScaleUp: &autoscalingv2.HPAScalingRules{SelectPolicy: proto.String("Disabled")},
			ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: proto.Int32(0),
				Policies: []*autoscalingv2.HPAScalingPolicy{{Type: "Pods", Value: 1, PeriodSeconds: 60}}},
		}
		b := BehaviorFor(spec, time.Hour)
		if b.Down.Window != 0 || b.Up.Window != 0 || b.Down.SelectPolicy != "Max" {
			t.Fatalf("behavior %+v", b)
		}
		runSteps(t, b, 1, 10, 5, []step{
			{at: time.Second, current: 5, recommended: 9, want: 5, limited: "ScaleUpLimit"},
			{at: 2 * time.Second, current: 5, recommended: 1, want: 4, limited: "ScaleDownLimit"},
			{at: 30 * time.Second, current: 4, recommended: 1, want: 4, limited: "ScaleDownLimit"},
			{at: 63 * time.Second, current: 4, recommended: 1, want: 3, limited: "ScaleDownLimit"},
		})
	})
	t.Run("scale up window", func(t *testing.T) {
		b := BehaviorFor(&autoscalingv2.HorizontalPodAutoscalerBehavior{
			ScaleUp: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: proto.Int32(30)}}, 0)
		runSteps(t, b, 1, 10, 3, []step{
			{at: 10 * time.Second, current: 3, recommended: 6, want: 3, able: "ScaleUpStabilized"},
			// The initial 3 is still within the window.
			{at: 20 * time.Second, current: 3, recommended: 8, want: 3, able: "ScaleUpStabilized"},
			{at: 35 * time.Second, current: 3, recommended: 8, want: 6, able: "ScaleUpStabilized"},
			{at: 55 * time.Second, current: 6, recommended: 8, want: 8, able: "ReadyForNewScale"},
		})
	})
}

func TestDefaultBehavior(t *testing.T) {
	b := BehaviorFor(nil, 5*time.Minute)
	if b.Up.Window != 0 || b.Down.Window != 5*time.Minute || len(b.Up.Policies) != 2 || len(b.Down.Policies) != 1 ||
		b.Down.Policies[0] != (Policy{Type: "Percent", Value: 100, Period: 15 * time.Second}) {
		t.Fatalf("defaults: %+v", b)
	}
}

func TestFormatMilli(t *testing.T) {
	for _, tt := range []struct {
		v    int64
		res  string
		want string
	}{
		{200, "cpu", "200m"}, {2000, "cpu", "2000m"}, {104857600000, "memory", "104857600"},
		{20000000000, "memory", "20M"}, {1500, "memory", "1500m"}, {0, "memory", "0"},
	} {
		if got := formatMilli(tt.v, tt.res); got != tt.want {
			t.Errorf("formatMilli(%d, %s) = %s, want %s", tt.v, tt.res, got, tt.want)
		}
	}
}
