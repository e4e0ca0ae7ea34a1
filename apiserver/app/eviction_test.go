package app

import (
	"io"
	"net/http"
	"strings"
	"testing"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	policyv1 "minik8s/api/policy/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry/rest"
)

func readyPod(name string, phase string, ready bool) *corev1.Pod {
	st := "False"
	if ready {
		st = "True"
	}
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec:   &corev1.PodSpec{NodeName: "n1", Containers: []*corev1.Container{{Name: "main", Image: "x"}}},
		Status: &corev1.PodStatus{Phase: phase, Conditions: []*corev1.PodCondition{{Type: "Ready", Status: st}}}}
}

func TestEviction(t *testing.T) {
	st := testStore(t)
	for _, p := range []*corev1.Pod{
		readyPod("a", "Running", true), readyPod("b", "Running", true), readyPod("c", "Running", true),
		readyPod("sick", "Running", false), readyPod("new", "Pending", false),
	} {
		create(t, st, "pods", p)
	}
	other := readyPod("lonely", "Running", true)
	other.Metadata.Labels = map[string]string{"app": "other"}
	create(t, st, "pods", other)
	pdbKind, _ := scheme.ByResource("poddisruptionbudgets")
	pdb := create(t, st, "poddisruptionbudgets", &policyv1.PodDisruptionBudget{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &policyv1.PodDisruptionBudgetSpec{MinAvailable: &metav1.IntOrString{IntVal: 2},
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}).(*policyv1.PodDisruptionBudget)
	// The status the disruption controller computes for these pods: five
	// selected, three of them ready, two must stay.
	pdb.Status = &policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 1, ExpectedPods: 5, DesiredHealthy: 2, CurrentHealthy: 3,
		DisruptionsAllowed: 1, Conditions: []*metav1.Condition{{Type: "DisruptionAllowed", Status: "True", Reason: "SufficientPods"}}}
	if _, err := st.Update(t.Context(), pdbKind, "default", pdb, "status", rest.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	hs := restFront(t, st, nil)
	evict := func(pod, body string) (int, string) {
		t.Helper()
		if body == "" {
			body = `{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"` + pod + `","namespace":"default"}}`
		}
		resp, err := http.Post(hs.URL+"/api/v1/namespaces/default/pods/"+pod+"/eviction", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deleting := func(name string) bool {
		t.Helper()
		k, _ := scheme.ByResource("pods")
		obj, err := st.Get(t.Context(), k, "default", name)
		return err != nil || obj.GetMetadata().GetDeletionTimestamp() != nil
	}

	for _, step := range []struct {
		name, pod, body string
		code            int
		want            string
		gone            bool
	}{
		{"a pod without a budget goes", "lonely", "", 201, `"kind":"Eviction"`, true},
		{"dry run: nothing happens", "b", "", 201, "", false},
		{"the first of three healthy (min 2) goes", "a", "", 201, `"kind":"Eviction"`, true},
		{"the second would leave one: refused", "b", "", 429, `"reason":"TooManyRequests"`, false},
		{"the cause names the budget", "c", "", 429, `The disruption budget web needs 2 healthy pods and has 3 currently`, false},
		{"an unready pod goes while the budget is met", "sick", "", 201, "", true},
		{"a pending pod ignores budgets", "new", "", 201, "", true},
		{"the name must match", "b", `{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"x"}}`, 400, "does not match", false},
		{"a missing pod", "ghost", "", 404, `pods \"ghost\" not found`, false},
	} {
		t.Run(step.name, func(t *testing.T) {
			if step.name == "dry run: nothing happens" {
				resp, err := http.Post(hs.URL+"/api/v1/namespaces/default/pods/b/eviction?dryRun=All", "application/json",
					strings.NewReader(`{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"b"}}`))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 201 || deleting("b") {
					t.Fatalf("dry run: %d, deleting %v", resp.StatusCode, deleting("b"))
				}
				return
			}
			code, body := evict(step.pod, step.body)
			if code != step.code || !strings.Contains(body, step.want) {
				t.Fatalf("evict %s: %d %s; want %d with %q", step.pod, code, body, step.code, step.want)
			}
			if step.pod != "ghost" && deleting(step.pod) != step.gone {
				t.Errorf("pod %s deleting: %v, want %v", step.pod, deleting(step.pod), step.gone)
			}
		})
	}
	// The eviction spent the budget's disruption and recorded the pod.
	obj, err := st.Get(t.Context(), pdbKind, "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	s := obj.(*policyv1.PodDisruptionBudget).GetStatus()
	if s.GetDisruptionsAllowed() != 0 || s.GetDisruptedPods()["a"] == nil || len(s.GetDisruptedPods()) != 1 ||
		s.GetConditions()[0].GetStatus() != "False" || s.GetConditions()[0].GetReason() != "InsufficientPods" {
		t.Errorf("budget status: %v", s)
	}
	// Kubernetes shows the spent budget's zero.
	resp, err := http.Get(hs.URL + "/apis/policy/v1/namespaces/default/poddisruptionbudgets/web")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"disruptionsAllowed":0,"currentHealthy":3,"desiredHealthy":2,"expectedPods":5`) {
		t.Errorf("budget JSON lacks the zero disruptionsAllowed: %s", body)
	}
	// A budget whose spec changed since the controller computed its
	// status refuses until the controller catches up.
	changed := obj.(*policyv1.PodDisruptionBudget)
	changed.Spec.MinAvailable.IntVal = 1
	if _, err := st.Update(t.Context(), pdbKind, "default", changed, "", rest.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if code, body := evict("c", ""); code != 429 || !strings.Contains(body, "The disruption budget web is still being processed by the server.") {
		t.Errorf("evict with a stale budget status: %d %s", code, body)
	}
	// Discovery shows the subresource with its body's kind.
	resp, err = http.Get(hs.URL + "/api/v1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `{"name":"pods/eviction","singularName":"","namespaced":true,"group":"policy","version":"v1","kind":"Eviction","verbs":["create"]}`) {
		t.Errorf("/api/v1 lacks pods/eviction: %s", b)
	}
}
