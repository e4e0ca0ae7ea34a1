package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
)

// TestResourceQuotaAcrossAPIServers: 50 pods created at once, spread over
// every apiserver, against a quota of pods=10: exactly 10 exist, the
// others are refused naming the quota, and the quota controller reports
// used pods=10; deleting one lets exactly one more in. A cpu quota
// refuses a pod without a cpu request.
func TestResourceQuotaAcrossAPIServers(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)
	ns := c.kubectlNamespace(t, "quota")
	k.ok(t, "-n", ns, "create", "quota", "count", "--hard=pods=10")
	eventually(t, 60*time.Second, "the quota controller to set status.hard", func() string {
		out, _, _ := k.run("", "-n", ns, "get", "quota", "count", "-o", "jsonpath={.status.hard.pods}")
		if out != "10" {
			return "status.hard.pods = " + out
		}
		return ""
	})

	var clients []*client.Client
	for _, s := range strings.Split(c.servers, ",") {
		cfg, err := client.ConfigFromFlags(s, c.kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := client.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		clients = append(clients, cl)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: &corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr(int64(0)),
			Containers:                    []*corev1.Container{{Name: "main", Image: "busybox", Command: []string{"sleep", "3600"}}}}}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, refused := 0, 0
	var other []string
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := client.For[*corev1.Pod](clients[i%len(clients)]).Create(ctx, pod(fmt.Sprintf("p%d", i)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota: count, requested: pods=1, used: pods=10, limited: pods=10"):
				refused++
			default:
				other = append(other, err.Error())
			}
		}(i)
	}
	wg.Wait()
	if created != 10 || refused != 40 || len(other) > 0 {
		t.Fatalf("created %d, refused %d, other errors %v; want 10 and 40", created, refused, other)
	}
	list, err := client.For[*corev1.Pod](c.api).List(ctx, ns, client.ListOptions{})
	if err != nil || len(list.Items) != 10 {
		t.Fatalf("pods in %s: %d (%v), want 10", ns, len(list.Items), err)
	}
	eventually(t, 60*time.Second, "status.used pods=10", func() string {
		out, _, _ := k.run("", "-n", ns, "get", "quota", "count", "-o", "jsonpath={.status.used.pods}")
		if out != "10" {
			return "status.used.pods = " + out
		}
		return ""
	})
	if out := k.ok(t, "-n", ns, "describe", "quota", "count"); !regexp.MustCompile(`(?m)^pods\s+10\s+10$`).MatchString(out) {
		t.Errorf("kubectl describe quota: want pods used 10 of 10:\n%s", out)
	}

	// One deleted: exactly one more gets in, once the controller released it.
	k.ok(t, "-n", ns, "delete", "pod", list.Items[0].Metadata.Name, "--wait=true")
	eventually(t, 90*time.Second, "the deleted pod's usage released", func() string {
		_, err := client.For[*corev1.Pod](c.api).Create(ctx, pod("again"))
		if err != nil {
			return err.Error()
		}
		return ""
	})
	if _, err := client.For[*corev1.Pod](c.api).Create(ctx, pod("one-too-many")); !apierrors.IsForbidden(err) {
		t.Fatalf("an 11th pod: %v, want Forbidden", err)
	}

	// A cpu quota needs every pod to say how much cpu it requests.
	cpuNS := c.kubectlNamespace(t, "quota-cpu")
	k.ok(t, "-n", cpuNS, "create", "quota", "compute", "--hard=requests.cpu=1")
	eventually(t, 60*time.Second, "the cpu quota enforced", func() string {
		_, errOut, code := k.run("", "-n", cpuNS, "run", "nocpu", "--image=busybox", "--restart=Never", "--command", "--", "sleep", "1")
		if code == 0 {
			k.run("", "-n", cpuNS, "delete", "pod", "nocpu", "--wait=false")
			return "a pod without a cpu request was created"
		}
		if !strings.Contains(errOut, "failed quota: compute: must specify requests.cpu") {
			return errOut
		}
		return ""
	})
}

func ptr[T any](v T) *T { return &v }

