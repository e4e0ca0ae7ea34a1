package admission

import (
	"context"
	"maps"
	"testing"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
)

func TestLimitRanger(t *testing.T) {
	type rl = map[string]string
	container := &corev1.LimitRangeItem{Type: "Container",
		Default: rl{"cpu": "500m", "memory": "256Mi"}, DefaultRequest: rl{"cpu": "200m"},
		Min: rl{"cpu": "10m"}, Max: rl{"cpu": "1", "memory": "1Gi"}, MaxLimitRequestRatio: rl{"cpu": "4"}}
	podItem := &corev1.LimitRangeItem{Type: "Pod", Max: rl{"memory": "1Gi"}}
	maxOnly := &corev1.LimitRangeItem{Type: "Container", Max: rl{"cpu": "2"}}
	lr := func(name string, items ...*corev1.LimitRangeItem) *corev1.LimitRange {
		return &corev1.LimitRange{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "ns"}, Spec: &corev1.LimitRangeSpec{Limits: items}}
	}
	res := func(req, lim rl) *corev1.ResourceRequirements {
		return &corev1.ResourceRequirements{Requests: req, Limits: lim}
	}
	for _, tc := range []struct {
		name       string
		ranges     []*corev1.LimitRange
		containers []*corev1.Container
		want       []*corev1.ResourceRequirements // after Admit, per container
		annotation string
		wantErr    string
	}{
		{name: "no limit ranges", containers: []*corev1.Container{{Name: "c"}}, want: []*corev1.ResourceRequirements{nil}},
		{name: "defaults filled", ranges: []*corev1.LimitRange{lr("a", container)},
			containers: []*corev1.Container{{Name: "c"}},
			want:       []*corev1.ResourceRequirements{res(rl{"cpu": "200m", "memory": "256Mi"}, rl{"cpu": "500m", "memory": "256Mi"})},
			annotation: "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c"},
		{name: "own values kept; a limit is its request", ranges: []*corev1.LimitRange{lr("a", container)},
			containers: []*corev1.Container{{Name: "c", Resources: res(nil, rl{"cpu": "800m"})}},
			want:       []*corev1.ResourceRequirements{res(rl{"cpu": "800m", "memory": "256Mi"}, rl{"cpu": "800m", "memory": "256Mi"})},
			annotation: "LimitRanger plugin set: memory request for container c; memory limit for container c"},
		{name: "default from max", ranges: []*corev1.LimitRange{lr("a", maxOnly)},
			containers: []*corev1.Container{{Name: "c"}},
			want:       []*corev1.ResourceRequirements{res(rl{"cpu": "2"}, rl{"cpu": "2"})},
			annotation: "LimitRanger plugin set: cpu request for container c; cpu limit for container c"},
		{name: "over max", ranges: []*corev1.LimitRange{lr("a", container)},
			containers: []*corev1.Container{{Name: "c", Resources: res(rl{"cpu": "1"}, rl{"cpu": "2"})}},
			wantErr:    `pods "x" is forbidden: maximum cpu usage per Container is 1, but limit is 2`},
		{name: "under min", ranges: []*corev1.LimitRange{lr("a", container)},
			containers: []*corev1.Container{{Name: "c", Resources: res(rl{"cpu": "5m"}, rl{"cpu": "10m"})}},
			wantErr:    `pods "x" is forbidden: minimum cpu usage per Container is 10m, but request is 5m`},
		{name: "ratio", ranges: []*corev1.LimitRange{lr("a", container)},
			containers: []*corev1.Container{{Name: "c", Resources: res(rl{"cpu": "100m"}, rl{"cpu": "500m"})}},
			wantErr:    `pods "x" is forbidden: cpu max limit to request ratio per Container is 4, but provided ratio is 5.000000`},
		{name: "pod sum", ranges: []*corev1.LimitRange{lr("a", podItem)},
			containers: []*corev1.Container{{Name: "a", Resources: res(nil, rl{"memory": "768Mi"})}, {Name: "b", Resources: res(nil, rl{"memory": "512Mi"})}},
			want:       []*corev1.ResourceRequirements{res(rl{"memory": "768Mi"}, rl{"memory": "768Mi"}), res(rl{"memory": "512Mi"}, rl{"memory": "512Mi"})},
			wantErr:    `pods "x" is forbidden: maximum memory usage per Pod is 1Gi, but limit is 1280Mi`},
		{name: "several refusals", ranges: []*corev1.LimitRange{lr("a", container)},
			containers: []*corev1.Container{{Name: "a", Resources: res(rl{"cpu": "1"}, rl{"cpu": "2"})}, {Name: "b", Resources: res(rl{"cpu": "1m"}, rl{"cpu": "1m"})}},
			wantErr:    `pods "x" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, minimum cpu usage per Container is 10m, but request is 1m]`},
		{name: "pod without limit", ranges: []*corev1.LimitRange{lr("a", podItem)},
			containers: []*corev1.Container{{Name: "a"}},
			wantErr:    `pods "x" is forbidden: maximum memory usage per Pod is 1Gi.  No limit is specified`},
		{name: "two ranges, first by name wins", ranges: []*corev1.LimitRange{
			lr("b", &corev1.LimitRangeItem{Type: "Container", Default: rl{"cpu": "300m"}}),
			lr("a", &corev1.LimitRangeItem{Type: "Container", Default: rl{"cpu": "200m"}})},
			containers: []*corev1.Container{{Name: "c"}},
			want:       []*corev1.ResourceRequirements{res(rl{"cpu": "200m"}, rl{"cpu": "200m"})},
			annotation: "LimitRanger plugin set: cpu request for container c; cpu limit for container c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := LimitRanger{List: func(_ context.Context, ns string) ([]*corev1.LimitRange, error) {
				if ns != "ns" {
					t.Errorf("listed namespace %q", ns)
				}
				return append([]*corev1.LimitRange{}, tc.ranges...), nil
			}}
			pod := testPod(tc.containers...)
			a := podAttrs(t, pod, nil)
			if err := p.Admit(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.want {
				got := pod.Spec.Containers[i].Resources
				if w == nil {
					if got != nil {
						t.Errorf("container %d: resources %v, want none", i, got)
					}
					continue
				}
				if !maps.Equal(got.GetRequests(), w.Requests) || !maps.Equal(got.GetLimits(), w.Limits) {
					t.Errorf("container %d: resources %v, want %v", i, got, w)
				}
			}
			if got := pod.Metadata.Annotations[LimitRangerAnnotation]; got != tc.annotation && tc.wantErr == "" {
				t.Errorf("annotation %q, want %q", got, tc.annotation)
			}
			err := p.Validate(context.Background(), a)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !apierrors.IsForbidden(err) || err.Error() != tc.wantErr {
				t.Fatalf("err %v\nwant %s", err, tc.wantErr)
			}
		})
	}
}
