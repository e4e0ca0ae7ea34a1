package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/workqueue"
	"minik8s/scheduler/framework"
)

func newPod(name string, prio int32) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name, Labels: map[string]string{"app": name}},
		Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "i"}}},
	}
	if prio != 0 {
		p.Spec.Priority = proto.Int32(prio)
	}
	return p
}

func newQueue() (*Queue, *workqueue.FakeClock) {
	clock := workqueue.NewFakeClock(time.Unix(1000, 0))
	return New(Config{Clock: clock}), clock
}

func pop(t *testing.T, q *Queue) *QueuedPodInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p, err := q.Pop(ctx)
	if err != nil {
		t.Fatalf("pop: %v", err)
	}
	return p
}

func wantPending(t *testing.T, q *Queue, active, backoff, unsched int) {
	t.Helper()
	a, b, u := q.Pending()
	if a != active || b != backoff || u != unsched {
		t.Fatalf("pending active/backoff/unschedulable = %d/%d/%d, want %d/%d/%d", a, b, u, active, backoff, unsched)
	}
}

var rejectedByResources = map[string]bool{framework.NodeResourcesFit: true}

func TestPriorityThenAge(t *testing.T) {
	q, clock := newQueue()
	q.Add(newPod("old-low", 0))
	clock.Step(time.Millisecond)
	q.Add(newPod("new-low", 0))
	q.Add(newPod("high", 100))
	for _, want := range []string{"high", "old-low", "new-low"} {
		if got := pop(t, q).Name; got != want {
			t.Fatalf("popped %s, want %s", got, want)
		}
	}
}

func TestAddIsIdempotent(t *testing.T) {
	q, _ := newQueue()
	p := newPod("a", 0)
	q.Add(p)
	q.Add(p)
	q.Update(p, p)
	wantPending(t, q, 1, 0, 0)
}

func TestUnschedulableWaitsForAHelpfulEvent(t *testing.T) {
	q, clock := newQueue()
	q.Add(newPod("a", 0))
	p := pop(t, q)
	q.AddUnschedulable(p, rejectedByResources)
	wantPending(t, q, 0, 0, 1)

	// Neither time nor unrelated events move it.
	clock.Step(time.Minute)
	q.FlushBackoffCompleted()
	if n := q.OnEvent(AssignedPodAdded()); n != 0 {
		t.Fatalf("AssignedPodAdd moved %d pods", n)
	}
	wantPending(t, q, 0, 0, 1)

	// A deleted pod frees resources: its back-off (1s) is over, so activeQ.
	if n := q.OnEvent(AssignedPodDeleted()); n != 1 {
		t.Fatalf("AssignedPodDelete moved %d pods", n)
	}
	wantPending(t, q, 1, 0, 0)
	if p := pop(t, q); p.Attempts != 2 {
		t.Fatalf("attempts %d", p.Attempts)
	}
}

func TestMovedPodsWaitOutTheirBackoff(t *testing.T) {
	q, clock := newQueue()
	q.Add(newPod("a", 0))
	for attempt := 1; attempt <= 5; attempt++ {
		p := pop(t, q)
		q.AddUnschedulable(p, rejectedByResources)
		q.OnEvent(NodeAdded())
		wantPending(t, q, 0, 1, 0)
		// Back-off is 1s, 2s, 4s, 8s, then capped at 10s.
		want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second}[attempt-1]
		clock.Step(want - time.Millisecond)
		q.FlushBackoffCompleted()
		wantPending(t, q, 0, 1, 0)
		clock.Step(time.Millisecond)
		q.FlushBackoffCompleted()
		wantPending(t, q, 1, 0, 0)
	}
}

func TestErrorsGoToBackoff(t *testing.T) {
	q, clock := newQueue()
	q.Add(newPod("a", 0))
	q.AddUnschedulable(pop(t, q), nil)
	wantPending(t, q, 0, 1, 0)
	clock.Step(time.Second)
	q.FlushBackoffCompleted()
	wantPending(t, q, 1, 0, 0)
}

