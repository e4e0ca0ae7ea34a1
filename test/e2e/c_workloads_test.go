package e2e

// Workload controllers end to end: a Job runs to completion, a
// StatefulSet's pods keep their names when replaced.

import (
	"fmt"
	"testing"
	"time"
)

// TestJobCompletes: a Job of two completions, one at a time, succeeds.
func TestJobCompletes(t *testing.T) {
	c := need(t)
	ns := c.namespace(t, "mk8s-e2e-job")
	c.apply(t, ns, `apiVersion: batch/v1
kind: Job
metadata:
  name: hello
spec:
  completions: 2
  parallelism: 1
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo hello from $(hostname)"]
`)
	eventually(t, 3*time.Minute, "job hello succeeded twice", func() string {
		succeeded, err := c.jsonpath(ns, "job", "hello", ".status.succeeded")
		if err != nil || succeeded != "2" {
			return fmt.Sprintf("succeeded %q %v", succeeded, err)
		}
		cond, _ := c.jsonpath(ns, "job", "hello", ".status.conditions[0].type")
		if cond != "Complete" {
			return "condition " + cond
		}
		return ""
	})
	pods := c.pods(t, ns, "job-name=hello")
	succeeded := 0
	for _, p := range pods {
		if p.phase == "Succeeded" {
			succeeded++
		}
	}
	if succeeded != 2 {
		t.Errorf("pods of the job: %+v", pods)
	}
}

// TestStatefulSetStableNames: pods are web-0 and web-1, and a deleted
// web-0 comes back under the same name.
func TestStatefulSetStableNames(t *testing.T) {
	c := need(t)
	ns := c.namespace(t, "mk8s-e2e-sts")
	c.apply(t, ns, `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector: {app: web}
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: ["sleep", "36000"]
`)
	pods := c.runningPods(t, ns, "app=web", 2, 3*time.Minute)
	names := map[string]bool{}
	for _, p := range pods {
		names[p.name] = true
	}
	if !names["web-0"] || !names["web-1"] {
		t.Fatalf("statefulset pods %+v, want web-0 and web-1", pods)
	}
	uid, _ := c.jsonpath(ns, "pod", "web-0", ".metadata.uid")
	c.mc(t, "-n", ns, "delete", "pod", "web-0")
	eventually(t, 2*time.Minute, "web-0 recreated", func() string {
		newUID, err := c.jsonpath(ns, "pod", "web-0", ".metadata.uid")
		if err != nil || newUID == "" || newUID == uid {
			return fmt.Sprintf("uid %q (old %s) %v", newUID, uid, err)
		}
		phase, _ := c.jsonpath(ns, "pod", "web-0", ".status.phase")
		if phase != "Running" {
			return "phase " + phase
		}
		return ""
	})
	host, err := c.exec(ns, "web-0", "hostname")
	if err != nil || host != "web-0\n" {
		t.Errorf("hostname in web-0: %q %v", host, err)
	}
}
