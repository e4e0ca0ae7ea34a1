package main

import (
	"io"
	"os"
	"strconv"
	"testing"

	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/codec"
	corev1 "minik8s/api/core/v1"
	"minik8s/deploy/images"

	_ "minik8s/api/all"
)

const manifest = "../../deploy/addons/dns.yaml"

// TestManifest decodes deploy/addons/dns.yaml with the project's strict
// codec and checks what the cluster relies on: the Service at 10.96.0.10
// with both DNS ports selecting the Deployment's pods, the image that
// deploy/images pushes, the readiness probe, and args this binary accepts.
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
		sa     *corev1.ServiceAccount
		deploy *appsv1.Deployment
		svc    *corev1.Service
	)
	for _, o := range objs {
		if ns := o.GetMetadata().GetNamespace(); ns != "kube-system" {
			t.Errorf("%s %s in namespace %q, want kube-system", o.GetKind(), o.GetMetadata().GetName(), ns)
		}
		switch v := o.(type) {
		case *corev1.ServiceAccount:
			sa = v
		case *appsv1.Deployment:
			deploy = v
		case *corev1.Service:
			svc = v
		default:
			t.Errorf("unexpected %s", o.GetKind())
		}
	}
	if sa == nil || deploy == nil || svc == nil {
		t.Fatalf("want a ServiceAccount, a Deployment and a Service; got %d objects", len(objs))
	}

	if deploy.GetMetadata().GetName() != "kube-dns" || deploy.GetSpec().GetReplicas() != 1 {
		t.Errorf("deployment %s with %d replicas, want kube-dns with 1", deploy.GetMetadata().GetName(), deploy.GetSpec().GetReplicas())
	}
	pod := deploy.GetSpec().GetTemplate()
	labels := pod.GetMetadata().GetLabels()
	if labels["k8s-app"] != "kube-dns" {
		t.Errorf("pod labels %v, want k8s-app=kube-dns", labels)
	}
	for k, v := range deploy.GetSpec().GetSelector().GetMatchLabels() {
		if labels[k] != v {
			t.Errorf("deployment selector %s=%s does not match the pod labels %v", k, v, labels)
		}
	}
	spec := pod.GetSpec()
	if spec.GetHostNetwork() || spec.GetDnsPolicy() != "Default" {
		t.Errorf("hostNetwork=%v dnsPolicy=%q, want the pod network and dnsPolicy Default", spec.GetHostNetwork(), spec.GetDnsPolicy())
	}
	if spec.GetServiceAccountName() != sa.GetMetadata().GetName() {
		t.Errorf("serviceAccountName %q, want %q", spec.GetServiceAccountName(), sa.GetMetadata().GetName())
	}
	if len(spec.GetContainers()) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.GetContainers()))
	}
	c := spec.GetContainers()[0]
	if want := images.DNSRepo + ":" + images.DNSVersion; c.GetImage() != want {
		t.Errorf("image %q, want %q as deploy/images pushes it", c.GetImage(), want)
	}
	ports := map[string]*corev1.ContainerPort{}
	for _, p := range c.GetPorts() {
		ports[p.GetName()] = p
	}

	// The args must parse with this binary's flags.
	fs, f := newFlags(io.Discard)
	if err := fs.Parse(c.GetArgs()); err != nil {
		t.Fatalf("args %q: %v", c.GetArgs(), err)
	}
	o, err := f.options()
	if err != nil {
		t.Fatalf("args %q: %v", c.GetArgs(), err)
	}
	if o.Server != "" || o.Kubeconfig != "" || o.Upstream != "" || o.ClusterDomain != "cluster.local" || o.Listen != ":53" {
		t.Errorf("options %+v: want the in-cluster config (no server, no kubeconfig), no upstream, cluster.local on :53", o)
	}
	if spec.GetServiceAccountName() != "kube-dns" {
		t.Errorf("serviceAccountName %q: the in-cluster config is the kube-dns service account's (bound to system:kube-dns)", spec.GetServiceAccountName())
	}
	if hp := ports["health"]; hp == nil || o.HealthAddr != ":"+itoa(hp.GetContainerPort()) {
		t.Errorf("health address %q does not match the container's health port %v", o.HealthAddr, hp)
	}
	probe := c.GetReadinessProbe().GetHttpGet()
	if probe.GetPath() != "/readyz" || probe.GetPort().GetStrVal() != "health" {
		t.Errorf("readiness probe %v, want GET /readyz on the health port", probe)
	}
	for _, want := range []struct {
		name, proto string
	}{{"dns", "UDP"}, {"dns-tcp", "TCP"}} {
		if p := ports[want.name]; p == nil || p.GetContainerPort() != 53 || p.GetProtocol() != want.proto {
			t.Errorf("container port %s = %v, want 53/%s", want.name, p, want.proto)
		}
	}

	if svc.GetMetadata().GetName() != "kube-dns" || svc.GetSpec().GetClusterIP() != "10.96.0.10" {
		t.Errorf("service %s at %s, want kube-dns at 10.96.0.10", svc.GetMetadata().GetName(), svc.GetSpec().GetClusterIP())
	}
	for k, v := range svc.GetSpec().GetSelector() {
		if labels[k] != v {
			t.Errorf("service selector %s=%s does not match the pod labels %v", k, v, labels)
		}
	}
	got := map[string]string{}
	for _, p := range svc.GetSpec().GetPorts() {
		got[p.GetName()] = itoa(p.GetPort()) + "/" + p.GetProtocol()
	}
	if got["dns"] != "53/UDP" || got["dns-tcp"] != "53/TCP" || len(got) != 2 {
		t.Errorf("service ports %v, want dns 53/UDP and dns-tcp 53/TCP", got)
	}
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }
