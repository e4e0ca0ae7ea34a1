package admission

import (
	"context"
	"strings"
	"testing"
	"time"

	_ "minik8s/api/all"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

func TestServiceAccountAdmission(t *testing.T) {
	no := false
	accounts := map[string]*corev1.ServiceAccount{
		"default": {Metadata: &metav1.ObjectMeta{Name: "default"}},
		"quiet":   {Metadata: &metav1.ObjectMeta{Name: "quiet"}, AutomountServiceAccountToken: &no},
	}
	p := ServiceAccount{Get: func(_ context.Context, _, name string) (*corev1.ServiceAccount, error) {
		if sa, ok := accounts[name]; ok {
			return sa, nil
		}
		return nil, apierrors.NewNotFound("serviceaccounts", name)
	}}
	podKind, _ := scheme.ByResource("pods")
	newPod := func(mutate func(*corev1.PodSpec)) *corev1.Pod {
		s := &corev1.PodSpec{InitContainers: []*corev1.Container{{Name: "init"}}, Containers: []*corev1.Container{{Name: "a"}, {Name: "b"}}}
		if mutate != nil {
			mutate(s)
		}
		return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: s}
	}
	for _, tc := range []struct {
		name    string
		pod     *corev1.Pod
		op, sub string
		sa      string
		mounted bool
	}{
		{"default account", newPod(nil), Create, "", "default", true},
		{"deprecated alias", newPod(func(s *corev1.PodSpec) { s.ServiceAccount = "quiet" }), Create, "", "quiet", false},
		{"pod opts out", newPod(func(s *corev1.PodSpec) { s.AutomountServiceAccountToken = &no }), Create, "", "default", false},
		{"account opts out", newPod(func(s *corev1.PodSpec) { s.ServiceAccountName = "quiet" }), Create, "", "quiet", false},
		{"own mount", newPod(func(s *corev1.PodSpec) {
			s.Containers[1].VolumeMounts = []*corev1.VolumeMount{{Name: "x", MountPath: ServiceAccountMount + "/"}}
		}), Create, "", "default", false},
		{"update untouched", newPod(nil), Update, "", "", false},
		{"status untouched", newPod(nil), Create, "status", "", false},
		{"mirror pod", func() *corev1.Pod {
			p := newPod(nil)
			p.Metadata.Annotations = map[string]string{MirrorPodAnnotation: "x"}
			return p
		}(), Create, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &Attributes{Operation: tc.op, Kind: podKind, Namespace: "ns", Name: "p", Subresource: tc.sub, Object: tc.pod}
			if err := p.Admit(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			spec := tc.pod.Spec
			if spec.ServiceAccountName != tc.sa {
				t.Errorf("serviceAccountName %q, want %q", spec.ServiceAccountName, tc.sa)
			}
			var vol *corev1.Volume
			for _, v := range spec.Volumes {
				if strings.HasPrefix(v.Name, APIAccessVolumePrefix) {
					vol = v
				}
			}
			if (vol != nil) != tc.mounted {
				t.Fatalf("volume %v, want mounted=%v", vol, tc.mounted)
			}
			if !tc.mounted {
				return
			}
			if len(vol.Name) != len(APIAccessVolumePrefix)+5 || len(vol.Projected.Sources) != 3 ||
				vol.Projected.Sources[0].ServiceAccountToken.GetExpirationSeconds() != 3607 ||
				vol.Projected.Sources[1].ConfigMap.GetName() != "kube-root-ca.crt" ||
				vol.Projected.Sources[2].DownwardAPI.Items[0].FieldRef.FieldPath != "metadata.namespace" {
				t.Errorf("volume %v", vol)
			}
			for _, c := range append(append([]*corev1.Container{}, spec.InitContainers...), spec.Containers...) {
				m := c.VolumeMounts[len(c.VolumeMounts)-1]
				if m.Name != vol.Name || m.MountPath != ServiceAccountMount || !m.ReadOnly {
					t.Errorf("container %s: mount %v", c.Name, m)
				}
			}
			// Admitting again adds nothing.
			n := len(spec.Volumes)
			_ = p.Admit(context.Background(), a)
			if len(spec.Volumes) != n {
				t.Error("second admission added another volume")
			}
		})
	}
}

func TestServiceAccountMissing(t *testing.T) {
	podKind, _ := scheme.ByResource("pods")
	for _, tc := range []struct {
		name, account string
		createAfter   int // lookups before "default" appears; 0 never
		wait          time.Duration
		wantErr       string
		wantLookups   int
	}{
		{name: "named account refused at once", account: "ghost", wait: time.Second,
			wantErr: `pods "p" is forbidden: error looking up service account ns/ghost: serviceaccount "ghost" not found`, wantLookups: 1},
		{name: "default waited for", account: "", createAfter: 3, wait: 5 * time.Second, wantLookups: 3},
		{name: "default never created", account: "", wait: 300 * time.Millisecond,
			wantErr: `pods "p" is forbidden: error looking up service account ns/default: serviceaccount "default" not found`},
		{name: "no tokens still checks", account: "ghost", wantErr: `serviceaccount "ghost" not found`, wantLookups: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookups := 0
			p := ServiceAccount{DefaultAccountWait: tc.wait, NoTokens: tc.name == "no tokens still checks",
				Get: func(_ context.Context, _, name string) (*corev1.ServiceAccount, error) {
					lookups++
					if name == DefaultServiceAccount && tc.createAfter > 0 && lookups >= tc.createAfter {
						return &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: name}}, nil
					}
					return nil, apierrors.NewNotFound("serviceaccounts", name)
				}}
			pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p"}, Spec: &corev1.PodSpec{ServiceAccountName: tc.account, Containers: []*corev1.Container{{Name: "a"}}}}
			err := p.Admit(context.Background(), &Attributes{Operation: Create, Kind: podKind, Namespace: "ns", Name: "p", Object: pod})
			if tc.wantErr == "" {
				if err != nil || len(pod.Spec.Volumes) != 1 {
					t.Fatalf("err %v, volumes %v", err, pod.Spec.Volumes)
				}
			} else if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if tc.wantLookups > 0 && lookups != tc.wantLookups {
				t.Errorf("%d lookups, want %d", lookups, tc.wantLookups)
			}
		})
	}
}
