package core_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/fields"
	metav1 "minik8s/api/meta/v1"
	"minik8s/test/apiservertest"
)

// TestEventFieldSelectors: events are listed and watched by the
// involvedObject fields kubectl describe selects them by (kind, name,
// namespace, uid), so an earlier object of the same name does not lend
// its events to the new one; an unknown field is refused.
func TestEventFieldSelectors(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	events := client.For[*corev1.Event](s.Client(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	record := func(name, pod, uid string) {
		t.Helper()
		_, err := events.Create(ctx, &corev1.Event{
			Metadata:       &metav1.ObjectMeta{Namespace: "default", Name: name},
			InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: pod, Uid: uid},
			Reason:         "Tested", Message: name,
			Source: &corev1.EventSource{Component: "recorder-" + pod},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	describe := func(pod, uid string) string {
		return "involvedObject.kind=Pod,involvedObject.name=" + fields.Escape(pod) +
			",involvedObject.namespace=default,involvedObject.uid=" + fields.Escape(uid)
	}
	record("web.old", "web", "uid-old")
	record("web.new", "web", "uid-new")
	record("db.1", "db", "uid-db")

	for _, tc := range []struct {
		selector string
		want     string
	}{
		{describe("web", "uid-new"), "web.new"},
		{describe("web", "uid-old"), "web.old"},
		{"involvedObject.name=web", "web.new web.old"},
		{"involvedObject.namespace=default,involvedObject.name!=web", "db.1"},
		{"involvedObject.uid=uid-db", "db.1"},
		{describe("web", "uid-gone"), ""},
		// "source" is the reporting component, as in Kubernetes.
		{"source=recorder-db", "db.1"},
	} {
		t.Run(tc.selector, func(t *testing.T) {
			l, err := events.List(ctx, "default", client.ListOptions{FieldSelector: tc.selector})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range l.Items {
				got = append(got, e.GetMetadata().GetName())
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("got %q, want %q", g, tc.want)
			}
		})
	}

	t.Run("watch", func(t *testing.T) {
		l, err := events.List(ctx, "default", client.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := events.Watch(ctx, "default", client.ListOptions{FieldSelector: describe("web", "uid-new"), ResourceVersion: l.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		// The old pod's event comes first: a watch that let it through
		// would deliver it before the new pod's.
		record("web.old.2", "web", "uid-old")
		record("web.new.2", "web", "uid-new")
		select {
		case ev := <-w.ResultChan():
			if ev.Type != client.Added || ev.Object.GetMetadata().GetName() != "web.new.2" {
				t.Errorf("got %s %v, want ADDED web.new.2", ev.Type, ev.Object.GetMetadata().GetName())
			}
		case <-ctx.Done():
			t.Fatal("no event")
		}
	})

	t.Run("unknown field", func(t *testing.T) {
		_, err := events.List(ctx, "default", client.ListOptions{FieldSelector: "involvedObject.bogus=x"})
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "field label not supported: involvedObject.bogus") {
			t.Errorf("got %v, want BadRequest field label not supported", err)
		}
	})
}
