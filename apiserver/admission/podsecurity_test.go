package admission

import (
	"context"
	"slices"
	"strings"
	"testing"

	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/warning"
)

// restrictedPod passes every check of the restricted level.
func restrictedPod() *corev1.Pod {
	no, yes := false, true
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "x", Namespace: "ns"}, Spec: &corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, SeccompProfile: &corev1.SeccompProfile{Type: "RuntimeDefault"}},
		Volumes:         []*corev1.Volume{{Name: "data", EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		Containers: []*corev1.Container{{Name: "c", Image: "nginx", SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: &no, Capabilities: &corev1.Capabilities{Drop: []string{"ALL"}, Add: []string{"NET_BIND_SERVICE"}}}}},
	}}
}

func TestEvaluatePodSecurity(t *testing.T) {
	yes, no, root := true, false, int64(0)
	sc := func(p *corev1.Pod) *corev1.SecurityContext { return p.Spec.Containers[0].SecurityContext }
	for _, tc := range []struct {
		name       string
		mutate     func(p *corev1.Pod)
		baseline   string // FormatViolations at baseline
		restricted string // and at restricted
	}{
		{name: "restricted pod", mutate: func(*corev1.Pod) {}},
		{name: "default pod", mutate: func(p *corev1.Pod) { p.Spec = &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c"}}} },
			restricted: `allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ` +
				`unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ` +
				`runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ` +
				`seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`},
		{name: "privileged", mutate: func(p *corev1.Pod) { sc(p).Privileged = &yes },
			baseline:   `privileged (container "c" must not set securityContext.privileged=true)`,
			restricted: `privileged (container "c" must not set securityContext.privileged=true)`},
		{name: "host namespaces", mutate: func(p *corev1.Pod) { p.Spec.HostNetwork, p.Spec.HostPID = true, true },
			baseline:   `host namespaces (hostNetwork=true, hostPID=true)`,
			restricted: `host namespaces (hostNetwork=true, hostPID=true)`},
		{name: "hostPath", mutate: func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, &corev1.Volume{Name: "root", HostPath: &corev1.HostPathVolumeSource{Path: "/"}})
		},
			baseline:   `hostPath volumes (volume "root")`,
			restricted: `restricted volume types (volume "root" uses restricted volume type "hostPath")`},
		{name: "host ports", mutate: func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, copyContainer(p.Spec.Containers[0], "d"))
			p.Spec.Containers[0].Ports = []*corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}, {ContainerPort: 443, HostPort: 8443}}
			p.Spec.Containers[1].Ports = []*corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
		},
			baseline:   `hostPort (containers "c", "d" use hostPorts 8080, 8443)`,
			restricted: `hostPort (containers "c", "d" use hostPorts 8080, 8443)`},
		{name: "capabilities", mutate: func(p *corev1.Pod) { sc(p).Capabilities = &corev1.Capabilities{Add: []string{"SYS_ADMIN", "CHOWN"}} },
			baseline: `non-default capabilities (container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add)`,
			restricted: `unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]; ` +
				`container "c" must not include "CHOWN", "SYS_ADMIN" in securityContext.capabilities.add)`},
		{name: "escalation and root", mutate: func(p *corev1.Pod) {
			sc(p).AllowPrivilegeEscalation = &yes
			sc(p).RunAsNonRoot = &no
			p.Spec.SecurityContext.RunAsUser = &root
		},
			restricted: `allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ` +
				`runAsNonRoot != true (container "c" must not set securityContext.runAsNonRoot=false), ` +
				`runAsUser=0 (pod must not set runAsUser=0)`},
		{name: "seccomp unconfined", mutate: func(p *corev1.Pod) { p.Spec.SecurityContext.SeccompProfile.Type = "Unconfined" },
			baseline:   `seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")`,
			restricted: `seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")`},
		{name: "procMount, selinux, sysctls", mutate: func(p *corev1.Pod) {
			pm := "Unmasked"
			sc(p).ProcMount = &pm
			sc(p).SeLinuxOptions = &corev1.SELinuxOptions{Type: "spc_t", User: "root"}
			p.Spec.SecurityContext.Sysctls = []*corev1.Sysctl{{Name: "net.ipv4.tcp_syncookies", Value: "1"}, {Name: "kernel.msgmax", Value: "1"}}
		},
			baseline: `procMount (container "c" must not set securityContext.procMount to "Unmasked"), ` +
				`seLinuxOptions (container "c" set forbidden securityContext.seLinuxOptions: type "spc_t"; user "root"), ` +
				`forbidden sysctls (kernel.msgmax)`,
			restricted: `procMount (container "c" must not set securityContext.procMount to "Unmasked"), ` +
				`seLinuxOptions (container "c" set forbidden securityContext.seLinuxOptions: type "spc_t"; user "root"), ` +
				`forbidden sysctls (kernel.msgmax)`},
		{name: "user namespace relaxes root checks", mutate: func(p *corev1.Pod) {
			p.Spec.HostUsers = &no
			p.Spec.SecurityContext.RunAsNonRoot = nil
			p.Spec.SecurityContext.RunAsUser = &root
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := restrictedPod()
			tc.mutate(p)
			if got := FormatViolations(EvaluatePodSecurity(LevelBaseline, p.Spec)); got != tc.baseline {
				t.Errorf("baseline:\n got %s\nwant %s", got, tc.baseline)
			}
			if got := FormatViolations(EvaluatePodSecurity(LevelRestricted, p.Spec)); got != tc.restricted {
				t.Errorf("restricted:\n got %s\nwant %s", got, tc.restricted)
			}
			if v := EvaluatePodSecurity(LevelPrivileged, p.Spec); v != nil {
				t.Errorf("privileged: %v", v)
			}
		})
	}
}

