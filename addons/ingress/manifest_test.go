package main

import (
	"io"
	"os"
	"slices"
	"strconv"
	"testing"

	"minik8s/addons/ingress/routes"
	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/codec"
	corev1 "minik8s/api/core/v1"
	networkingv1 "minik8s/api/networking/v1"
	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/deploy/images"

	_ "minik8s/api/all"
)

const manifest = "../../deploy/addons/ingress.yaml"

// TestManifest decodes deploy/addons/ingress.yaml with the project's strict
// codec and checks what the cluster relies on: the default IngressClass of
// this controller, the NodePorts 30080/30443 reaching the pod's ports, the
// image deploy/images pushes, the probes, a service account bound to the
// role, and args this binary accepts.
func TestManifest(t *testing.T) {
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := codec.DecodeObjects(data)
	if err != nil {
		t.Fatalf("decode %s: %v", manifest, err)
	}
	var (
		class   *networkingv1.IngressClass
		sa      *corev1.ServiceAccount
		role    *rbacv1.ClusterRole
		binding *rbacv1.ClusterRoleBinding
		deploy  *appsv1.Deployment
		svc     *corev1.Service
	)
	for _, o := range objs {
		switch v := o.(type) {
		case *networkingv1.IngressClass:
			class = v
		case *corev1.ServiceAccount:
			sa = v
		case *rbacv1.ClusterRole:
			role = v
		case *rbacv1.ClusterRoleBinding:
			binding = v
		case *appsv1.Deployment:
			deploy = v
		case *corev1.Service:
			svc = v
		default:
			t.Fatalf("unexpected %s", o.GetKind())
		}
		if _, namespaced := map[string]bool{"ServiceAccount": true, "Deployment": true, "Service": true}[o.GetKind()]; namespaced && o.GetMetadata().GetNamespace() != "kube-system" {
			t.Errorf("%s %s not in kube-system", o.GetKind(), o.GetMetadata().GetName())
		}
	}
	if class == nil || sa == nil || role == nil || binding == nil || deploy == nil || svc == nil {
		t.Fatalf("want an IngressClass, ServiceAccount, ClusterRole, ClusterRoleBinding, Deployment and Service; got %d objects", len(objs))
	}
	if class.GetMetadata().GetName() != "minik8s" || class.GetSpec().GetController() != routes.ControllerName ||
		class.GetMetadata().GetAnnotations()[routes.DefaultClassAnnotation] != "true" {
		t.Errorf("ingress class %v: want minik8s, default, controller %s", class, routes.ControllerName)
	}
	if binding.GetRoleRef().GetName() != role.GetMetadata().GetName() || len(binding.GetSubjects()) != 1 ||
		binding.GetSubjects()[0].GetName() != sa.GetMetadata().GetName() || binding.GetSubjects()[0].GetNamespace() != "kube-system" {
		t.Errorf("binding %v does not bind %s to the service account", binding, role.GetMetadata().GetName())
	}
	// Least privilege: reads, and only ingresses/status is written.
	for _, r := range role.GetRules() {
		for _, v := range r.GetVerbs() {
			if v != "get" && v != "list" && v != "watch" && !slices.Equal(r.GetResources(), []string{"ingresses/status"}) {
				t.Errorf("rule %v grants %s", r, v)
			}
		}
	}

	pod := deploy.GetSpec().GetTemplate()
	labels := pod.GetMetadata().GetLabels()
	for k, v := range deploy.GetSpec().GetSelector().GetMatchLabels() {
		if labels[k] != v {
			t.Errorf("deployment selector %s=%s does not match the pod labels %v", k, v, labels)
		}
	}
	spec := pod.GetSpec()
	if spec.GetServiceAccountName() != sa.GetMetadata().GetName() {
		t.Errorf("serviceAccountName %q, want %q", spec.GetServiceAccountName(), sa.GetMetadata().GetName())
	}
	if len(spec.GetContainers()) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.GetContainers()))
	}
	c := spec.GetContainers()[0]
	if want := images.IngressRepo + ":" + images.IngressVersion; c.GetImage() != want {
		t.Errorf("image %q, want %q as deploy/images pushes it", c.GetImage(), want)
	}
	ports := map[string]*corev1.ContainerPort{}
	for _, p := range c.GetPorts() {
		ports[p.GetName()] = p
	}

	// The args must parse with this binary's flags, once the kubelet has
	// expanded $(HOST_IP).
	args := slices.Clone(c.GetArgs())
	for i, a := range args {
		if a == "--publish-addresses=$(HOST_IP)" {
			args[i] = "--publish-addresses=192.0.2.1"
		}
	}
	if c.GetEnv()[0].GetName() != "HOST_IP" || c.GetEnv()[0].GetValueFrom().GetFieldRef().GetFieldPath() != "status.hostIP" {
		t.Errorf("env %v: want HOST_IP from status.hostIP", c.GetEnv())
	}
	fs, f := newFlags(io.Discard)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("args %q: %v", args, err)
	}
	o, err := f.options()
	if err != nil {
		t.Fatalf("args %q: %v", args, err)
	}
	if o.Given() || !slices.Equal(o.PublishAddresses, []string{"192.0.2.1"}) {
		t.Errorf("options %+v: want the in-cluster config and the node's IP published", o)
	}
	for name, addr := range map[string]string{"http": o.HTTPAddr, "https": o.HTTPSAddr, "health": o.HealthAddr} {
		if p := ports[name]; p == nil || addr != ":"+itoa(p.GetContainerPort()) {
			t.Errorf("%s address %q does not match the container port %v", name, addr, p)
		}
	}
	if ports["http"].GetHostPort() != 80 || ports["https"].GetHostPort() != 443 {
		t.Errorf("hostPorts %d/%d, want 80/443", ports["http"].GetHostPort(), ports["https"].GetHostPort())
	}
	if p := c.GetReadinessProbe().GetHttpGet(); p.GetPath() != "/readyz" || p.GetPort().GetStrVal() != "health" {
		t.Errorf("readiness probe %v, want GET /readyz on the health port", p)
	}

	if svc.GetMetadata().GetName() != "ingress-controller" || svc.GetSpec().GetType() != "NodePort" {
		t.Errorf("service %s of type %s, want ingress-controller NodePort", svc.GetMetadata().GetName(), svc.GetSpec().GetType())
	}
	for k, v := range svc.GetSpec().GetSelector() {
		if labels[k] != v {
			t.Errorf("service selector %s=%s does not match the pod labels %v", k, v, labels)
		}
	}
	got := map[string]string{}
	for _, p := range svc.GetSpec().GetPorts() {
		got[p.GetName()] = itoa(p.GetNodePort()) + "->" + p.GetTargetPort().GetStrVal()
	}
	if got["http"] != "30080->http" || got["https"] != "30443->https" || len(got) != 2 {
		t.Errorf("service ports %v, want http 30080 and https 30443 to the named container ports", got)
	}
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }
