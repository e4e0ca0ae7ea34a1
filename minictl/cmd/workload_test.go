package cmd

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

func TestRunScaleSetImage(t *testing.T) {
	h := newHarness(t)
	out, errOut, code := h.run("", "run", "nginx", "--image=nginx", "--replicas=2", "--port=80")
	if code != 0 || out != "deployment.apps/nginx created\n" {
		t.Fatalf("run: code %d out %q err %q", code, out, errOut)
	}
	d := h.cluster.Get("deployments", "default", "nginx").(*appsv1.Deployment)
	c := d.Spec.Template.Spec.Containers[0]
	if d.Spec.GetReplicas() != 2 || c.Image != "nginx" || c.Ports[0].ContainerPort != 80 || d.Spec.Selector.MatchLabels["run"] != "nginx" || d.Spec.Template.Metadata.Labels["run"] != "nginx" {
		t.Fatalf("run created %v", d)
	}
	if out, _, code := h.run("", "run", "once", "--image=busybox", "--restart=Never", "--", "echo", "hi"); code != 0 || out != "pod/once created\n" {
		t.Fatalf("run --restart=Never: %d %q", code, out)
	}
	if p := h.cluster.Get("pods", "default", "once").(*corev1.Pod); strings.Join(p.Spec.Containers[0].Args, " ") != "echo hi" || p.Spec.RestartPolicy != "Never" {
		t.Fatalf("pod args %v", p.Spec.Containers[0].Args)
	}
	if out, _, code := h.run("", "run", "batch", "--image=busybox", "--restart=OnFailure"); code != 0 || out != "job.batch/batch created\n" {
		t.Fatalf("run --restart=OnFailure: %d %q", code, out)
	}

	if out, errOut, code := h.run("", "scale", "deployment/nginx", "--replicas=5"); code != 0 || out != "deployment.apps/nginx scaled\n" {
		t.Fatalf("scale: %d %q %q", code, out, errOut)
	}
	if d := h.cluster.Get("deployments", "default", "nginx").(*appsv1.Deployment); d.Spec.GetReplicas() != 5 {
		t.Fatalf("replicas after scale = %d", d.Spec.GetReplicas())
	}
	if _, errOut, code := h.run("", "scale", "deploy", "nginx", "--replicas=3", "--current-replicas=4"); code == 0 || !strings.Contains(errOut, "Expected replicas to be 4, was 5") {
		t.Fatalf("scale with a wrong precondition: %d %q", code, errOut)
	}
	if _, errOut, code := h.run("", "scale", "pod/once", "--replicas=3"); code == 0 || !strings.Contains(errOut, "cannot scale pods") {
		t.Fatalf("scaling a pod: %d %q", code, errOut)
	}
	if _, errOut, code := h.run("", "scale", "deployment/nginx"); code == 0 || !strings.Contains(errOut, "--replicas=COUNT") {
		t.Fatalf("scale without --replicas: %d %q", code, errOut)
	}

	if out, errOut, code := h.run("", "set", "image", "deployment/nginx", "nginx=nginx:1.25"); code != 0 || out != "deployment.apps/nginx image updated\n" {
		t.Fatalf("set image: %d %q %q", code, out, errOut)
	}
	if d := h.cluster.Get("deployments", "default", "nginx").(*appsv1.Deployment); d.Spec.Template.Spec.Containers[0].Image != "nginx:1.25" {
		t.Fatalf("image after set image = %s", d.Spec.Template.Spec.Containers[0].Image)
	}
	if _, errOut, code := h.run("", "set", "image", "deployment/nginx", "nope=x"); code == 0 || !strings.Contains(errOut, `unable to find container named "nope"`) {
		t.Fatalf("set image of a missing container: %d %q", code, errOut)
	}
}

func rsRevision(d *appsv1.Deployment, name, image, rev, cause string) *appsv1.ReplicaSet {
	ann := map[string]string{rolloutRevisionAnnotation: rev}
	if cause != "" {
		ann[rolloutChangeCauseAnnotation] = cause
	}
	tmpl := proto.Clone(d.Spec.Template).(*corev1.PodTemplateSpec)
	tmpl.Spec.Containers[0].Image = image
	tmpl.Metadata.Labels[rolloutHashLabel] = name
	return &appsv1.ReplicaSet{
		Metadata: &metav1.ObjectMeta{Name: "web-" + name, Namespace: "default", Annotations: ann,
			OwnerReferences: []*metav1.OwnerReference{{ApiVersion: "apps/v1", Kind: "Deployment", Name: "web", Uid: d.Metadata.Uid, Controller: proto.Bool(true)}}},
		Spec: &appsv1.ReplicaSetSpec{Template: tmpl},
	}
}

