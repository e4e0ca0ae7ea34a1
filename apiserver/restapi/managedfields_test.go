package restapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	k8serrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applyappsv1 "k8s.io/client-go/applyconfigurations/apps/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
	applymetav1 "k8s.io/client-go/applyconfigurations/meta/v1"

	"minik8s/apiserver/cache"
)

// entry finds the managedFields entry of manager with operation, or nil.
func entry(o obj, manager, operation string) obj {
	for _, m := range o.list("metadata.managedFields") {
		e := obj(m.(map[string]any))
		if e.str("manager") == manager && e.str("operation") == operation {
			return e
		}
	}
	return nil
}

// owns says whether the entry's fieldsV1 holds the path of f: keys
// ("f:spec", "f:replicas").
func owns(e obj, path ...string) bool {
	var cur any = map[string]any(e)
	cur = cur.(map[string]any)["fieldsV1"]
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[p]; !ok {
			return false
		}
	}
	return true
}

// TestManagedFieldsCreateUpdate: POST and PUT record their writer in
// managedFields (operation Update, manager from fieldManager or the
// User-Agent's first segment), so a server-side apply by another manager
// after a plain create shares the fields it sets to the same values, and
// conflicts - naming the Update manager - on a field that manager changed.
func TestManagedFieldsCreateUpdate(t *testing.T) {
	s := newServer(t, cache.Options{})
	const deploy = "/apis/apps/v1/namespaces/default/deployments"
	const kubectlUA = "User-Agent: kubectl/v1.37.2 (linux/amd64) kubernetes/abcdef0"

	created := s.mustDo(201, "POST", deploy, deploymentJSON, kubectlUA)
	e := entry(created, "kubectl", "Update")
	if e == nil {
		t.Fatalf("no Update entry of manager kubectl after create: %v", created.get("metadata.managedFields"))
	}
	if e.str("apiVersion") != "apps/v1" || e.str("fieldsType") != "FieldsV1" || e.str("time") == "" {
		t.Fatalf("create entry %v", e)
	}
	if !owns(e, "f:spec", "f:replicas") || !owns(e, "f:spec", "f:template", "f:spec", "f:containers", `k:{"name":"web"}`, "f:image") {
		t.Fatalf("creator does not own spec.replicas and the container image: %v", e.get("fieldsV1"))
	}
	if got := s.mustDo(200, "GET", deploy+"/web", ""); entry(got, "kubectl", "Update") == nil {
		t.Fatalf("stored object lacks the creator's entry: %v", got.get("metadata.managedFields"))
	}

	t.Run("fieldManager parameter names the creator", func(t *testing.T) {
		cm := s.mustDo(201, "POST", configMaps+"?fieldManager=maker", configMapJSON("made", map[string]string{"a": "b"}), kubectlUA)
		if entry(cm, "maker", "Update") == nil || entry(cm, "kubectl", "Update") != nil {
			t.Fatalf("managedFields %v, want only maker", cm.get("metadata.managedFields"))
		}
	})
	t.Run("dry run records but stores nothing", func(t *testing.T) {
		cm := s.mustDo(201, "POST", configMaps+"?dryRun=All&fieldManager=dry", configMapJSON("dry", nil))
		if entry(cm, "dry", "Update") == nil {
			t.Fatalf("dry-run answer lacks the entry: %v", cm.get("metadata.managedFields"))
		}
		s.mustDo(404, "GET", configMaps+"/dry", "")
	})

	const same = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n" +
		"  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n" +
		"    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n"
	applied := s.mustDo(200, "PATCH", deploy+"/web?fieldManager=applier", same, "Content-Type: application/apply-patch+yaml")
	if entry(applied, "applier", "Apply") == nil || entry(applied, "kubectl", "Update") == nil {
		t.Fatalf("after apply of the same values: %v", applied.get("metadata.managedFields"))
	}

	// An update by another writer changes replicas and takes them over.
	cur := s.mustDo(200, "GET", deploy+"/web", "")
	spec := cur["spec"].(map[string]any)
	spec["replicas"] = 4
	body, _ := json.Marshal(cur)
	updated := s.mustDo(200, "PUT", deploy+"/web?fieldManager=editor", string(body))
	ed := entry(updated, "editor", "Update")
	if ed == nil || !owns(ed, "f:spec", "f:replicas") {
		t.Fatalf("after update: %v", updated.get("metadata.managedFields"))
	}
	if a := entry(updated, "applier", "Apply"); a == nil || owns(a, "f:spec", "f:replicas") {
		t.Fatalf("applier still owns replicas after another writer changed them: %v", updated.get("metadata.managedFields"))
	}

	t.Run("apply of a field another manager changed conflicts", func(t *testing.T) {
		r := s.do("PATCH", deploy+"/web?fieldManager=applier", same, "Content-Type: application/apply-patch+yaml")
		st := wantStatus(t, r, 409, "Conflict", `Apply failed with 1 conflict: conflict with "editor" using apps/v1: .spec.replicas`)
		c := obj(st.list("details.causes")[0].(map[string]any))
		if c.str("reason") != "FieldManagerConflict" || c.str("field") != ".spec.replicas" {
			t.Fatalf("cause %v", c)
		}
	})
	t.Run("forced apply takes the field back", func(t *testing.T) {
		o := s.mustDo(200, "PATCH", deploy+"/web?fieldManager=applier&force=true", same, "Content-Type: application/apply-patch+yaml")
		if r, _ := o.get("spec.replicas").(float64); r != 1 {
			t.Fatalf("replicas %v", o.get("spec.replicas"))
		}
	})
	t.Run("status writes record the subresource", func(t *testing.T) {
		cur := s.mustDo(200, "GET", deploy+"/web", "")
		cur["status"] = map[string]any{"replicas": 1, "observedGeneration": 1}
		body, _ := json.Marshal(cur)
		o := s.mustDo(200, "PUT", deploy+"/web/status?fieldManager=controller", string(body))
		e := entry(o, "controller", "Update")
		if e == nil || e.str("subresource") != "status" || !owns(e, "f:status", "f:replicas") {
			t.Fatalf("status entry %v", o.get("metadata.managedFields"))
		}
	})
}