func copyContainer(c *corev1.Container, name string) *corev1.Container {
	return &corev1.Container{Name: name, Image: c.Image, SecurityContext: c.SecurityContext}
}

func TestPodSecurityAdmission(t *testing.T) {
	yes := true
	privileged := func() *corev1.Pod {
		p := restrictedPod()
		p.Spec.Containers[0].SecurityContext.Privileged = &yes
		return p
	}
	for _, tc := range []struct {
		name     string
		labels   map[string]string
		pod, old *corev1.Pod
		wantErr  string
		warnings []string
		audit    string
	}{
		{name: "no labels: privileged", pod: privileged()},
		{name: "enforce restricted", labels: map[string]string{EnforceLevelLabel: "restricted"}, pod: privileged(),
			wantErr: `pods "x" is forbidden: violates PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true)`},
		{name: "enforce baseline at a version", labels: map[string]string{EnforceLevelLabel: "baseline", EnforceVersionLabel: "v1.30"}, pod: privileged(),
			wantErr: `pods "x" is forbidden: violates PodSecurity "baseline:v1.30": privileged (container "c" must not set securityContext.privileged=true)`},
		{name: "enforce passes", labels: map[string]string{EnforceLevelLabel: "restricted"}, pod: restrictedPod()},
		{name: "warn and audit", labels: map[string]string{WarnLevelLabel: "baseline", AuditLevelLabel: "restricted"}, pod: privileged(),
			warnings: []string{`would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`},
			audit:    `would violate PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true)`},
		{name: "invalid enforce label fails closed", labels: map[string]string{EnforceLevelLabel: "strict"}, pod: privileged(),
			wantErr: `pods "x" is forbidden: violates PodSecurity "restricted:latest": privileged`},
		{name: "update without new images", labels: map[string]string{EnforceLevelLabel: "restricted"}, pod: privileged(), old: privileged()},
		{name: "update with a new image", labels: map[string]string{EnforceLevelLabel: "restricted"}, pod: privileged(),
			old:     func() *corev1.Pod { p := privileged(); p.Spec.Containers[0].Image = "nginx:old"; return p }(),
			wantErr: `violates PodSecurity "restricted:latest"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var audit string
			p := PodSecurity{
				Namespaces: func(_ context.Context, name string) (*corev1.Namespace, error) {
					return &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name, Labels: tc.labels}}, nil
				},
				Audit: func(_ context.Context, key, value string) {
					if key != AuditViolationsAnnotation {
						t.Errorf("audit key %q", key)
					}
					audit = value
				},
			}
			ctx, rec := warning.NewContext(context.Background())
			err := p.Validate(ctx, podAttrs(t, tc.pod, tc.old))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v\nwant %s", err, tc.wantErr)
			}
			if got := rec.Texts(); !slices.Equal(got, tc.warnings) {
				t.Errorf("warnings %q, want %q", got, tc.warnings)
			}
			if audit != tc.audit {
				t.Errorf("audit %q, want %q", audit, tc.audit)
			}
		})
	}
}

func TestPodSecurityNamespaceLabels(t *testing.T) {
	nsKind, _ := scheme.ByResource("namespaces")
	for _, tc := range []struct {
		labels  map[string]string
		wantErr string
	}{
		{labels: map[string]string{EnforceLevelLabel: "restricted", EnforceVersionLabel: "v1.31", WarnLevelLabel: "baseline", AuditVersionLabel: "latest"}},
		{labels: map[string]string{EnforceLevelLabel: "strict"},
			wantErr: `Namespace "team" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Unsupported value: "strict": supported values: "privileged", "baseline", "restricted"`},
		{labels: map[string]string{WarnVersionLabel: "1.30"},
			wantErr: `Namespace "team" is invalid: metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "1.30": must be "latest" or "v1.<minor>"`},
	} {
		t.Run(tc.wantErr, func(t *testing.T) {
			ns := &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team", Labels: tc.labels}}
			err := PodSecurity{}.Validate(context.Background(), &Attributes{Operation: Create, Kind: nsKind, Name: "team", Object: ns})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !apierrors.IsInvalid(err) || err.Error() != tc.wantErr {
				t.Fatalf("err %v\nwant %s", err, tc.wantErr)
			}
		})
	}
}

func TestPodSecurityWorkloadWarnings(t *testing.T) {
	depKind, _ := scheme.ByResource("deployments")
	yes := true
	tmpl := restrictedPod().Spec
	tmpl.Containers[0].SecurityContext.Privileged = &yes
	dep := &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: &appsv1.DeploymentSpec{Template: &corev1.PodTemplateSpec{Spec: tmpl}}}
	p := PodSecurity{Namespaces: func(_ context.Context, name string) (*corev1.Namespace, error) {
		return &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{
			EnforceLevelLabel: "restricted", WarnLevelLabel: "baseline"}}}, nil
	}}
	ctx, rec := warning.NewContext(context.Background())
	if err := p.Validate(ctx, &Attributes{Operation: Create, Kind: depKind, Namespace: "ns", Name: "web", Object: dep}); err != nil {
		t.Fatal(err)
	}
	const why = `privileged (container "c" must not set securityContext.privileged=true)`
	want := []string{`would violate PodSecurity "restricted:latest": ` + why, `would violate PodSecurity "baseline:latest": ` + why}
	if got := rec.Texts(); !slices.Equal(got, want) {
		t.Fatalf("warnings %q\nwant %q", got, want)
	}
}

func TestPodSecurityNamespaceUpdateWarnings(t *testing.T) {
	nsKind, _ := scheme.ByResource("namespaces")
	yes := true
	bad := restrictedPod()
	bad.Metadata.Name = "root"
	bad.Spec.Containers[0].SecurityContext.Privileged = &yes
	p := PodSecurity{Pods: func(_ context.Context, ns string) ([]*corev1.Pod, error) {
		return []*corev1.Pod{restrictedPod(), bad}, nil
	}}
	ns := func(labels map[string]string) *corev1.Namespace {
		return &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team", Labels: labels}}
	}
	for _, tc := range []struct {
		name     string
		old, new map[string]string
		want     []string
	}{
		{name: "tightened", new: map[string]string{EnforceLevelLabel: "baseline"}, want: []string{
			`existing pods in namespace "team" violate the new PodSecurity enforce level "baseline:latest"`, "root: privileged"}},
		{name: "unchanged", old: map[string]string{EnforceLevelLabel: "baseline"}, new: map[string]string{EnforceLevelLabel: "baseline", "x": "y"}},
		{name: "privileged", old: map[string]string{EnforceLevelLabel: "baseline"}, new: map[string]string{EnforceLevelLabel: "privileged"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, rec := warning.NewContext(context.Background())
			a := &Attributes{Operation: Update, Kind: nsKind, Name: "team", Object: ns(tc.new),
				OldObject: func(context.Context) (scheme.Object, error) { return ns(tc.old), nil }}
			if err := p.Validate(ctx, a); err != nil {
				t.Fatal(err)
			}
			if got := rec.Texts(); !slices.Equal(got, tc.want) {
				t.Fatalf("warnings %q\nwant %q", got, tc.want)
			}
		})
	}
}