func TestRolloutHistoryUndoPauseStatus(t *testing.T) {
	h := newHarness(t)
	if _, _, code := h.run("", "run", "web", "--image=kubia:3"); code != 0 {
		t.Fatal("run failed")
	}
	d := h.cluster.Get("deployments", "default", "web").(*appsv1.Deployment)
	h.cluster.Add(rsRevision(d, "aaa", "kubia:1", "1", ""), rsRevision(d, "bbb", "kubia:2", "2", "set image kubia:2"), rsRevision(d, "ccc", "kubia:3", "3", ""))

	out, _, code := h.run("", "rollout", "history", "deployment/web")
	want := "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         set image kubia:2\n3         <none>\n\n"
	if code != 0 || out != want {
		t.Fatalf("history:\n%q\nwant\n%q", out, want)
	}
	out, _, code = h.run("", "rollout", "history", "deployment/web", "--revision=2")
	if code != 0 || !strings.Contains(out, "deployment.apps/web with revision #2") || !strings.Contains(out, "Image:\tkubia:2") {
		t.Fatalf("history --revision=2:\n%s", out)
	}

	// Undo goes to the previous revision (2), taking its change cause.
	out, errOut, code := h.run("", "rollout", "undo", "deployment/web")
	if code != 0 || out != "deployment.apps/web rolled back\n" {
		t.Fatalf("undo: %d %q %q", code, out, errOut)
	}
	d = h.cluster.Get("deployments", "default", "web").(*appsv1.Deployment)
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "kubia:2" || d.Metadata.Annotations[rolloutChangeCauseAnnotation] != "set image kubia:2" {
		t.Fatalf("after undo: image %s annotations %v", img, d.Metadata.Annotations)
	}
	if _, ok := d.Spec.Template.Metadata.Labels[rolloutHashLabel]; ok {
		t.Fatal("undo copied the pod-template-hash label into the deployment")
	}
	out, _, _ = h.run("", "rollout", "undo", "deployment/web", "--to-revision=2")
	if !strings.Contains(out, "skipped rollback (current template already matches revision 2)") {
		t.Fatalf("undo to the current template: %q", out)
	}
	if _, errOut, code := h.run("", "rollout", "undo", "deployment/web", "--to-revision=9"); code == 0 || !strings.Contains(errOut, "unable to find specified revision 9 in history") {
		t.Fatalf("undo to a missing revision: %q", errOut)
	}

	if out, _, code := h.run("", "rollout", "pause", "deployment/web"); code != 0 || out != "deployment.apps/web paused\n" {
		t.Fatalf("pause: %q", out)
	}
	if _, errOut, code := h.run("", "rollout", "pause", "deployment/web"); code == 0 || !strings.Contains(errOut, `deployments.apps "web" is already paused`) {
		t.Fatalf("pause twice: %q", errOut)
	}
	if _, errOut, code := h.run("", "rollout", "undo", "deployment/web"); code == 0 || !strings.Contains(errOut, "cannot rollback a paused deployment") {
		t.Fatalf("undo while paused: %q", errOut)
	}
	if out, _, code := h.run("", "rollout", "resume", "deployment/web"); code != 0 || out != "deployment.apps/web resumed\n" {
		t.Fatalf("resume: %q", out)
	}

	// Status without --watch reports once (the controller has observed
	// the current generation).
	d = h.cluster.Get("deployments", "default", "web").(*appsv1.Deployment)
	d.Status = &appsv1.DeploymentStatus{ObservedGeneration: d.Metadata.Generation}
	h.cluster.Put(d)
	out, _, code = h.run("", "rollout", "status", "deployment/web", "--watch=false")
	if code != 0 || out != "Waiting for deployment \"web\" rollout to finish: 0 out of 1 new replicas have been updated...\n" {
		t.Fatalf("status: %q", out)
	}
}

func TestRolloutStatusMessages(t *testing.T) {
	dep := func(gen, observed int64, replicas, updated, total, available int32, reason string) *appsv1.Deployment {
		d := &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Name: "web", Generation: gen},
			Spec:   &appsv1.DeploymentSpec{Replicas: proto.Int32(replicas)},
			Status: &appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated, Replicas: total, AvailableReplicas: available}}
		if reason != "" {
			d.Status.Conditions = []*appsv1.DeploymentCondition{{Type: "Progressing", Status: "False", Reason: reason}}
		}
		return d
	}
	for _, tt := range []struct {
		d    *appsv1.Deployment
		msg  string
		done bool
		err  string
	}{
		{dep(2, 1, 3, 3, 3, 3, ""), "Waiting for deployment spec update to be observed...\n", false, ""},
		{dep(2, 2, 10, 4, 12, 9, ""), "Waiting for deployment \"web\" rollout to finish: 4 out of 10 new replicas have been updated...\n", false, ""},
		{dep(2, 2, 10, 10, 12, 9, ""), "Waiting for deployment \"web\" rollout to finish: 2 old replicas are pending termination...\n", false, ""},
		{dep(2, 2, 10, 10, 10, 9, ""), "Waiting for deployment \"web\" rollout to finish: 9 of 10 updated replicas are available...\n", false, ""},
		{dep(2, 2, 10, 10, 10, 10, ""), "deployment \"web\" successfully rolled out\n", true, ""},
		{dep(2, 2, 10, 4, 10, 4, "ProgressDeadlineExceeded"), "", false, "exceeded its progress deadline"},
	} {
		msg, done, err := rolloutStatusOf(tt.d)
		if msg != tt.msg || done != tt.done || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("status of %v: %q %v %v", tt.d.Status, msg, done, err)
		}
	}
}