func TestEventDuringCycleIsNotLost(t *testing.T) {
	q, _ := newQueue()
	q.Add(newPod("a", 0))
	p := pop(t, q)
	// A node appears while the pod is being scheduled against an older snapshot.
	q.OnEvent(NodeAdded())
	q.AddUnschedulable(p, rejectedByResources)
	wantPending(t, q, 0, 1, 0)

	// An unrelated event during the cycle does not count.
	q2, _ := newQueue()
	q2.Add(newPod("b", 0))
	p = pop(t, q2)
	q2.OnEvent(AssignedPodAdded())
	q2.AddUnschedulable(p, rejectedByResources)
	wantPending(t, q2, 0, 0, 1)
	if len(q2.events) != 0 {
		t.Fatalf("events kept with nothing in flight: %d", len(q2.events))
	}
}

func TestEventsPrunedWhenDone(t *testing.T) {
	q, _ := newQueue()
	q.Add(newPod("a", 0))
	p := pop(t, q)
	q.OnEvent(NodeAdded())
	q.OnEvent(NodeAdded())
	q.Done(p.ID())
	if len(q.events) != 0 {
		t.Fatalf("%d events kept", len(q.events))
	}
	q.OnEvent(NodeAdded())
	if len(q.events) != 0 {
		t.Fatal("event recorded with nothing in flight")
	}
}

func TestDeleteWhileInFlight(t *testing.T) {
	q, _ := newQueue()
	pod := newPod("a", 0)
	q.Add(pod)
	p := pop(t, q)
	q.Delete(pod)
	q.AddUnschedulable(p, rejectedByResources)
	wantPending(t, q, 0, 0, 0)
}

func TestUpdateWhileInFlight(t *testing.T) {
	q, _ := newQueue()
	pod := newPod("a", 0)
	q.Add(pod)
	p := pop(t, q)
	// A status-only update (our own condition write) changes nothing.
	st := proto.Clone(pod).(*corev1.Pod)
	st.Status = &corev1.PodStatus{Phase: "Pending"}
	q.Update(pod, st)
	q.AddUnschedulable(p, rejectedByResources)
	wantPending(t, q, 0, 0, 1)

	q2, _ := newQueue()
	q2.Add(pod)
	p = pop(t, q2)
	tol := proto.Clone(pod).(*corev1.Pod)
	tol.Spec.Tolerations = []*corev1.Toleration{{Key: "k", Operator: "Exists"}}
	q2.Update(pod, tol)
	q2.AddUnschedulable(p, map[string]bool{framework.TaintToleration: true})
	wantPending(t, q2, 0, 1, 0)
	if len(q2.backoff.items[0].Tolerations) != 1 {
		t.Fatal("requeued pod does not carry the update")
	}
}

func TestUpdateOfUnschedulablePod(t *testing.T) {
	q, clock := newQueue()
	pod := newPod("a", 0)
	q.Add(pod)
	q.AddUnschedulable(pop(t, q), rejectedByResources)
	st := proto.Clone(pod).(*corev1.Pod)
	st.Status = &corev1.PodStatus{Conditions: []*corev1.PodCondition{{Type: "PodScheduled", Status: "False"}}}
	q.Update(pod, st)
	wantPending(t, q, 0, 0, 1)
	relabeled := proto.Clone(st).(*corev1.Pod)
	relabeled.Metadata.Labels["x"] = "y"
	clock.Step(2 * time.Second)
	q.Update(st, relabeled)
	wantPending(t, q, 1, 0, 0)
}

func TestDeleteFromEveryQueue(t *testing.T) {
	q, _ := newQueue()
	a, b, c := newPod("a", 0), newPod("b", 0), newPod("c", 0)
	for _, p := range []*corev1.Pod{a, b, c} {
		q.Add(p)
	}
	q.AddUnschedulable(pop(t, q), rejectedByResources) // a
	q.AddUnschedulable(pop(t, q), nil)                 // b
	wantPending(t, q, 1, 1, 1)
	for _, p := range []*corev1.Pod{a, b, c} {
		q.Delete(p)
	}
	wantPending(t, q, 0, 0, 0)
}

