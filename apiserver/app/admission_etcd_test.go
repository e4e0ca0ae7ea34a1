package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/rpc"
	"minik8s/apiserver/server"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

// TestAdmissionPlugins runs the default plugins plus AlwaysPullImages in
// a real apiserver on etcd, through both fronts: LimitRange defaults and
// imagePullPolicy Always appear in a created pod, a missing service
// account, a privileged pod in a restricted namespace and an object in
// a Terminating namespace are refused with Kubernetes' reasons, the warn
// label gives a Warning header, and dryRun runs the chain but stores
// nothing.
func TestAdmissionPlugins(t *testing.T) {
	s := apiservertest.Start(t, etcdtest.Start(t, 1), apiservertest.Options{EnableAdmissionPlugins: "AlwaysPullImages,ServiceAccount"})
	c := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	namespace := func(name string, labels map[string]string) {
		t.Helper()
		if _, err := client.For[*corev1.Namespace](c).Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name, Labels: labels}}); err != nil {
			t.Fatal(err)
		}
		// What the service-account controller would make.
		if _, err := client.For[*corev1.ServiceAccount](c).Create(ctx, &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "default", Namespace: name}}); err != nil {
			t.Fatal(err)
		}
	}
	pods := client.For[*corev1.Pod](c)
	pod := func(ns, name string) *corev1.Pod {
		return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "nginx", ImagePullPolicy: "IfNotPresent"}}}}
	}

	namespace("adm-limits", nil)
	if _, err := client.For[*corev1.LimitRange](c).Create(ctx, &corev1.LimitRange{Metadata: &metav1.ObjectMeta{Name: "defaults", Namespace: "adm-limits"},
		Spec: &corev1.LimitRangeSpec{Limits: []*corev1.LimitRangeItem{{Type: "Container",
			Default: map[string]string{"cpu": "500m", "memory": "256Mi"}, DefaultRequest: map[string]string{"cpu": "100m", "memory": "128Mi"},
			Max: map[string]string{"cpu": "1"}}}}}); err != nil {
		t.Fatal(err)
	}
	t.Run("LimitRange defaults, Always, tolerations", func(t *testing.T) {
		got, err := pods.Create(ctx, pod("adm-limits", "web"))
		if err != nil {
			t.Fatal(err)
		}
		ctr := got.Spec.Containers[0]
		if r := ctr.GetResources(); r.GetRequests()["cpu"] != "100m" || r.GetRequests()["memory"] != "128Mi" ||
			r.GetLimits()["cpu"] != "500m" || r.GetLimits()["memory"] != "256Mi" {
			t.Errorf("resources %v", r)
		}
		if got.Metadata.Annotations["kubernetes.io/limit-ranger"] == "" {
			t.Errorf("annotations %v", got.Metadata.Annotations)
		}
		if ctr.ImagePullPolicy != "Always" {
			t.Errorf("imagePullPolicy %q", ctr.ImagePullPolicy)
		}
		if got.Spec.ServiceAccountName != "default" || len(got.Spec.Volumes) != 0 {
			t.Errorf("service account %q, volumes %v (no signing key: no token)", got.Spec.ServiceAccountName, got.Spec.Volumes)
		}
		var tols []string
		for _, tol := range got.Spec.Tolerations {
			tols = append(tols, tol.Key+"="+tol.Effect)
			if tol.GetTolerationSeconds() != 300 {
				t.Errorf("toleration %v", tol)
			}
		}
		if strings.Join(tols, ",") != "node.kubernetes.io/not-ready=NoExecute,node.kubernetes.io/unreachable=NoExecute" {
			t.Errorf("tolerations %v", tols)
		}
	})
	t.Run("LimitRange max", func(t *testing.T) {
		p := pod("adm-limits", "big")
		p.Spec.Containers[0].Resources = &corev1.ResourceRequirements{Limits: map[string]string{"cpu": "2"}}
		_, err := pods.Create(ctx, p)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2`) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("missing service account", func(t *testing.T) {
		p := pod("adm-limits", "ghostly")
		p.Spec.ServiceAccountName = "ghost"
		_, err := pods.Create(ctx, p)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(),
			`pods "ghostly" is forbidden: error looking up service account adm-limits/ghost: serviceaccount "ghost" not found`) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("restricted namespace", func(t *testing.T) {
		namespace("adm-restricted", map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
		p := pod("adm-restricted", "x")
		yes := true
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &yes}
		_, err := pods.Create(ctx, p)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(),
			`pods "x" is forbidden: violates PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true), allowPrivilegeEscalation != false`) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("Terminating namespace", func(t *testing.T) {
		namespace("adm-gone", nil)
		if _, err := client.For[*corev1.Namespace](c).Delete(ctx, "", "adm-gone", nil); err != nil {
			t.Fatal(err)
		}
		_, err := client.For[*corev1.ConfigMap](c).Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "late", Namespace: "adm-gone"}})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(),
			`configmaps "late" is forbidden: unable to create new content in namespace adm-gone because it is being terminated`) {
			t.Fatalf("err %v", err)
		}
	})

	// The REST front: Warning headers and dryRun.
	tc, err := mustConfig(t, s).TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	tc = tc.Clone()
	tc.NextProtos = nil // http/1.1: the REST front
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	post := func(path string, body any) (*http.Response, map[string]any) {
		t.Helper()
		data, _ := json.Marshal(body)
		resp, err := hc.Post("https://"+s.Addr+path, "application/json", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, raw)
		}
		return resp, out
	}
	podJSON := func(name string, privileged bool) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx",
				"securityContext": map[string]any{"privileged": privileged}}}}}
	}
	t.Run("warn label", func(t *testing.T) {
		namespace("adm-warn", map[string]string{"pod-security.kubernetes.io/warn": "baseline"})
		resp, _ := post("/api/v1/namespaces/adm-warn/pods", podJSON("loud", true))
		want := `299 - "would violate PodSecurity \"baseline:latest\": privileged (container \"c\" must not set securityContext.privileged=true)"`
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("Warning") != want {
			t.Fatalf("%d, Warning %q\nwant %q", resp.StatusCode, resp.Header.Get("Warning"), want)
		}
	})
	t.Run("warn label over gRPC", func(t *testing.T) {
		yes := true
		p := pod("adm-warn", "loud-grpc")
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &yes}
		raw, err := proto.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var md metadata.MD
		if _, err := c.RPC().Create(ctx, &rpc.CreateRequest{Resource: "pods", Namespace: "adm-warn", Object: &rpc.Object{Raw: raw}}, grpc.Header(&md)); err != nil {
			t.Fatal(err)
		}
		want := `would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`
		if got := md.Get(server.WarningHeader); len(got) != 1 || got[0] != want {
			t.Fatalf("warnings %q, want %q", got, want)
		}
	})
	t.Run("dryRun", func(t *testing.T) {
		resp, out := post("/api/v1/namespaces/adm-limits/pods?dryRun=All", podJSON("dry", false))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%d %v", resp.StatusCode, out)
		}
		ctr := out["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
		limits, _ := ctr["resources"].(map[string]any)["limits"].(map[string]any)
		if ctr["imagePullPolicy"] != "Always" || limits["cpu"] != "500m" {
			t.Errorf("dry-run pod not admitted: %v", ctr)
		}
		if _, err := pods.Get(ctx, "adm-limits", "dry"); !apierrors.IsNotFound(err) {
			t.Errorf("dry-run pod stored: %v", err)
		}
		// The chain refuses a dry run as it refuses a real one.
		p := podJSON("dry-ghost", false)
		p["spec"].(map[string]any)["serviceAccountName"] = "ghost"
		resp, out = post("/api/v1/namespaces/adm-limits/pods?dryRun=All", p)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(out["message"].(string), `serviceaccount "ghost" not found`) {
			t.Fatalf("%d %v", resp.StatusCode, out)
		}
	})
}

// TestKubectlRunInFreshNamespace: the real kubectl (skipped when not
// installed) runs a pod in a namespace whose "default" service account
// appears only a moment later, as the service-account controller makes
// it; ServiceAccount admission waits for it. kubectl prints the warn
// label's Warning header.
func TestKubectlRunInFreshNamespace(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	s := apiservertest.Start(t, etcdtest.Start(t, 1), apiservertest.Options{EnableAdmissionPlugins: "ServiceAccount"})
	c := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := client.For[*corev1.Namespace](c).Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "fresh",
		Labels: map[string]string{"pod-security.kubernetes.io/warn": "restricted"}}}); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(500 * time.Millisecond)
		_, _ = client.For[*corev1.ServiceAccount](c).Create(ctx, &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "default", Namespace: "fresh"}})
	}()
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig="+s.Kubeconfig, "--cache-dir="+dir, "-n", "fresh", "run", "web", "--image=nginx")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl run: %v\n%s", err, out)
	}
	for _, want := range []string{`Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false`, "pod/web created"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl output lacks %q:\n%s", want, out)
		}
	}
}

func mustConfig(t *testing.T, s *apiservertest.Server) *client.Config {
	t.Helper()
	cfg, err := client.ConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
