package record_test

import (
	"context"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/record"
	"minik8s/test/apiservertest"
)

// TestAggregation: repeats of one event become one Event with a count; a
// different reason is another Event; both name their source.
func TestAggregation(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	c := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pod, err := client.For[*corev1.Pod](c).Create(ctx, &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "img"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := record.New(c, "default-scheduler", "node0")
	for i := 0; i < 3; i++ {
		r.Event(pod, record.Warning, "FailedScheduling", "0/1 nodes are available")
	}
	r.Eventf(pod, record.Normal, "Scheduled", "Successfully assigned %s/%s to %s", "default", "web", "node1")
	r.Stop()
	l, err := client.For[*corev1.Event](c).List(ctx, "default", client.ListOptions{FieldSelector: "involvedObject.name=web"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*corev1.Event{}
	for _, ev := range l.Items {
		got[ev.Reason] = ev
	}
	if len(l.Items) != 2 || got["FailedScheduling"].GetCount() != 3 || got["Scheduled"].GetCount() != 1 {
		t.Fatalf("events: %v", l.Items)
	}
	ev := got["Scheduled"]
	if ev.Source.GetComponent() != "default-scheduler" || ev.InvolvedObject.GetKind() != "Pod" || ev.InvolvedObject.GetUid() != pod.Metadata.Uid ||
		ev.Message != "Successfully assigned default/web to node1" || ev.Type != "Normal" {
		t.Fatalf("event: %v", ev)
	}
}

// TestEventAfterStop: a component shutting down may still record; the
// event is dropped, not a panic on a closed queue.
func TestEventAfterStop(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	c := s.Client(t)
	r := record.New(c, "test", "node0")
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "late", Namespace: "default"}}
	r.Stop()
	r.Event(pod, record.Normal, "Late", "after stop")
	r.Stop() // a second Stop is harmless too
}
