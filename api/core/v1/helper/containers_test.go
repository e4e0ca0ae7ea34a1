package helper

import (
	"maps"
	"slices"
	"testing"

	corev1 "minik8s/api/core/v1"
)

func TestPodResources(t *testing.T) {
	always := corev1.RestartPolicyAlways
	ctr := func(name, cpu string, sidecar bool) *corev1.Container {
		c := &corev1.Container{Name: name}
		if cpu != "" {
			c.Resources = &corev1.ResourceRequirements{Requests: map[string]string{"cpu": cpu}, Limits: map[string]string{"cpu": cpu}}
		}
		if sidecar {
			c.RestartPolicy = &always
		}
		return c
	}
	for _, tc := range []struct {
		name        string
		init, app   []*corev1.Container
		want        map[string]int64
		wantUnset   map[string]bool
		wantVisited []string
	}{
		{name: "sum of containers", app: []*corev1.Container{ctr("a", "100m", false), ctr("b", "250m", false)},
			want: map[string]int64{"cpu": 350}, wantUnset: map[string]bool{}, wantVisited: []string{"spec.containers[0]", "spec.containers[1]"}},
		{name: "a larger init container", init: []*corev1.Container{ctr("i", "2", false)}, app: []*corev1.Container{ctr("a", "1", false)},
			want: map[string]int64{"cpu": 2000}, wantUnset: map[string]bool{}, wantVisited: []string{"spec.initContainers[0]", "spec.containers[0]"}},
		{name: "sidecars run beside both", init: []*corev1.Container{ctr("s", "500m", true), ctr("i", "1", false)}, app: []*corev1.Container{ctr("a", "1", false)},
			want: map[string]int64{"cpu": 1500}, wantUnset: map[string]bool{},
			wantVisited: []string{"spec.initContainers[0]", "spec.initContainers[1]", "spec.containers[0]"}},
		{name: "a container without", app: []*corev1.Container{ctr("a", "1", false), ctr("b", "", false)},
			want: map[string]int64{"cpu": 1000}, wantUnset: map[string]bool{"cpu": true}, wantVisited: []string{"spec.containers[0]", "spec.containers[1]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &corev1.PodSpec{InitContainers: tc.init, Containers: tc.app}
			for _, limits := range []bool{false, true} {
				got, unset := PodResources(spec, limits)
				if !maps.Equal(got, tc.want) || !maps.Equal(unset, tc.wantUnset) {
					t.Errorf("limits=%v: %v unset %v, want %v unset %v", limits, got, unset, tc.want, tc.wantUnset)
				}
			}
			var visited []string
			VisitContainers(spec, func(_ *corev1.Container, path string) { visited = append(visited, path) })
			if !slices.Equal(visited, tc.wantVisited) {
				t.Errorf("visited %v, want %v", visited, tc.wantVisited)
			}
		})
	}
}
