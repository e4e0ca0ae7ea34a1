package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
)

// TestEventsStream: the events page's stream is a list and then a watch
// as the user: an event recorded, repeated and deleted while it is open
// arrives as reset, upsert, upsert and delete.
func TestEventsStream(t *testing.T) {
	e := start(t)
	e.createPod(t, "before")
	e.createEvent(t, "first", "Tested")
	viewer := e.login(t, viewerToken)

	if code, body := get(t, viewer, e.url+"/api/events/watch"); code != 403 || !strings.Contains(body, `User \"viewer\" cannot list resource \"events\"`) {
		t.Errorf("viewer's events of every namespace: %d %s, want the apiserver's Forbidden as JSON", code, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/events/watch?namespace="+ns, nil)
	resp, err := viewer.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("watch: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	events := readEvents(resp.Body)
	next := func(name, want string) sseEvent {
		t.Helper()
		for ev := range events {
			if ev.name == name && strings.Contains(ev.data, want) {
				return ev
			}
		}
		t.Fatalf("stream ended before a %s with %s", name, want)
		return sseEvent{}
	}
	if ev := next("reset", ""); !strings.Contains(ev.data, `"name":"first"`) || !strings.Contains(ev.data, `"reason":"Tested"`) || !strings.Contains(ev.data, `"object":"pod/before"`) {
		t.Fatalf("reset %s, want event first", ev.data)
	}
	e.createEvent(t, "second", "Appeared")
	next("upsert", `"name":"second"`)

	events2 := client.For[*corev1.Event](e.admin)
	ev, err := events2.Get(ctx, ns, "second")
	if err != nil {
		t.Fatal(err)
	}
	ev.Count = 2
	if _, err := events2.Update(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if got := next("upsert", `"name":"second"`); !strings.Contains(got.data, `"count":2`) {
		t.Errorf("repeat %s, want count 2", got.data)
	}
	if _, err := events2.Delete(ctx, ns, "second", nil); err != nil {
		t.Fatal(err)
	}
	next("delete", `"name":"second"`)
}

// TestPodEventsStream: a pod's detail names the field selector of its
// events (kind, name, namespace and uid, as kubectl describe), and the
// events stream with that selector carries the pod's events only, live.
func TestPodEventsStream(t *testing.T) {
	e := start(t)
	e.createPod(t, "before")
	e.createPod(t, "other")
	e.createEvent(t, "mine", "Tested")
	e.createEventAbout(t, "other", "theirs", "Tested")
	viewer := e.login(t, viewerToken)

	code, body := get(t, viewer, e.url+"/api/namespaces/"+ns+"/pods/before")
	var detail struct {
		EventSelector string `json:"eventSelector"`
		Events        struct {
			Items []eventName `json:"items"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(body), &detail); code != 200 || err != nil {
		t.Fatalf("pod detail: %d %v %s", code, err, body)
	}
	pod, err := client.For[*corev1.Pod](e.admin).Get(context.Background(), ns, "before")
	if err != nil {
		t.Fatal(err)
	}
	want := "involvedObject.kind=Pod,involvedObject.name=before,involvedObject.namespace=" + ns + ",involvedObject.uid=" + pod.GetMetadata().GetUid()
	if detail.EventSelector != want {
		t.Errorf("eventSelector %q, want %q", detail.EventSelector, want)
	}
	if len(detail.Events.Items) != 1 || detail.Events.Items[0].Name != "mine" {
		t.Errorf("detail events %+v, want only mine", detail.Events.Items)
	}

	t.Run("a bad selector is the apiserver's refusal", func(t *testing.T) {
		code, body := get(t, viewer, e.url+"/api/events/watch?namespace="+ns+"&fieldSelector=spec.bogus%3Dx")
		if code != 400 || !strings.Contains(body, "field label not supported: spec.bogus") {
			t.Errorf("got %d %s, want 400 field label not supported", code, body)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := url.Values{"namespace": {ns}, "fieldSelector": {detail.EventSelector}}
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/events/watch?"+q.Encode(), nil)
	resp, err := viewer.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("watch: %s", resp.Status)
	}
	events := readEvents(resp.Body)
	first, ok := <-events
	if !ok || first.name != "reset" || !strings.Contains(first.data, `"name":"mine"`) || strings.Contains(first.data, "theirs") {
		t.Fatalf("first %+v, want a reset with mine only", first)
	}
	// The other pod's event is recorded first: if the selector let it
	// through it would arrive before the pod's own.
	e.createEventAbout(t, "other", "theirs-later", "Other")
	e.createEvent(t, "mine-later", "Appeared")
	for ev := range events {
		if ev.name == "" {
			continue // a comment
		}
		if ev.name != "upsert" || !strings.Contains(ev.data, `"name":"mine-later"`) {
			t.Fatalf("got %s %s, want the upsert of mine-later only", ev.name, ev.data)
		}
		return
	}
	t.Fatal("stream ended before mine-later")
}

// eventName is the part of an EventRow the tests read.
type eventName struct {
	Name string `json:"name"`
}