// TestAuditLog: `make up` audits with deploy/audit/policy.yaml (in both
// control-plane modes); a user's
// request leaves exactly one ResponseComplete line with user, verb,
// resource and response code, in the log of the apiserver that served it.
func TestAuditLog(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)
	ns := c.kubectlNamespace(t, "audit")
	name := fmt.Sprintf("audited-%d", time.Now().UnixNano())
	k.ok(t, "-n", ns, "create", "configmap", name, "--from-literal=a=b")
	if _, _, code := k.run("", "-n", ns, "get", "configmap", name+"-missing"); code == 0 {
		t.Fatal("get of a missing config map succeeded")
	}
	// audit-N.log of the apiserver processes; audit/audit.log of the
	// static pod (hostPath logs/audit).
	dir := filepath.Join(filepath.Dir(c.kubeconfig), "logs")
	logs, err := filepath.Glob(filepath.Join(dir, "audit-*.log"))
	static, _ := filepath.Glob(filepath.Join(dir, "audit", "audit.log"))
	logs = append(logs, static...)
	if err != nil || len(logs) == 0 {
		t.Fatalf("no audit logs next to %s: %v", c.kubeconfig, err)
	}
	type line struct {
		Stage string `json:"stage"`
		Verb  string `json:"verb"`
		User  struct {
			Username string   `json:"username"`
			Groups   []string `json:"groups"`
		} `json:"user"`
		ObjectRef struct {
			Resource, Namespace, Name string
		} `json:"objectRef"`
		ResponseStatus struct {
			Code int `json:"code"`
		} `json:"responseStatus"`
	}
	eventually(t, 20*time.Second, "the create and the failed get in the audit logs", func() string {
		var found []line
		for _, f := range logs {
			data, err := os.ReadFile(f)
			if err != nil {
				return err.Error()
			}
			for _, l := range strings.Split(string(data), "\n") {
				if !strings.Contains(l, name) {
					continue
				}
				var e line
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					return fmt.Sprintf("%s: %v: %s", f, err, l)
				}
				if e.Stage == "ResponseComplete" && e.ObjectRef.Namespace == ns {
					found = append(found, e)
				}
			}
		}
		var create, get int
		for _, e := range found {
			if e.User.Username != "kubernetes-admin" || !slices.Contains(e.User.Groups, "system:masters") {
				return fmt.Sprintf("line with user %+v", e.User)
			}
			switch {
			case e.Verb == "create" && e.ObjectRef.Resource == "configmaps" && e.ObjectRef.Name == name && e.ResponseStatus.Code == 201:
				create++
			case e.Verb == "get" && e.ObjectRef.Name == name+"-missing" && e.ResponseStatus.Code == 404:
				get++
			}
		}
		if create != 1 || get != 1 {
			return fmt.Sprintf("%d create and %d get lines among %+v", create, get, found)
		}
		return ""
	})
}

// TestAdmissionPluginsOnMakeUp: the default admission plugins as a user
// meets them with kubectl: LimitRange defaults fill a pod's requests, a
// pod naming a missing service account is refused, and a namespace
// enforcing the restricted Pod Security level refuses a privileged pod.
func TestAdmissionPluginsOnMakeUp(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)
	ns := c.kubectlNamespace(t, "admission")
	c.apply(t, ns, `apiVersion: v1
kind: LimitRange
metadata: {name: defaults}
spec:
  limits:
  - type: Container
    default: {cpu: 200m, memory: 64Mi}
    defaultRequest: {cpu: 100m, memory: 32Mi}
`)
	attempt := 0
	eventually(t, 30*time.Second, "LimitRange defaults in a new pod", func() string {
		attempt++
		name := fmt.Sprintf("limited-%d", attempt)
		if _, errOut, code := k.run("", "-n", ns, "run", name, "--image=busybox", "--restart=Never", "--command", "--", "sleep", "3600"); code != 0 {
			return errOut
		}
		got, _, _ := k.run("", "-n", ns, "get", "pod", name, "-o", "jsonpath={.spec.containers[0].resources.requests.cpu}/{.spec.containers[0].resources.limits.memory}")
		if got != "100m/64Mi" {
			return "requests.cpu/limits.memory = " + got
		}
		return ""
	})

	_, errOut, code := k.run("", "-n", ns, "run", "nosa", "--image=busybox", "--restart=Never", "--overrides", `{"spec":{"serviceAccountName":"nobody"}}`)
	if want := fmt.Sprintf(`error looking up service account %s/nobody: serviceaccount "nobody" not found`, ns); code == 0 || !strings.Contains(errOut, want) {
		t.Errorf("a pod naming a missing service account: exit %d, stderr %q, want %q", code, errOut, want)
	}

	k.ok(t, "label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
	privileged := `apiVersion: v1
kind: Pod
metadata: {name: privileged}
spec:
  containers:
  - name: main
    image: busybox
    command: [sleep, "3600"]
    securityContext: {privileged: true}
`
	_, errOut, code = k.run(privileged, "-n", ns, "apply", "-f", "-")
	if code == 0 || !strings.Contains(errOut, `pods "privileged" is forbidden: violates PodSecurity "restricted:latest": privileged (container "main" must not set securityContext.privileged=true)`) {
		t.Errorf("a privileged pod in a restricted namespace: exit %d, stderr %q", code, errOut)
	}
}
