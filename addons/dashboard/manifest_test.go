package main

import (
	"io"
	"os"
	"strconv"
	"testing"

	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/codec"
	corev1 "minik8s/api/core/v1"
	networkingv1 "minik8s/api/networking/v1"
	"minik8s/deploy/images"

	_ "minik8s/api/all"
)

const manifest = "../../deploy/addons/dashboard.yaml"

// TestManifest decodes deploy/addons/dashboard.yaml with the project's
// strict codec and checks what the cluster relies on: the Service
// kubernetes-dashboard on NodePort 30090 reaching the app's port, the image
// deploy/images pushes, the probes on the health port, args this binary
// accepts, the Ingress at dashboard.minik8s.local, and least privilege: a
// service account and no role at all (the dashboard acts only with its
// users' tokens).
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
		sa      *corev1.ServiceAccount
		deploy  *appsv1.Deployment
		svc     *corev1.Service
		ingress *networkingv1.Ingress
	)
	for _, o := range objs {
		switch v := o.(type) {
		case *corev1.ServiceAccount:
			sa = v
		case *appsv1.Deployment:
			deploy = v
		case *corev1.Service:
			svc = v
		case *networkingv1.Ingress:
			ingress = v
		default:
			t.Fatalf("unexpected %s: the dashboard needs no rights of its own", o.GetKind())
		}
		if o.GetMetadata().GetNamespace() != "kube-system" {
			t.Errorf("%s %s not in kube-system", o.GetKind(), o.GetMetadata().GetName())
		}
	}
	if sa == nil || deploy == nil || svc == nil || ingress == nil {
		t.Fatalf("want a ServiceAccount, Deployment, Service and Ingress; got %d objects", len(objs))
	}
	if r := ingress.GetSpec().GetRules(); len(r) != 1 || r[0].GetHost() != "dashboard.minik8s.local" ||
		r[0].GetHttp().GetPaths()[0].GetBackend().GetService().GetName() != svc.GetMetadata().GetName() ||
		r[0].GetHttp().GetPaths()[0].GetBackend().GetService().GetPort().GetName() != svc.GetSpec().GetPorts()[0].GetName() {
		t.Errorf("ingress rules %v, want dashboard.minik8s.local to the service's http port", r)
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
	if want := images.DashboardRepo + ":" + images.DashboardVersion; c.GetImage() != want {
		t.Errorf("image %q, want %q as deploy/images pushes it", c.GetImage(), want)
	}
	fs, f := newFlags(io.Discard)
	if err := fs.Parse(c.GetArgs()); err != nil {
		t.Fatalf("args %q: %v", c.GetArgs(), err)
	}
	app, health, err := f.addrs()
	if err != nil {
		t.Fatal(err)
	}
	if f.client.Given() {
		t.Errorf("args %q name an apiserver: want the in-cluster config", c.GetArgs())
	}
	ports := map[string]*corev1.ContainerPort{}
	for _, p := range c.GetPorts() {
		ports[p.GetName()] = p
	}
	for name, addr := range map[string]string{"http": app, "health": health} {
		if p := ports[name]; p == nil || addr != ":"+strconv.Itoa(int(p.GetContainerPort())) {
			t.Errorf("%s address %q does not match the container port %v", name, addr, p)
		}
	}
	if p := c.GetReadinessProbe().GetHttpGet(); p.GetPath() != "/readyz" || p.GetPort().GetStrVal() != "health" {
		t.Errorf("readiness probe %v, want GET /readyz on the health port", p)
	}
	if svc.GetMetadata().GetName() != "kubernetes-dashboard" || svc.GetSpec().GetType() != "NodePort" {
		t.Errorf("service %s of type %s, want kubernetes-dashboard NodePort", svc.GetMetadata().GetName(), svc.GetSpec().GetType())
	}
	for k, v := range svc.GetSpec().GetSelector() {
		if labels[k] != v {
			t.Errorf("service selector %s=%s does not match the pod labels %v", k, v, labels)
		}
	}
	if ps := svc.GetSpec().GetPorts(); len(ps) != 1 || ps[0].GetNodePort() != 30090 || ps[0].GetTargetPort().GetStrVal() != "http" {
		t.Errorf("service ports %v, want NodePort 30090 to the http container port", ps)
	}
}