func TestLeftoverFlush(t *testing.T) {
	q, clock := newQueue()
	q.Add(newPod("a", 0))
	q.AddUnschedulable(pop(t, q), rejectedByResources)
	clock.Step(DefaultMaxInUnschedulable)
	q.FlushUnschedulableLeftover()
	wantPending(t, q, 0, 0, 1)
	clock.Step(time.Second)
	q.FlushUnschedulableLeftover()
	wantPending(t, q, 1, 0, 0)
}

func TestPopBlocksUntilAddOrClose(t *testing.T) {
	q, _ := newQueue()
	got := make(chan string)
	go func() {
		p, err := q.Pop(context.Background())
		if err != nil {
			got <- err.Error()
			return
		}
		got <- p.Name
	}()
	q.Add(newPod("late", 0))
	if name := <-got; name != "late" {
		t.Fatalf("got %s", name)
	}
	go func() {
		_, err := q.Pop(context.Background())
		if errors.Is(err, ErrClosed) {
			got <- "closed"
		}
	}()
	q.Close()
	if s := <-got; s != "closed" {
		t.Fatalf("got %s", s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	q2, _ := newQueue()
	go func() {
		_, err := q2.Pop(ctx)
		got <- err.Error()
	}()
	cancel()
	if s := <-got; s != context.Canceled.Error() {
		t.Fatalf("got %s", s)
	}
}

func TestNodeUpdatedEvents(t *testing.T) {
	base := &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: "n", Labels: map[string]string{"a": "1"}},
		Spec:     &corev1.NodeSpec{},
		Status: &corev1.NodeStatus{Allocatable: map[string]string{"cpu": "1"},
			Conditions: []*corev1.NodeCondition{{Type: "Ready", Status: "True"}}},
	}
	edit := func(f func(n *corev1.Node)) *corev1.Node {
		n := proto.Clone(base).(*corev1.Node)
		f(n)
		return n
	}
	cases := []struct {
		name string
		cur  *corev1.Node
		want []string // nil: irrelevant
	}{
		{"heartbeat", edit(func(n *corev1.Node) { n.Status.Conditions[0].Reason = "KubeletReady" }), nil},
		{"label", edit(func(n *corev1.Node) { n.Metadata.Labels["b"] = "2" }), []string{framework.NodeAffinity, framework.InterPodAffinity}},
		{"taint", edit(func(n *corev1.Node) { n.Spec.Taints = []*corev1.Taint{{Key: "k", Effect: "NoSchedule"}} }), []string{framework.TaintToleration}},
		{"uncordon", edit(func(n *corev1.Node) { n.Spec.Unschedulable = true }), []string{framework.NodeUnschedulable}},
		{"allocatable", edit(func(n *corev1.Node) { n.Status.Allocatable["cpu"] = "2" }), []string{framework.NodeResourcesFit}},
		{"ready", edit(func(n *corev1.Node) { n.Status.Conditions[0].Status = "False" }), []string{framework.NodeReady}},
	}
	for _, tc := range cases {
		ev, ok := NodeUpdated(base, tc.cur)
		if tc.want == nil {
			if ok {
				t.Errorf("%s: relevant (%v), want irrelevant", tc.name, ev.Plugins)
			}
			continue
		}
		if !ok || len(ev.Plugins) != len(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, ev.Plugins, tc.want)
			continue
		}
		for _, p := range tc.want {
			if !ev.Plugins[p] {
				t.Errorf("%s: got %v, want %v", tc.name, ev.Plugins, tc.want)
			}
		}
	}
}

func TestAssignedPodUpdatedEvents(t *testing.T) {
	a := newPod("a", 0)
	b := proto.Clone(a).(*corev1.Pod)
	b.Status = &corev1.PodStatus{Phase: "Running"}
	if _, ok := AssignedPodUpdated(a, b); ok {
		t.Error("status change is relevant")
	}
	c := proto.Clone(a).(*corev1.Pod)
	c.Metadata.Labels["x"] = "y"
	if ev, ok := AssignedPodUpdated(a, c); !ok || !ev.Plugins[framework.InterPodAffinity] {
		t.Errorf("label change: %v %v", ev, ok)
	}
}