// TestClientGoApplyAfterCreate: with client-go, a typed create then an
// Apply of the same fields by another manager needs no Force; after a
// typed update changes the image, applying the old image is a Conflict.
func TestClientGoApplyAfterCreate(t *testing.T) {
	s := newServer(t, cache.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	deploys := clientset(t, s, false).AppsV1().Deployments("default")
	if _, err := deploys.Create(ctx, k8sDeployment("web", "nginx:1.25"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := deploys.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ManagedFields) != 1 || got.ManagedFields[0].Manager != "restapi-test" || got.ManagedFields[0].Operation != metav1.ManagedFieldsOperationUpdate {
		t.Fatalf("managedFields after create: %+v", got.ManagedFields)
	}

	apply := func(image string) error {
		cfg := applyappsv1.Deployment("web", "default").WithSpec(applyappsv1.DeploymentSpec().
			WithSelector(applymetav1.LabelSelector().WithMatchLabels(map[string]string{"app": "web"})).
			WithTemplate(applycorev1.PodTemplateSpec().WithLabels(map[string]string{"app": "web"}).
				WithSpec(applycorev1.PodSpec().WithContainers(applycorev1.Container().WithName("web").WithImage(image)))))
		_, err := deploys.Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: "applier"})
		return err
	}
	if err := apply("nginx:1.25"); err != nil {
		t.Fatalf("apply of the created values without force: %v", err)
	}

	got, err = deploys.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
	if _, err := deploys.Update(ctx, got, metav1.UpdateOptions{FieldManager: "editor"}); err != nil {
		t.Fatal(err)
	}
	err = apply("nginx:1.25")
	if !k8serrors.IsConflict(err) || !strings.Contains(err.Error(), `conflict with "editor"`) {
		t.Fatalf("apply over the editor's image: %v, want a Conflict naming editor", err)
	}
}

func k8sDeployment(name, image string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
			},
		},
	}
}

func ptr[T any](v T) *T { return &v }
