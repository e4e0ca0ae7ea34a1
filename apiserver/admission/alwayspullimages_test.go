package admission

import (
	"context"
	"testing"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
)

func TestAlwaysPullImages(t *testing.T) {
	pod := func(policy string, images ...string) *corev1.Pod {
		p := testPod()
		for i, img := range images {
			c := &corev1.Container{Name: string(rune('a' + i)), Image: img, ImagePullPolicy: policy}
			if i == 0 {
				p.Spec.InitContainers = append(p.Spec.InitContainers, c)
				continue
			}
			p.Spec.Containers = append(p.Spec.Containers, c)
		}
		return p
	}
	for _, tc := range []struct {
		name       string
		pod, old   *corev1.Pod
		sub        string
		wantPolicy string // of every container after Admit
		wantErr    string // of Validate
	}{
		{name: "create forces Always", pod: pod("IfNotPresent", "busybox", "nginx", "redis"), wantPolicy: "Always"},
		{name: "create with no policy", pod: pod("", "busybox", "nginx"), wantPolicy: "Always"},
		{name: "update with a new image", pod: pod("Never", "busybox", "nginx:2"), old: pod("Never", "busybox", "nginx"), wantPolicy: "Always"},
		{name: "update without new images left alone", pod: pod("Never", "busybox", "nginx"), old: pod("Never", "busybox", "nginx"), wantPolicy: "Never"},
		{name: "update turning Always off refused", pod: pod("IfNotPresent", "busybox", "nginx"), old: pod("Always", "busybox", "nginx"),
			wantPolicy: "IfNotPresent",
			wantErr: `pods "x" is forbidden: spec.initContainers[0].imagePullPolicy: Unsupported value: "IfNotPresent": supported values: "Always", ` +
				`spec.containers[0].imagePullPolicy: Unsupported value: "IfNotPresent": supported values: "Always"`},
		{name: "status untouched", pod: pod("Never", "busybox"), sub: "status", wantPolicy: "Never"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := podAttrs(t, tc.pod, tc.old)
			a.Subresource = tc.sub
			p := AlwaysPullImages{}
			if err := p.Admit(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			for _, c := range append(append([]*corev1.Container{}, tc.pod.Spec.InitContainers...), tc.pod.Spec.Containers...) {
				if c.ImagePullPolicy != tc.wantPolicy {
					t.Errorf("container %s: policy %q, want %q", c.Name, c.ImagePullPolicy, tc.wantPolicy)
				}
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
	// Other kinds pass untouched.
	cmKind, _ := scheme.ByResource("configmaps")
	if err := (AlwaysPullImages{}).Validate(context.Background(), &Attributes{Operation: Create, Kind: cmKind, Object: &corev1.ConfigMap{}}); err != nil {
		t.Fatal(err)
	}
}
